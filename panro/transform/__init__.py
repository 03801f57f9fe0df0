"""dbt: building the marts from the published zone (`build`), and tracing a failing dbt test back to
the batches whose rows it found (`failures`)."""
