"""What instances under a directory left running: processes and mounts.

A process belongs to them when its command line names the directory (init,
its `unshare` launcher) or its root is inside it (commands entered with
nsenter); a mount when any process's mount table names the directory.
"""

import os
import signal
import time
from contextlib import suppress
from pathlib import Path


def _text(path: str) -> str:
    try:
        with open(path, "rb") as file:
            return file.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def processes_under(directory: Path) -> dict[int, str]:
    """PID -> command line of every process of instances under `directory`."""
    prefix, found = str(directory), {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        command = _text(f"/proc/{entry.name}/cmdline").strip()
        with suppress(OSError):
            if prefix in command or os.readlink(f"/proc/{entry.name}/root").startswith(prefix):
                found[int(entry.name)] = command
    return found


def mounts_under(directory: Path) -> set[str]:
    """Mount points under `directory` in any process's mount namespace."""
    prefix, found = str(directory), set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            for line in _text(f"/proc/{entry.name}/mountinfo").splitlines():
                fields = line.split()
                if len(fields) > 4 and fields[4].startswith(prefix):
                    found.add(fields[4])
    return found


def leftovers(directory: Path, patience: float = 5.0) -> list[str]:
    """What is still running or mounted under `directory` after waiting up to
    `patience` seconds for work already under way; each leftover process is
    then killed, so one leak does not spill into the next test."""
    deadline = time.monotonic() + patience
    while True:
        processes, mounts = processes_under(directory), mounts_under(directory)
        if not (processes or mounts) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for pid in processes:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return [f"process {pid}: {command}" for pid, command in processes.items()] + [
        f"mount {mount}" for mount in sorted(mounts)
    ]
