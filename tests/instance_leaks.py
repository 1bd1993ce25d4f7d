"""What instances under a directory left running: processes, mounts, and
what their networks and cgroups leave on the host.

A process belongs to them when its command line names the directory, its
working directory or root is inside it (a sandbox's monitor) or its mount
namespace's mounts name it (a sandbox's root is an overlay of the
directory's layers); a mount when any process's mount table names the
directory. Each instance the catalogs under
the directory know has a host interface name
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
    ours = os.readlink("/proc/self/ns/mnt")
    naming: dict[str, bool] = {}  # mount namespace -> whether its mounts name the directory
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        command = _text(f"/proc/{entry.name}/cmdline").strip()
        with suppress(OSError):
            places = [os.readlink(f"/proc/{entry.name}/{link}") for link in ("cwd", "root")]
            namespace = os.readlink(f"/proc/{entry.name}/ns/mnt")
            if namespace != ours and namespace not in naming:
                naming[namespace] = prefix in _text(f"/proc/{entry.name}/mountinfo")
            if (
                prefix in command
                or any(place.startswith(prefix) for place in places)
                or naming.get(namespace, False)
            ):
                found[int(entry.name)] = command
    return found


def inits_of(sandbox: Path) -> list[int]:
    """The host PIDs of the PID 1 of the sandbox in `sandbox` (a directory):
    a process of it (`processes_under`) that is PID 1 of its own PID namespace."""
    found = []
    for pid in processes_under(sandbox):
        status = _text(f"/proc/{pid}/status")
        inner = [line.split()[-1] for line in status.splitlines() if line.startswith("NSpid:")]
        if inner == ["1"]:
            found.append(pid)
    return found


def mounts_under(directory: Path) -> set[str]:
    """Mounts of `directory` in any process's mount namespace: under it, or
    made of it (an overlay of its layers, wherever it is mounted)."""
    prefix, found = str(directory), set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            for line in _text(f"/proc/{entry.name}/mountinfo").splitlines():
                fields = line.split()
                if len(fields) > 4 and fields[4].startswith(prefix):
                    found.add(fields[4])
                elif prefix in line.partition(" - ")[2]:
                    found.add(f"{fields[4]} of process {entry.name}")
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
