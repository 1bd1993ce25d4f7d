"""Starting a sandbox's PID 1 in fresh namespaces from the monitor, the way
util-linux's `unshare --fork` does but without executing anything: a child
joins the sandbox's cgroups and network namespace (setns), unshares the
mount, PID, UTS, IPC and cgroup namespaces (and a user namespace mapping
this user to root, when rootless; an empty network namespace for a sandbox
without network), and forks PID 1, which runs init in the Python the monitor
already loaded — one interpreter start fewer on every boot. The middle
process waits for PID 1 and ends as it ended (the same exit code, or killed
by the same signal), so the monitor learns how the sandbox ended.
"""

import ctypes
import os
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from .layout import NO_NETWORK, OWN_NETWORK, namespace_path

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def enter(path: str, kind: int) -> None:
    """Join the namespace at `path` (its `kind`, a CLONE_NEW* flag)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        _check(_libc.setns(fd, kind), f"setns {path}")
    finally:
        os.close(fd)


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def _map_to_root(uid: int, gid: int) -> None:
    """This user is root inside its new user namespace (`--map-root-user`)."""
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
    Path("/proc/self/gid_map").write_text(f"0 {gid} 1")


def _flags(network: str, privileged: bool) -> int:
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP
    if not privileged:
        flags |= CLONE_NEWUSER
    if network == NO_NETWORK:
        flags |= CLONE_NEWNET
    return flags


def _end_as(status: int) -> None:
    """End this process as PID 1 ended: its exit code, or its signal."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
    os._exit(os.waitstatus_to_exitcode(status))


def spawn(
    directory: Path,
    network: str,
    privileged: bool,
    before: Callable[[], None],
    init: Callable[[], None],
) -> int:
    """Fork the sandbox; its PID on the host (the middle process, whose exit
    status is PID 1's). `before` runs first in the child (joining cgroups);
    `init` is PID 1's work."""
    pid = os.fork()
    if pid != 0:
        return pid
    try:
        before()
        if network == OWN_NETWORK:
            enter(namespace_path(directory), CLONE_NEWNET)
        uid, gid = os.getuid(), os.getgid()
        unshare(_flags(network, privileged))
        if not privileged:
            _map_to_root(uid, gid)
        first = os.fork()
        if first == 0:
            init()
            os._exit(0)
        while True:
            try:
                _, status = os.waitpid(first, 0)
                break
            except InterruptedError:
                continue
        _end_as(status)
    except BaseException:
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()
    os._exit(1)
