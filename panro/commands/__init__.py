"""The parts of the `panro` command (panro/cli.py assembles them): `options` every command shares,
`running` a flow run and what it prints, `quarantine` the `panro quarantine` sub-commands."""
