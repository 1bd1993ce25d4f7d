"""`ami bootstrap busybox` that cannot succeed fails before any work and leaves
nothing (it used to leave a snapshot owned by `amazon`). Needs root (CI runs
as root) and busybox."""

import shutil
from pathlib import Path

import pytest

import amiable
from amiable.cli.bootstrap import SYSTEM_ACCOUNT
from helpers import require_root
from import_helpers import ami, assert_nothing_left

REGION = "us-west-1"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    require_root("ami bootstrap installs and copies busybox as root")
    if shutil.which("busybox") is None:
        pytest.skip("needs busybox (apt-get install busybox-static)")
    return tmp_path / "home"


def test_an_invalid_name_fails_first_and_leaves_nothing(home: Path) -> None:
    done = ami(home, "bootstrap", "busybox", "--name", "no", region=REGION)
    assert done.returncode == 1
    assert done.stderr.startswith("error: InvalidAMIName.Malformed: ")
    assert len(done.stderr.splitlines()) == 1
    cloud = amiable.Session(home=home, region=REGION).cloud
    assert cloud.accounts.key_of(SYSTEM_ACCOUNT) is None  # not even the system account
    assert_nothing_left(home, REGION)


def test_a_duplicate_name_fails_first_and_leaves_nothing_new(home: Path) -> None:
    first = ami(home, "bootstrap", "busybox", "--name", "base-1", region=REGION)
    assert first.returncode == 0, first.stderr
    assert "publishing base-1: available" in first.stderr
    again = ami(home, "bootstrap", "busybox", "--name", "base-1", region=REGION)
    assert again.returncode == 1
    assert again.stderr == (
        f"error: InvalidAMIName.Duplicate: AMI name base-1 is already in use by AMI "
        f"{first.stdout.strip()}\n"
    )
    session = amiable.Session(home=home, region=REGION, account=SYSTEM_ACCOUNT)
    ec2 = session.client("ec2")
    assert len(ec2.describe_import_snapshot_tasks()["ImportSnapshotTasks"]) == 1  # no new work
    assert len(ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]) == 1
    store = session.cloud.region(REGION).store
    assert len(store.snapshots()) == 1
    assert store.fsck().reclaimable_bytes == 0
