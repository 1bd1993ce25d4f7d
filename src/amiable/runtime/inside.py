"""Running a command inside a running sandbox: what `nsenter --target PID
--mount --pid --uts --ipc [--net] --root --wd` does, then what nsenter
cannot do — dropping the capabilities a sandbox never gets
(`capabilities.py`) after the namespaces are entered, since entering them
needs CAP_SYS_ADMIN and a command inside must not have it (root in the
sandbox could otherwise ptrace the command and use it).

A process of its own (entering a mount namespace needs a single thread),
started as `COMMAND_PREFIX` + the command: Python without site-packages,
importing nothing but ctypes, so it costs a few milliseconds more than
nsenter. It forks the command into the sandbox's PID namespace and ends as
the command ended (its exit code, or killed by the same signal).
"""

import ctypes
import os
import sys

from .capabilities import drop_bounding_set, drop_own

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUTS = 0x04000000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
# The directory holding the amiable package, and the start of a Python that imports from it only
_SOURCES = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_START = "import sys; sys.path.insert(0, sys.argv[1]); import amiable.runtime.inside as i; i.main()"


def command_prefix(pid: int, own_network: bool, systemd: bool) -> list[str]:
    """What runs the command that follows inside the sandbox of init `pid`."""
    flags = [str(int(own_network)), str(int(systemd))]
    return [sys.executable, "-I", "-S", "-c", _START, _SOURCES, str(pid), *flags]


def _enter(pid: int, own_network: bool) -> None:
    """Join init's namespaces, then its root and working directory (every
    descriptor opened first: after the mount namespace, /proc is the sandbox's)."""
    libc = ctypes.CDLL(None, use_errno=True)
    kinds = [("ipc", _CLONE_NEWIPC), ("uts", _CLONE_NEWUTS)]
    kinds += [("net", _CLONE_NEWNET)] if own_network else []
    kinds += [("pid", _CLONE_NEWPID), ("mnt", _CLONE_NEWNS)]
    flags = os.O_RDONLY | os.O_CLOEXEC
    namespaces = [(os.open(f"/proc/{pid}/ns/{name}", flags), name, k) for name, k in kinds]
    root = os.open(f"/proc/{pid}/root", flags | os.O_DIRECTORY)
    workdir = os.open(f"/proc/{pid}/cwd", flags | os.O_DIRECTORY)
    for fd, name, kind in namespaces:
        if libc.setns(fd, kind) != 0:
            raise OSError(ctypes.get_errno(), f"setns {name}")
        os.close(fd)
    os.fchdir(root)
    os.chroot(".")
    os.fchdir(workdir)
    os.close(root)
    os.close(workdir)


def _end_as(child: int) -> None:
    """End as the command ended. A signal Python ignores (SIGPIPE) or turns
    into KeyboardInterrupt (SIGINT, which it re-raises at exit) still ends it so."""
    _, status = os.waitpid(child, 0)
    if os.WIFSIGNALED(status):
        os.kill(os.getpid(), os.WTERMSIG(status))
        os._exit(128 + os.WTERMSIG(status))
    os._exit(os.waitstatus_to_exitcode(status))


def main() -> None:
    """`_START SOURCES PID OWN-NETWORK SYSTEMD COMMAND...` (the flags 1 or 0)."""
    argv = sys.argv[2:]
    pid, own_network, systemd, command = int(argv[0]), argv[1] == "1", argv[2] == "1", argv[3:]
    _enter(pid, own_network)
    drop_bounding_set(own_network, systemd)
    drop_own(own_network, systemd)
    child = os.fork()  # only a child of this process is in the PID namespace
    if child == 0:
        try:
            os.execve(command[0], command, os.environ)
        except OSError as exc:
            print(f"{command[0]}: {exc.strerror}", file=sys.stderr)
        os._exit(127)
    _end_as(child)
