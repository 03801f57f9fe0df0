"""The one exception a reader raises for a file that cannot be decoded per its contract."""

from __future__ import annotations

from panro.domain.personal import mask


class BadFile(Exception):
    """The file breaks its contract. `detail` says where (line/row/column) and what was expected.

    A detail never quotes row contents of personal-data columns (대표자명, 연락처, …).
    """

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def show(value: object, pii: bool = False, limit: int = 40) -> str:
    """A value as it may appear in a reason: personal data is never shown, long text is cut."""
    if pii:
        return "(personal data, not shown)"
    text = repr(mask(value) if isinstance(value, str) else value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def over(limit: str, found: str, allowed: object) -> BadFile:
    """The reason a file is over a limit: which, how much, what is allowed, where to change it."""
    return BadFile(f"{found}, over the feed's limit of {allowed} (limits.{limit} in the contract); "
                   "the file was not read further")
