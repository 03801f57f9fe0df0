"""Everything the command line prints goes through here (issue 25), made terminal-safe (runtime.terminal).

- `out(text)`: results, on stdout (what a script reads);
- `note(text)`: what the command is doing, on stderr; silenced by `--quiet`;
- `warn(text)`: what an operator must see (held back, overdue, failures), on stderr, always;
- `fail(text)`: one sentence saying what went wrong and what to do, `panro: …` on stderr, always;
- `table(...)`: a table on stdout, drawn by rich (which measures Hangul as two columns).

`StageLines` is the run's progress listener (panro.runtime.progress): a line as each stage starts and ends,
and, when stderr is a terminal, a rich progress bar for extraction and the gate.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Sequence
from typing import Any

from panro.runtime.terminal import safe

QUIET, NORMAL, VERBOSE = 0, 1, 2
_level = NORMAL


def set_level(level: int) -> None:
    global _level
    _level = level


def level() -> int:
    return _level


def _stderr() -> Any:
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False, markup=False, emoji=False, soft_wrap=True)


_live: Any = None   # the rich Progress on screen, if any: lines are printed above it


def _emit(text: str, stream: Any, *, block: bool = False) -> None:
    # partners' text (file names, headers, reasons) may hold control characters: shown, never obeyed.
    # A message is one line: a newline inside it is shown as `\n` (a delivered name cannot forge a line);
    # only `out`, which prints blocks panro drew itself (tables, the demo's summary), keeps its newlines.
    text = "\n".join(safe(line) for line in text.split("\n")) if block else safe(text)
    if _live is not None and stream is sys.stderr:
        _live.console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)
    else:   # written, not print()ed: inside a flow run, Prefect's log_prints takes print() for its log
        stream.write(text + "\n")
        stream.flush()


def out(text: str = "") -> None:
    _emit(text, sys.stdout, block=True)


def note(text: str) -> None:
    if _level >= NORMAL:
        _emit(text, sys.stderr)


def warn(text: str) -> None:
    _emit(text, sys.stderr)


def fail(text: str) -> None:
    _emit(f"panro: {text}", sys.stderr)


def render_table(columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[object]], *, width: int = 1000) -> str:
    """A table as text: `columns` are (heading, "left" | "right"); cells are measured as a terminal shows
    them (rich's cell widths: Hangul and other wide characters take two columns)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, highlight=False)
    for heading, justify in columns:
        t.add_column(heading, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in rows:
        t.add_row(*(str(c) for c in row))
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None, highlight=False, markup=False, emoji=False,
            legacy_windows=False).print(t)
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines())


def table(columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[object]]) -> None:
    out(render_table(columns, rows))


class StageLines:
    """The run's progress on stderr: `extract: 12 feeds, 84 files …` as a stage starts, `extract: done —
    … (3.2 s)` as it ends; between the two, a bar when stderr is a terminal (never in a log file)."""

    def __init__(self, *, bar: bool | None = None) -> None:
        self.bar = sys.stderr.isatty() if bar is None else bar
        self._progress: Any = None
        self._task: Any = None
        self._t0 = time.perf_counter()

    def started(self, stage: str, detail: str, total: int | None) -> None:
        note(f"{stage}: {detail} …")
        if self.bar and total and _level >= NORMAL:
            self._open(stage, total)

    def advanced(self, stage: str, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done, total=total)

    def finished(self, stage: str, detail: str, seconds: float) -> None:
        self._close()
        from panro.runtime.progress import elapsed

        note(f"{stage}: {detail} ({elapsed(seconds)})")

    def _open(self, stage: str, total: int) -> None:
        global _live
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._close()
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=_stderr(), transient=True)
        self._task = self._progress.add_task(stage, total=total)
        self._progress.start()
        _live = self._progress

    def _close(self) -> None:
        global _live
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            _live = None

    def close(self) -> None:
        self._close()
