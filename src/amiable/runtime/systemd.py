"""Booting the image's own systemd as PID 1 of the sandbox, the way
systemd-nspawn does (systemd's Container Interface): `container=amiable` in
its environment, the API file systems ready (`api_filesystems.py`), its own
cgroup namespace, /dev/console the terminal its monitor reads.

systemd in a container stops on SIGRTMIN+4 (a clean poweroff); when it powers
off, halts or reboots, the kernel ends its PID namespace with SIGINT (poweroff,
halt) or SIGHUP (reboot), which is how the monitor tells the two apart.
"""

import os
import signal

STOP_SIGNAL = signal.SIGRTMIN + 4
ENDED_BY = {signal.SIGINT: "poweroff", signal.SIGHUP: "reboot"}
_INIT = "/sbin/init"


def boots_systemd() -> bool:
    """Whether the root (this process's, after chroot) boots systemd."""
    return os.path.basename(os.path.realpath(_INIT)) == "systemd"


def start_systemd(hostname: str) -> None:
    """Replace this process (PID 1) with systemd; never returns."""
    if os.path.exists("/dev/console"):
        console = os.open("/dev/console", os.O_RDWR | os.O_NOCTTY)
        for fd in (0, 1, 2):
            os.dup2(console, fd)
        os.close(console)
    environment = {
        "container": "amiable",
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "TERM": "vt220",
    }
    os.execve(os.path.realpath(_INIT), [_INIT], environment)
