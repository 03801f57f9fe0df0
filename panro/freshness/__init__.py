"""Whether every partner is still delivering: each feed's status (`status`), the alerts when one goes
quiet or recovers (`alerts`), and how the run reports it (`report`)."""
