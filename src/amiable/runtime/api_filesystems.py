"""The file systems a booted root needs besides its own files, mounted by init
inside the sandbox's mount namespace before it chroots (systemd calls them
API file systems; systemd-nspawn prepares them the same way).

Every sandbox gets /proc, with /proc/sys and /proc/sysrq-trigger read-only
(the kernel settings there are the host's; /proc/sys/net stays writable when
the sandbox has its own network namespace), and a small /dev of its own: the
harmless character devices bound from the host, /dev/pts with its own ptmx,
/dev/shm, and /dev/console (the terminal its monitor reads the console log
from, when it has one). A root that boots systemd also gets /sys read-only,
its cgroup (the sandbox's own cgroup namespace) at /sys/fs/cgroup, and /run.
"""

import os

from .mounts import MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC, MS_REMOUNT, mount

DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
_LINKS = {
    "fd": "/proc/self/fd",
    "stdin": "/proc/self/fd/0",
    "stdout": "/proc/self/fd/1",
    "stderr": "/proc/self/fd/2",
    "ptmx": "pts/ptmx",
}


def _read_only(path: str) -> None:
    if not os.path.exists(path):  # a kernel without it (sysrq-trigger)
        return
    mount(path, path, None, MS_BIND | MS_REC, None)
    mount(path, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)


def mount_proc(root: str, own_network: bool) -> None:
    proc = os.path.join(root, "proc")
    os.makedirs(proc, exist_ok=True)
    mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    _read_only(os.path.join(proc, "sys"))
    _read_only(os.path.join(proc, "sysrq-trigger"))
    if own_network:  # its own namespace's settings are its own
        net = os.path.join(proc, "sys", "net")
        mount(net, net, None, MS_BIND, None)
        mount(net, net, None, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV, None)


def mount_dev(root: str, console: str | None) -> None:
    dev = os.path.join(root, "dev")
    os.makedirs(dev, exist_ok=True)
    mount("tmpfs", dev, "tmpfs", MS_NOSUID, "mode=755,size=4m")
    for name in DEVICES:
        node = os.path.join(dev, name)
        if os.path.exists(f"/dev/{name}"):
            open(node, "w").close()
            mount(f"/dev/{name}", node, None, MS_BIND, None)
    for name, target in _LINKS.items():
        os.symlink(target, os.path.join(dev, name))
    os.makedirs(os.path.join(dev, "pts"))
    mount(
        "devpts",
        os.path.join(dev, "pts"),
        "devpts",
        MS_NOSUID | MS_NOEXEC,
        "newinstance,ptmxmode=0666,mode=620",
    )
    os.makedirs(os.path.join(dev, "shm"))
    mount("tmpfs", os.path.join(dev, "shm"), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    if console is not None:
        node = os.path.join(dev, "console")
        open(node, "w").close()
        mount(console, node, None, MS_BIND, None)


def mount_for_systemd(root: str) -> None:
    """/sys (read-only), the sandbox's cgroup tree, and an empty /run."""
    sys_dir = os.path.join(root, "sys")
    os.makedirs(sys_dir, exist_ok=True)
    mount("sysfs", sys_dir, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    cgroup = os.path.join(sys_dir, "fs", "cgroup")
    mount("cgroup2", cgroup, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    run = os.path.join(root, "run")
    os.makedirs(run, exist_ok=True)
    mount("tmpfs", run, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
