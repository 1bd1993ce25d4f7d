"""Mounting a volume into a running sandbox, and taking it out: run as
`python -m amiable.runtime.hotplug attach|detach INIT-PID REQUEST-JSON`, a
process of its own (entering a mount namespace needs a single thread).

A sandbox's root was pivoted (`init.py`): no path of the host exists in its
mount namespace, so the volume's overlay is mounted on the host side, where
its layers' paths resolve — in a private mount namespace of this process,
on a temporary directory, so the host never sees it — and a detached copy
of that mount (`mounts.detached_copy`) is moved in at its mount point
inside (`mounts.move_mount`). Nothing
of the image runs: no `mount` or `mkdir` binary from the sandbox's files
ever runs with the host's privileges. A rootless sandbox's user namespace is
entered first, so the overlay belongs to it.
"""

import json
import os
import sys
import tempfile
from pathlib import Path

from .mounts import MS_PRIVATE, MS_REC, detached_copy, mount, move_mount, unmount
from .namespaces import CLONE_NEWNS, CLONE_NEWUSER, enter, unshare

_USAGE = "usage: python -m amiable.runtime.hotplug attach|detach INIT-PID REQUEST-JSON"


def attach(pid: int, options: str, mountpoint: str, rootless: bool) -> None:
    if rootless:
        enter(f"/proc/{pid}/ns/user", CLONE_NEWUSER)
    unshare(CLONE_NEWNS)
    mount("none", "/", None, MS_REC | MS_PRIVATE, None)
    with tempfile.TemporaryDirectory(prefix="amiable-hotplug-") as staging:
        mount("overlay", staging, "overlay", 0, options)
        volume = detached_copy(staging)
        unmount(staging)
    enter(f"/proc/{pid}/ns/mnt", CLONE_NEWNS)  # and its root: the sandbox's
    Path(mountpoint).mkdir(parents=True, exist_ok=True)
    move_mount(volume, mountpoint)


def detach(pid: int, mountpoint: str, rootless: bool) -> None:
    if rootless:
        enter(f"/proc/{pid}/ns/user", CLONE_NEWUSER)
    enter(f"/proc/{pid}/ns/mnt", CLONE_NEWNS)
    unmount(mountpoint)


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("attach", "detach") or not argv[1].isdigit():
        print(_USAGE, file=sys.stderr)
        return 2
    action, pid, request = argv[0], int(argv[1]), json.loads(argv[2])
    try:
        if action == "attach":
            attach(pid, request["options"], request["mountpoint"], request["rootless"])
        else:
            detach(pid, request["mountpoint"], request["rootless"])
    except OSError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main(sys.argv[1:]))
