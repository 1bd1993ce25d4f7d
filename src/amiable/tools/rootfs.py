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


# What Debian's own AMIs have that minbase lacks: an init, a way in, and cloud-init
# to take the instance's key, user data and hostname from the metadata service.
# (python3-cffi-backend: debootstrap does not resolve virtual packages.)
CLOUD_PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "sudo",
    "cloud-init",
    "python3-cffi-backend",
    "iproute2",
    "netbase",
    "ca-certificates",
)
CLOUD_CONFIG = """\
# ami bootstrap debian: the EC2 data source only, as on Debian's AMIs; the
# network is configured by the host before boot.
datasource_list: [ Ec2 ]
datasource:
  Ec2:
    strict_id: false
    metadata_urls: [ "http://169.254.169.254" ]
    timeout: 5
    max_wait: 20
network:
  config: disabled
manage_etc_hosts: true
system_info:
  default_user:
    name: admin
    lock_passwd: true
    gecos: Debian
    groups: [adm, sudo]
    sudo: ["ALL=(ALL) NOPASSWD:ALL"]
    shell: /bin/bash
"""


def debian(root: Path, suite: str = "bookworm", variant: str = "minbase") -> Path:
    """`root` made a Debian `suite` with debootstrap (minutes; needs root), set
    up as Debian's AMIs are: systemd, openssh-server, sudo and cloud-init for
    the EC2 data source with the default user `admin`; no SSH host keys and an
    empty machine id, so each instance makes its own at first boot."""
    tool = ensure_tool("debootstrap", "debootstrap")
    done = subprocess.run(
        [
            tool,
            f"--variant={variant}",
            f"--include={','.join(CLOUD_PACKAGES)}",
            suite,
            str(root),
            DEBIAN_MIRROR,
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RootfsError(f"debootstrap failed: {done.stderr.strip()[-300:]}")
    _as_a_cloud_image(root)
    return root


def _as_a_cloud_image(root: Path) -> None:
    (root / "etc/cloud/cloud.cfg.d/90_amiable.cfg").write_text(CLOUD_CONFIG)
    (root / "etc/cloud/ds-identify.cfg").write_text("policy: enabled\n")
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc/machine-id").write_text("")
    dbus_id = root / "var/lib/dbus/machine-id"  # one id, made at first boot, as systemd asks
    if dbus_id.exists() or dbus_id.is_symlink():
        dbus_id.unlink()
        dbus_id.symlink_to("/etc/machine-id")
    (root / "etc/hostname").unlink(missing_ok=True)
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (root / cache).glob("*"):
            if item.is_file():
                item.unlink()
