"""Who runs background work: a mark that outlives the process, so that work
cut short by a restart can be told from work still running elsewhere.

A mark is `<boot id>:<pid>:<start time>`: the start time (in clock ticks
since boot, from /proc) tells a process from a later one that reuses its PID.
"""

import os
from functools import cache
from pathlib import Path

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _boot() -> str:
    return _BOOT_ID.read_text().strip() if _BOOT_ID.exists() else "unknown"


def _started(pid: int) -> str:
    """A process's start time, '' if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


@cache
def _mark(pid: int) -> str:
    return f"{_boot()}:{pid}:{_started(pid)}"


def this_worker() -> str:
    """This process's mark."""
    return _mark(os.getpid())


def alive(worker: str | None) -> bool:
    """Whether the process that wrote `worker` is still running (same boot,
    same process, not a later one with its PID)."""
    boot, _, rest = (worker or "").partition(":")
    pid, _, started = rest.partition(":")
    if boot != _boot() or not pid.isdigit():
        return False
    now = _started(int(pid))
    return bool(now) and (not started or now == started)
