"""No process outlives a killed run (issue 28).

A run's process starts others: Prefect's temporary API server (when no PREFECT_API_URL is set), the
process pool's workers of a backfill, multiprocessing's resource tracker. Killed with SIGKILL (the
OOM killer, a scheduler's timeout, `kill -9`), the run cannot stop them; Prefect's server, for one,
would go on serving on its port for good. The pool's workers end themselves (panro.runtime.engines
`end_with_the_run`); everything else is ended by this guard: a small process the command line starts
first (`start`), which notes the run's descendants as they come and, once the run is gone however it
ended, kills those still alive (and members of the run's process group that init adopted).

Linux (`/proc`); elsewhere `start` does nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

POLL_SECONDS = 0.2
PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(parent pid, process group, start time) of a live process, from /proc/<pid>/stat."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()   # after "pid (comm) "
    if fields[0] == "Z":   # a zombie: already dead
        return None
    return int(fields[1]), int(fields[2]), int(fields[19])


def _processes() -> dict[int, tuple[int, int, int]]:
    found = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                found[int(entry.name)] = stat
    return found


def descendants(root: int, table: dict[int, tuple[int, int, int]]) -> dict[int, int]:
    """The descendants of `root` in `table`, each with its start time (to tell a reused pid apart)."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out: dict[int, int] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if pid not in out:
            out[pid] = table[pid][2]
            todo.extend(children.get(pid, []))
    return out


def watch(run_pid: int) -> int:
    """Note `run_pid`'s descendants until it is gone, then kill the ones still running. Returns how many."""
    me = os.getpid()
    first = _stat(run_pid)
    if first is None:
        return 0
    start, leads_group = first[2], first[1] == run_pid
    known: dict[int, int] = {}
    while True:
        stat = _stat(run_pid)
        if stat is None or stat[2] != start:
            break
        table = _processes()
        known.update({pid: t for pid, t in descendants(run_pid, table).items() if pid != me})
        known = {pid: t for pid, t in known.items() if pid in table}
        time.sleep(POLL_SECONDS)
    killed = 0
    table = _processes()
    for pid, (ppid, pgid, started) in table.items():
        # noted as the run's, or left behind in its process group and adopted by init (not, say, the
        # `tee` of `panro run | tee log`, which shares the group but is the shell's)
        ours = known.get(pid) == started or (leads_group and pgid == run_pid and ppid == 1)
        if ours and pid != me:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed


def start() -> subprocess.Popen[bytes] | None:
    """Start the guard of this process (the run): it ends by itself once this process has ended."""
    if not PROC.is_dir() or os.environ.get("PANRO_GUARD") == "off":
        return None
    return subprocess.Popen([sys.executable, "-m", "panro.runtime.guard", str(os.getpid())], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)


if __name__ == "__main__":  # pragma: no cover - run by `start`
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # Ctrl-C in the terminal is the run's to handle
    signal.signal(signal.SIGTERM, signal.SIG_IGN)   # ... and so is a SIGTERM sent to its group
    watch(int(sys.argv[1]))
