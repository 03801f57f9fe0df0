"""Extraction into the raw zone: landing files → raw batches (Parquet) + ledger.

`extract.py` runs it: `planning.py` selects the files, `segments.py` decodes and writes them.
"""

from panro.extract.extract import extract
from panro.extract.report import ExtractReport, FileResult
from panro.extract.segments import with_lineage

__all__ = ["ExtractReport", "FileResult", "extract", "with_lineage"]
