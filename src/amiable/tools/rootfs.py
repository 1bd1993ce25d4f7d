"""Root file systems for base images: a tiny one from the host's static
busybox, a Debian one from debootstrap. Either is installed with apt when
missing and the host allows it (root on Debian or Ubuntu)."""

import os
import shutil
import subprocess
from pathlib import Path

BUSYBOX_PACKAGE = "busybox-static"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
_DIRECTORIES = ("etc", "tmp", "proc", "dev", "root", "var/log", "var/tmp", "sys", "run")


class RootfsError(Exception):
    """A root file system could not be built (one clear line)."""


def ensure_tool(tool: str, package: str) -> str:
    """The tool's path, installing its Debian package first if need be."""
    found = shutil.which(tool)
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RootfsError(f"{tool} is missing: install the {package} package")
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", package]):
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        if done.returncode != 0:
            raise RootfsError(f"installing {package} failed: {done.stderr.strip()[-300:]}")
    found = shutil.which(tool)
    if not found:
        raise RootfsError(f"{package} did not provide {tool}")
    return found


def busybox(root: Path) -> Path:
    """`root` made a minimal Linux: busybox and a link for each of its applets."""
    binary = ensure_tool("busybox", BUSYBOX_PACKAGE)
    (root / "bin").mkdir(parents=True)
    shutil.copy2(binary, root / "bin" / "busybox")
    applets = subprocess.run(
        [binary, "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        link = root / "bin" / applet
        if not link.exists():
            link.symlink_to("busybox")
    for directory in _DIRECTORIES:
        (root / directory).mkdir(parents=True, exist_ok=True)
    version = subprocess.run([binary], capture_output=True, text=True).stdout.split("\n")[0]
    (root / "etc" / "os-release").write_text(
        f'ID=busybox\nNAME="BusyBox"\nPRETTY_NAME="{version.strip()}"\n'
    )
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    return root


def debian(root: Path, suite: str = "bookworm", variant: str = "minbase") -> Path:
    """`root` made a Debian `suite` with debootstrap (minutes; needs root)."""
    tool = ensure_tool("debootstrap", "debootstrap")
    done = subprocess.run(
        [tool, f"--variant={variant}", suite, str(root), DEBIAN_MIRROR],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RootfsError(f"debootstrap failed: {done.stderr.strip()[-300:]}")
    return root
