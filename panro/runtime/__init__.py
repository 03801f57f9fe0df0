"""Running the pipeline: Prefect's task runners (`engines`), the run lock (`runlock`), notifications
(`notify`) and the test kill switch (`faults`)."""
