"""A Debian image as `ami bootstrap debian` makes it (systemd, openssh-server,
sudo, cloud-init): debootstrap takes minutes, so the root is built once per
machine (under /var/tmp, keyed by what goes into it) and shared by the tests,
across xdist workers, that boot a whole operating system."""

import fcntl
import hashlib
import inspect
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from amiable.tools import rootfs

CACHE = Path("/var/tmp/amiable-tests")


def _key() -> str:
    made = inspect.getsource(rootfs._as_a_cloud_image)
    recipe = repr((rootfs.CLOUD_PACKAGES, rootfs.CLOUD_CONFIG, rootfs.DEBIAN_MIRROR, made))
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def debian_cloud_root() -> Path:
    """The cached root, built if need be; skips the test, saying why, when it cannot be."""
    if shutil.which("debootstrap") is None:
        pytest.skip("debootstrap is not installed (apt-get install debootstrap)")
    CACHE.mkdir(parents=True, exist_ok=True)
    done = CACHE / f"debian-{_key()}"
    with open(CACHE / f"debian-{_key()}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build; the other workers wait for it
        if not done.is_dir():
            scratch = Path(tempfile.mkdtemp(dir=CACHE, prefix=".building-"))
            try:
                rootfs.debian(scratch / "root")
            except rootfs.RootfsError as exc:
                shutil.rmtree(scratch, ignore_errors=True)
                pytest.skip(f"no Debian image: {exc}")
            scratch.rename(done)
    return done / "root"


def ssh(
    key: Path, address: str, command: str, timeout: int = 2
) -> subprocess.CompletedProcess[str]:
    """`command` run over SSH as the image's default user, `admin`, with the key pair."""
    return subprocess.run(
        [
            "ssh",
            "-i",
            str(key),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            f"ConnectTimeout={timeout}",
            f"admin@{address}",
            command,
        ],
        capture_output=True,
        text=True,
    )
