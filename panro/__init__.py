"""panro (판로): the nightly pipeline for the agency's online sales-channel programmes."""

__version__ = "0.1.0"
