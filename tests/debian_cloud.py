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
from typing import Any

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


def ssh_access(ec2: Any, key_name: str, private: Path) -> str:
    """A new ed25519 key pair, its private key written to `private`, and a
    security group open on port 22; the group's id."""
    private.write_text(ec2.create_key_pair(KeyName=key_name, KeyType="ed25519")["KeyMaterial"])
    private.chmod(0o600)
    group = ec2.create_security_group(GroupName="ssh", Description="ssh")["GroupId"]
    anywhere = [{"CidrIp": "0.0.0.0/0"}]
    permission = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": anywhere}
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[permission])
    return str(group)
