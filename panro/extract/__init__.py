"""Extraction into the raw zone: landing files → raw batches (Parquet) + ledger (see extract.py)."""

from panro.extract.extract import extract, today_kst, with_lineage
from panro.extract.report import ExtractReport, FileResult

__all__ = ["ExtractReport", "FileResult", "extract", "today_kst", "with_lineage"]
