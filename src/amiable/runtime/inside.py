"""Running a command inside a running sandbox: what `nsenter --target PID
--mount --pid --uts --ipc [--net] --root --wd` does, then what nsenter
cannot do — dropping the capabilities a sandbox never gets
(`capabilities.py`) after the namespaces are entered, since entering them
needs CAP_SYS_ADMIN and a command inside must not have it (root in the
sandbox could otherwise ptrace the command and use it).

Run as `python -m amiable.runtime.inside INIT-PID OPTIONS-JSON COMMAND...`,
a process of its own (entering a mount namespace needs a single thread). It
forks the command into the sandbox's PID namespace and ends as the command
ended (its exit code, or killed by the same signal).
"""

import json
import os
import sys

from .capabilities import drop_bounding_set, drop_own
from .namespaces import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUTS,
    end_as,
    join,
)

_USAGE = "usage: python -m amiable.runtime.inside INIT-PID OPTIONS-JSON COMMAND..."


def _enter(pid: int, own_network: bool) -> None:
    """Join init's namespaces, then its root and working directory (every
    descriptor opened first: after the mount namespace, /proc is the sandbox's)."""
    kinds = [("ipc", CLONE_NEWIPC), ("uts", CLONE_NEWUTS)]
    kinds += [("net", CLONE_NEWNET)] if own_network else []
    kinds += [("pid", CLONE_NEWPID), ("mnt", CLONE_NEWNS)]
    flags = os.O_RDONLY | os.O_CLOEXEC
    namespaces = [(os.open(f"/proc/{pid}/ns/{name}", flags), kind) for name, kind in kinds]
    root = os.open(f"/proc/{pid}/root", flags | os.O_DIRECTORY)
    workdir = os.open(f"/proc/{pid}/cwd", flags | os.O_DIRECTORY)
    for fd, kind in namespaces:
        join(fd, kind)
        os.close(fd)
    os.fchdir(root)
    os.chroot(".")
    os.fchdir(workdir)
    os.close(root)
    os.close(workdir)


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(_USAGE, file=sys.stderr)
        return 2
    pid, options, command = int(argv[0]), json.loads(argv[1]), argv[2:]
    _enter(pid, options["own_network"])
    drop_bounding_set(options["own_network"], options["systemd"])
    drop_own(options["own_network"], options["systemd"])
    child = os.fork()  # only a child of this process is in the PID namespace
    if child == 0:
        try:
            os.execve(command[0], command, os.environ)
        except OSError as exc:
            print(f"{command[0]}: {exc.strerror}", file=sys.stderr)
            os._exit(127)
    end_as(child)
    return 1  # not reached: end_as ends this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
