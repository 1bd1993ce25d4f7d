"""A tiny root file system from the host's static busybox, for instance tests."""

import shutil
from pathlib import Path

import pytest

APPLETS = (
    "sh",
    "ls",
    "cat",
    "echo",
    "hostname",
    "ps",
    "sleep",
    "touch",
    "rm",
    "mkdir",
    "id",
    "wc",
    "head",
    "sed",
    "test",
    "true",
    "false",
    "env",
    "pwd",
    "mount",
    "kill",
    "poweroff",
    "halt",
    "reboot",
)


def busybox_root(root: Path) -> Path:
    """`root` made a minimal Linux tree: /bin with busybox applets, /etc, /tmp."""
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("needs busybox (apt-get install busybox-static)")
    (root / "bin").mkdir(parents=True)
    shutil.copy2(busybox, root / "bin" / "busybox")
    for applet in APPLETS:
        (root / "bin" / applet).symlink_to("busybox")
    for directory in ("etc", "tmp", "proc", "dev", "root", "var/log"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    (root / "etc" / "os-release").write_text("ID=busybox\nNAME=amiable-test\n")
    (root / "etc" / "hostname").write_text("image\n")
    return root
