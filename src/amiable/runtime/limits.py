"""A sandbox's cgroups: its own, below the cgroups of the process that starts
it, in the unified (v2) hierarchy — the root of its cgroup namespace, which
systemd inside manages — and, for its CPU and memory limits, where the host
keeps those controllers: the same directory on a unified host (`cpu.max`,
`memory.max`), the `cpu` and `memory` hierarchies on a legacy or hybrid one.

The sandbox's first process joins them before it runs anything (`enter`, as a
`preexec_fn`), so everything it starts is inside. A limit the host cannot give
(no such controller, not delegated) is reported on the console, never
silently ignored.
"""

import os
import sys
from collections.abc import Callable
from pathlib import Path

from .layout import interface_name

ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


def _unified_root() -> Path | None:
    for root in (ROOT, ROOT / "unified"):
        if (root / "cgroup.procs").exists() and (root / "cgroup.subtree_control").exists():
            return root
    return None


def _own(hierarchy: str) -> str:
    """This process's cgroup in a hierarchy ('' for the unified one), from /proc."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        number, controllers, path = line.split(":", 2)
        if (hierarchy == "" and number == "0") or hierarchy in controllers.split(","):
            return path.lstrip("/")
    return ""


def _groups(directory: Path) -> dict[Path, tuple[str, ...]]:
    """The sandbox's cgroup directories, each with the limit files it takes."""
    name = f"amiable-{interface_name(directory)}"
    unified = _unified_root()
    found: dict[Path, tuple[str, ...]] = {}
    if unified is not None:  # the limits too where its controllers are all on it
        found[unified / _own("") / name] = ("cpu.max", "memory.max") if unified == ROOT else ()
    if unified != ROOT:
        found[ROOT / "cpu" / _own("cpu") / name] = ("cpu.cfs_period_us", "cpu.cfs_quota_us")
        found[ROOT / "memory" / _own("memory") / name] = ("memory.limit_in_bytes",)
    return found


def _values(vcpus: int, memory_mib: int) -> dict[str, str]:
    quota, memory = vcpus * PERIOD_US, memory_mib * 1024 * 1024
    return {
        "cpu.max": f"{quota} {PERIOD_US}",
        "memory.max": str(memory),
        "cpu.cfs_period_us": str(PERIOD_US),
        "cpu.cfs_quota_us": str(quota),
        "memory.limit_in_bytes": str(memory),
    }


def _give(group: Path, files: tuple[str, ...], values: dict[str, str]) -> list[str]:
    """Write a cgroup's limits; the ones that could not be given, saying why."""
    missing = []
    for name in files:
        try:
            (group / name).write_text(values[name])
        except OSError as exc:
            missing.append(f"{name}: {exc.strerror or 'not available'}")
    return missing


def enter(directory: Path, limit: dict[str, int] | None) -> Callable[[], None]:
    """Make the sandbox's cgroups (with its limits); what its first process
    runs before it executes: join them."""
    joined, missing = [], []
    for group, files in _groups(directory).items():
        try:
            group.mkdir(exist_ok=True)
        except OSError as exc:  # not delegated to this user, say
            missing.append(f"{group}: {exc.strerror}")
            continue
        joined.append(str(group / "cgroup.procs"))
        if limit is not None:
            missing += _give(group, files, _values(limit["vcpus"], limit["memory_mib"]))
    if missing:
        print(f"amiable: cgroups not set: {'; '.join(missing)}", file=sys.stderr, flush=True)

    def join() -> None:
        for path in joined:
            with open(path, "w") as file:
                file.write(str(os.getpid()))

    return join


def remove(directory: Path) -> None:
    """Remove the sandbox's cgroups (once nothing of it runs), children first."""
    for group in _groups(directory):
        for inner, _dirs, _files in sorted(os.walk(group), key=lambda e: -len(e[0])):
            try:
                os.rmdir(inner)
            except FileNotFoundError:
                pass
            except OSError as exc:
                print(f"amiable: cgroup {inner} stays: {exc.strerror}", file=sys.stderr, flush=True)
