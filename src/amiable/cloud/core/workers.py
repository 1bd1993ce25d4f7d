"""Who runs background work: a mark that outlives the process, so that work
cut short by a restart can be told from work still running elsewhere."""

import os
from pathlib import Path

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def this_worker() -> str:
    """`<boot id>:<pid>` of this process."""
    boot = _BOOT_ID.read_text().strip() if _BOOT_ID.exists() else "unknown"
    return f"{boot}:{os.getpid()}"


def alive(worker: str | None) -> bool:
    """Whether the process that wrote `worker` is still running (same boot)."""
    if not worker or ":" not in worker:
        return False
    boot, pid = worker.rsplit(":", 1)
    if boot != this_worker().rsplit(":", 1)[0]:
        return False
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True
