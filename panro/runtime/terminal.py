"""Terminal-safe text: every line panro prints goes through `safe` (issue 28).

A delivered file's name, a partner's column header or a reason quoting either is the partner's text:
it may hold ESC sequences (recolour, clear or retitle the operator's terminal), a carriage return
(overwrite what was printed), or a newline (forge a line of its own, e.g. a fake "held back:" line).
`safe` shows every such character as a visible escape (`\\x1b`, `\\n`, `\\r`, `\\u202e`), so one
printed line stays one line and says what was delivered. `say` prints through it.
"""

from __future__ import annotations

import sys
import unicodedata
from typing import TextIO

# C0 and C1 controls, DEL, and the Unicode format characters that reorder or hide text
# (bidirectional overrides, zero-width joiners, the BOM): shown, never obeyed.
_FORMAT = "Cf"


def _escaped(ch: str) -> str:
    code = ord(ch)
    if ch == "\n":
        return "\\n"
    if ch == "\r":
        return "\\r"
    if ch == "\t":
        return "\\t"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _unsafe(ch: str) -> bool:
    code = ord(ch)
    return code < 0x20 or 0x7F <= code < 0xA0 or unicodedata.category(ch) in (_FORMAT, "Zl", "Zp")


def safe(text: object) -> str:
    """`text` with every control or format character shown as an escape: one printed line, as sent."""
    s = str(text)
    if all(" " <= ch < "\x7f" for ch in s):   # the common case: plain ASCII, nothing to do
        return s
    return "".join(_escaped(ch) if _unsafe(ch) else ch for ch in s)


def say(*parts: object, file: TextIO | None = None, sep: str = " ") -> None:
    """print() one line, made terminal-safe (`safe`): a newline inside it is shown as `\\n`, never
    obeyed, so a delivered name cannot forge a line. Print several lines with one call each."""
    out = file if file is not None else sys.stdout
    out.write(safe(sep.join(str(p) for p in parts)) + "\n")


def say_text(text: str, file: TextIO | None = None) -> None:
    """A block panro built line by line (its own newlines kept), each line made terminal-safe."""
    for line in text.rstrip("\n").split("\n"):
        say(line, file=file)


def escape_logs() -> None:
    """From now on, every log record's message is terminal-safe (`safe`) whichever handler prints it
    (Python's, Prefect's console): a delivered name in a logged reason stays one inert line."""
    import logging

    make = logging.getLogRecordFactory()
    if getattr(make, "panro_safe", False):
        return

    def record(*args: object, **kwargs: object) -> logging.LogRecord:
        rec = make(*args, **kwargs)
        try:
            message = rec.getMessage()
        except Exception:
            return rec
        clean = safe(message)
        if clean != message:
            rec.msg, rec.args = clean, None
        return rec

    record.panro_safe = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(record)
