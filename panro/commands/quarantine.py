"""`panro quarantine`: list, show, release and hold the batches the gate held back (panro.quarantine)."""

from __future__ import annotations

import os

from cyclopts import App, Parameter

from panro.commands.options import EXIT_FAILED, EXIT_OK, UsageError, dirs
from panro.runtime import console

quarantine_app = App(name="quarantine", help="Batches the gate held back: list, show, release, hold.",
                     default_parameter=Parameter(negative=()), help_on_error=False)


@quarantine_app.command(name="list")
def quarantine_list() -> int:
    """What is held back, and why."""
    from panro import quarantine

    return quarantine.cli_list(dirs())


@quarantine_app.command(name="show")
def quarantine_show(id: str, /) -> int:
    """One held batch in detail."""
    from panro import quarantine

    return quarantine.cli_show(dirs(), id)


@quarantine_app.command(name="release")
def quarantine_release(id: str, /, *, accept: bool = False, reason: str = "",
                       by: str = os.environ.get("USER", "unknown")) -> int:
    """Put a held batch through again.

    Parameters
    ----------
    accept
        publish it as it is (needs --reason), instead of re-auditing it
    reason
        why it is released (recorded)
    by
        who releases it (recorded)
    """
    from panro import quarantine

    if accept and not reason.strip():
        console.fail("--accept needs --reason (it is recorded with who released it)")
        return EXIT_FAILED
    code = quarantine.cli_release(dirs(), id, accept=accept, reason=reason, who=by)
    if code == EXIT_OK:
        console.out("it reaches the marts with the next run (`panro run`)")
    return code


@quarantine_app.command(name="hold")
def quarantine_hold(*batch: str, reason: str, by: str = os.environ.get("USER", "unknown")) -> int:
    """Take published batches out (e.g. the ones a failing dbt test names) and hold them.

    Parameters
    ----------
    batch
        batch ids (partner/feed/file@checksum12), as a failure names them
    reason
        why they are held (recorded)
    by
        who holds them (recorded)
    """
    from panro import quarantine

    if not batch:
        raise UsageError("name at least one batch to hold")
    return quarantine.cli_hold(dirs(), list(batch), reason=reason, who=by)

