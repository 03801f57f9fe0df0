"""The zones' bookkeeping: batches (one version of one delivered file) and the ledger that records
every batch's state from extraction to publication."""
