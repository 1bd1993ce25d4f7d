"""What instances under a directory left running: processes, mounts, and
what their networks and cgroups leave on the host.

A process belongs to them when its command line names the directory (init,
its `unshare` launcher) or its root is inside it (commands entered with
nsenter); a mount when any process's mount table names the directory. Each
instance the catalogs under the directory know has a host interface name
(`runtime.network.interface_name`): no interface, network namespace, nft
chain, link record or cgroup may carry it once its instance stopped.
"""

import os
import signal
import sqlite3
import subprocess
import time
from contextlib import suppress
from pathlib import Path

from amiable.runtime.layout import interface_name
from amiable.runtime.network import LINKS


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


def inits_of(directory: Path, config: Path) -> list[int]:
    """The host PIDs of the sandboxes' PID 1 started from `config` (the
    monitor forks init, so it shows the monitor's command line: init is the
    one that is PID 1 of its own PID namespace)."""
    found = []
    for pid, command in processes_under(directory).items():
        if command.endswith(str(config)):
            status = _text(f"/proc/{pid}/status")
            inner = [line.split()[-1] for line in status.splitlines() if line.startswith("NSpid:")]
            if inner == ["1"]:
                found.append(pid)
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


def instance_directories(directory: Path) -> list[Path]:
    """Every instance directory the catalogs under `directory` name (gone or not)."""
    found = []
    patterns = ("regions/*/catalog.db", "*/regions/*/catalog.db", "*/*/regions/*/catalog.db")
    for catalog in (c for pattern in patterns for c in directory.glob(pattern)):
        with suppress(sqlite3.Error), sqlite3.connect(catalog) as db:
            ids = [row[0] for row in db.execute("SELECT instance_id FROM instances")]
            found += [catalog.parent / "instances" / i for i in ids]
    return found


def network_leftovers(directory: Path) -> list[str]:
    """Host interfaces, namespaces, nft chains, link records and cgroups of
    the instances under `directory`."""
    names = {interface_name(d) for d in instance_directories(directory)}
    if not names:
        return []
    ruleset = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout
    cgroups = subprocess.run(
        ["find", "/sys/fs/cgroup", "-maxdepth", "4", "-name", "amiable-*"],
        capture_output=True,
        text=True,
    ).stdout.split()
    found = []
    for name in sorted(names):
        places = {
            "interface": Path(f"/sys/class/net/{name}").exists(),
            "network namespace": Path(f"/run/netns/{name}").exists(),
            "nft rules": name in ruleset,
            "link record": (LINKS / f"{name}.json").exists(),
            "cgroup": any(c.endswith(f"amiable-{name}") for c in cgroups),
        }
        found += [f"{what} {name}" for what, there in places.items() if there]
    return found


def leftovers(directory: Path, patience: float = 5.0) -> list[str]:
    """What is still running or mounted under `directory` after waiting up to
    `patience` seconds for work already under way; each leftover process is
    then killed, so one leak does not spill into the next test."""
    deadline = time.monotonic() + patience
    while True:
        processes, mounts = processes_under(directory), mounts_under(directory)
        network = network_leftovers(directory)
        if not (processes or mounts or network) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for pid in processes:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return [
        *(f"process {pid}: {command}" for pid, command in processes.items()),
        *(f"mount {mount}" for mount in sorted(mounts)),
        *network,
    ]
