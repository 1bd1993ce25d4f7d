"""CopySnapshot within and across regions, and its restart recovery."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

import amiable
from amiable.cloud.core.home import Cloud
from api_helpers import store_snapshot_of
from helpers import assert_same_tree


def imported(ec2: Any, root: Path, size: int = 50_000) -> str:
    root.mkdir(parents=True)
    (root / "data.bin").write_bytes(os.urandom(size))
    (root / "etc").mkdir()
    (root / "etc" / "motd").write_text("copied\n")
    task = ec2.import_snapshot(DiskContainer={"Url": f"file://{root}"})["ImportTaskId"]
    ec2.get_waiter("snapshot_imported").wait(ImportTaskIds=[task], WaiterConfig={"Delay": 0.2})
    detail = ec2.describe_import_snapshot_tasks(ImportTaskIds=[task])["ImportSnapshotTasks"][0]
    return str(detail["SnapshotTaskDetail"]["SnapshotId"])


def test_copy_across_regions_moves_the_data(tmp_path: Path) -> None:
    cloud = Cloud(tmp_path / "home")
    session = amiable.Session(cloud=cloud, region="us-east-1")
    source = imported(session.client("ec2"), tmp_path / "tree")
    west = session.client("ec2", region_name="eu-west-1")
    copied = west.copy_snapshot(
        SourceRegion="us-east-1",
        SourceSnapshotId=source,
        TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "copy", "Value": "1"}]}],
    )
    west.get_waiter("snapshot_completed").wait(
        SnapshotIds=[copied["SnapshotId"]], WaiterConfig={"Delay": 0.2}
    )
    (snapshot,) = west.describe_snapshots(SnapshotIds=[copied["SnapshotId"]])["Snapshots"]
    assert snapshot["State"] == "completed"
    assert snapshot["Description"] == f"[Copied {source} from us-east-1]"
    assert snapshot["Tags"] == [{"Key": "copy", "Value": "1"}]
    # The destination region's own store holds the data now.
    west_store = cloud.region("eu-west-1").store
    west_store.restore(
        store_snapshot_of(cloud, "eu-west-1", copied["SnapshotId"]), tmp_path / "out"
    )
    assert_same_tree(tmp_path / "tree", tmp_path / "out")


def test_a_second_copy_sends_only_what_changed(tmp_path: Path) -> None:
    cloud = Cloud(tmp_path / "home")
    session = amiable.Session(cloud=cloud, region="us-east-1")
    east, west = session.client("ec2"), session.client("ec2", region_name="eu-west-1")
    first = imported(east, tmp_path / "v1", size=2_000_000)
    copy = west.copy_snapshot(SourceRegion="us-east-1", SourceSnapshotId=first)["SnapshotId"]
    west.get_waiter("snapshot_completed").wait(SnapshotIds=[copy], WaiterConfig={"Delay": 0.2})
    west_store = cloud.region("eu-west-1").store
    stored_before = west_store.stats().stored_bytes

    (tmp_path / "v2").mkdir()
    for name in ("data.bin", "etc"):
        os.rename(tmp_path / "v1" / name, tmp_path / "v2" / name)
    (tmp_path / "v1").rmdir()
    (tmp_path / "v2" / "etc" / "motd").write_text("changed\n")
    task = east.import_snapshot(DiskContainer={"Url": f"file://{tmp_path / 'v2'}"})
    east.get_waiter("snapshot_imported").wait(
        ImportTaskIds=[task["ImportTaskId"]], WaiterConfig={"Delay": 0.2}
    )
    second = east.describe_import_snapshot_tasks(ImportTaskIds=[task["ImportTaskId"]])[
        "ImportSnapshotTasks"
    ][0]["SnapshotTaskDetail"]["SnapshotId"]
    copy2 = west.copy_snapshot(SourceRegion="us-east-1", SourceSnapshotId=second)["SnapshotId"]
    west.get_waiter("snapshot_completed").wait(SnapshotIds=[copy2], WaiterConfig={"Delay": 0.2})
    growth = west_store.stats().stored_bytes - stored_before
    assert growth < 100_000  # the 2 MB file was already there; only trees and motd moved


def test_copy_within_a_region_and_deleting_one_copy_keeps_the_other(tmp_path: Path) -> None:
    cloud = Cloud(tmp_path / "home")
    ec2 = amiable.Session(cloud=cloud).client("ec2")
    source = imported(ec2, tmp_path / "tree")
    copy = ec2.copy_snapshot(SourceRegion="us-east-1", SourceSnapshotId=source)["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[copy], WaiterConfig={"Delay": 0.2})
    ec2.delete_snapshot(SnapshotId=source)
    cloud.region("us-east-1").store.gc()
    cloud.region("us-east-1").store.restore(
        store_snapshot_of(cloud, "us-east-1", copy), tmp_path / "out"
    )
    assert_same_tree(tmp_path / "tree", tmp_path / "out")


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"SourceSnapshotId": "snap-0123456789abcdef0"}, "InvalidSnapshot.NotFound"),
        (
            {"SourceSnapshotId": "snap-0123456789abcdef0", "Encrypted": True},
            "InvalidSnapshot.NotFound",
        ),
    ],
)
def test_copy_errors(tmp_path: Path, kwargs: dict[str, Any], code: str) -> None:
    ec2 = amiable.Session(home=tmp_path / "home").client("ec2")
    with pytest.raises(ClientError) as caught:
        ec2.copy_snapshot(SourceRegion="us-east-1", **kwargs)
    assert caught.value.response["Error"]["Code"] == code
    assert ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] == []


def test_a_copy_interrupted_by_a_restart_leaves_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    source = imported(amiable.Session(home=home).client("ec2"), tmp_path / "tree", 160_000_000)
    script = textwrap.dedent(
        f"""
        import os, amiable
        west = amiable.Session(home={str(home)!r}, region="eu-west-1").client("ec2")
        west.copy_snapshot(SourceRegion="us-east-1", SourceSnapshotId={source!r})
        print("started", flush=True)
        os.kill(os.getpid(), 9)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.strip() == "started", done.stderr
    session = amiable.Session(home=home, region="eu-west-1")
    assert session.client("ec2").describe_snapshots(OwnerIds=["self"])["Snapshots"] == []
    store = session.cloud.region("eu-west-1").store
    assert store.snapshots() == []
    report = store.fsck()
    assert report.ok and report.reclaimable_bytes == 0  # what it copied is reclaimed
