"""Prefect flows: the pipeline's table of contents (see pipeline.py)."""
