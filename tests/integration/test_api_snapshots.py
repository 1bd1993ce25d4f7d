"""ImportSnapshot, DescribeImportSnapshotTasks, DescribeSnapshots and
DeleteSnapshot through real boto3 clients in-process."""

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
from helpers import assert_same_tree


def make_tree(root: Path, marker: str = "one") -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "motd").write_text(f"welcome {marker}\n")
    (root / "bin").mkdir()
    (root / "bin" / "tool").write_bytes(os.urandom(20_000))
    os.chmod(root / "bin" / "tool", 0o755)
    return root


def import_dir(ec2: Any, path: Path, **kwargs: Any) -> dict[str, Any]:
    task = ec2.import_snapshot(DiskContainer={"Url": f"file://{path}"}, **kwargs)
    ec2.get_waiter("snapshot_imported").wait(
        ImportTaskIds=[task["ImportTaskId"]], WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    done = ec2.describe_import_snapshot_tasks(ImportTaskIds=[task["ImportTaskId"]])
    return dict(done["ImportSnapshotTasks"][0])


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return Cloud(tmp_path / "home")


@pytest.fixture
def ec2(cloud: Cloud) -> Any:
    return amiable.Session(cloud=cloud, region="eu-west-1").client("ec2")


def test_import_starts_active_and_completes_with_a_snapshot(
    ec2: Any, cloud: Cloud, tmp_path: Path
) -> None:
    source = make_tree(tmp_path / "tree")
    started = ec2.import_snapshot(
        DiskContainer={"Url": f"file://{source}", "Format": "raw"},
        Description="base image",
        TagSpecifications=[
            {"ResourceType": "import-snapshot-task", "Tags": [{"Key": "team", "Value": "os"}]}
        ],
    )
    assert started["ImportTaskId"].startswith("import-snap-")
    assert started["SnapshotTaskDetail"]["Status"] == "active"
    assert started["Tags"] == [{"Key": "team", "Value": "os"}]

    ec2.get_waiter("snapshot_imported").wait(
        ImportTaskIds=[started["ImportTaskId"]], WaiterConfig={"Delay": 0.2}
    )
    task = ec2.describe_import_snapshot_tasks(ImportTaskIds=[started["ImportTaskId"]])[
        "ImportSnapshotTasks"
    ][0]
    detail = task["SnapshotTaskDetail"]
    assert (detail["Status"], detail["Progress"]) == ("completed", "100")
    assert task["Tags"] == [{"Key": "team", "Value": "os"}]

    snapshot = ec2.describe_snapshots(SnapshotIds=[detail["SnapshotId"]])["Snapshots"][0]
    assert snapshot["State"] == "completed"
    assert snapshot["Progress"] == "100%"
    assert snapshot["OwnerId"] == "000000000000"
    assert snapshot["VolumeSize"] == 1
    assert snapshot["Description"] == f"Created by AWS-VMImport service for {task['ImportTaskId']}"

    # The data is really in the region's store, and restores to the same tree.
    stored = [r for r in cloud.region("eu-west-1").store.snapshots() if r.source == str(source)]
    assert len(stored) == 1
    cloud.region("eu-west-1").store.restore(stored[0].id, tmp_path / "restored")
    assert_same_tree(source, tmp_path / "restored")


def test_snapshots_belong_to_their_region_and_account(
    ec2: Any, cloud: Cloud, tmp_path: Path
) -> None:
    snapshot_id = import_dir(ec2, make_tree(tmp_path / "t"))["SnapshotTaskDetail"]["SnapshotId"]
    elsewhere = amiable.Session(cloud=cloud, region="us-east-1").client("ec2")
    assert elsewhere.describe_snapshots(OwnerIds=["self"])["Snapshots"] == []
    cloud.accounts.create("111122223333", None, "AKIAOTHER", "other")
    stranger = amiable.Session(cloud=cloud, region="eu-west-1", account="111122223333")
    assert stranger.client("ec2").describe_snapshots()["Snapshots"] == []
    with pytest.raises(ClientError) as caught:
        stranger.client("ec2").delete_snapshot(SnapshotId=snapshot_id)
    assert caught.value.response["Error"]["Code"] == "InvalidSnapshot.NotFound"


def test_describe_snapshots_filters_and_paginates(ec2: Any, tmp_path: Path) -> None:
    ids = [
        import_dir(ec2, make_tree(tmp_path / f"t{n}", str(n)))["SnapshotTaskDetail"]["SnapshotId"]
        for n in range(7)
    ]
    pages = ec2.get_paginator("describe_snapshots").paginate(
        OwnerIds=["self"], PaginationConfig={"PageSize": 5}
    )
    seen = [[s["SnapshotId"] for s in p["Snapshots"]] for p in pages]
    assert [len(p) for p in seen] == [5, 2]
    assert sorted(i for p in seen for i in p) == sorted(ids)
    matched = ec2.describe_snapshots(
        Filters=[
            {"Name": "description", "Values": ["Created by AWS-VMImport*"]},
            {"Name": "snapshot-id", "Values": ids[:2]},
        ]
    )["Snapshots"]
    assert sorted(s["SnapshotId"] for s in matched) == sorted(ids[:2])
    with pytest.raises(ClientError) as caught:
        ec2.describe_snapshots(MaxResults=3)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as caught:
        ec2.describe_snapshots(NextToken="%%%not-a-token")
    assert caught.value.response["Error"]["Code"] == "InvalidPaginationToken"


@pytest.mark.parametrize(
    ("snapshot_id", "code"),
    [
        ("snap-0123456789abcdef0", "InvalidSnapshot.NotFound"),
        ("snap-1", "InvalidSnapshotID.Malformed"),
    ],
)
def test_describe_unknown_or_malformed_snapshot(ec2: Any, snapshot_id: str, code: str) -> None:
    with pytest.raises(ClientError) as caught:
        ec2.describe_snapshots(SnapshotIds=[snapshot_id])
    assert caught.value.response["Error"]["Code"] == code


def test_delete_snapshot(ec2: Any, tmp_path: Path) -> None:
    snapshot_id = import_dir(ec2, make_tree(tmp_path / "t"))["SnapshotTaskDetail"]["SnapshotId"]
    ec2.delete_snapshot(SnapshotId=snapshot_id)
    assert ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] == []
    with pytest.raises(ClientError) as caught:
        ec2.delete_snapshot(SnapshotId=snapshot_id)
    assert caught.value.response["Error"]["Code"] == "InvalidSnapshot.NotFound"


@pytest.mark.parametrize(
    ("container", "code"),
    [
        ({"Url": "s3://bucket/disk.vmdk"}, "InvalidParameter"),
        ({"Url": "file:///no/such/directory"}, "InvalidParameter"),
        ({"Format": "raw"}, "MissingParameter"),
    ],
)
def test_import_refuses_what_it_cannot_read(ec2: Any, container: dict[str, str], code: str) -> None:
    with pytest.raises(ClientError) as caught:
        ec2.import_snapshot(DiskContainer=container)
    assert caught.value.response["Error"]["Code"] == code
    assert ec2.describe_import_snapshot_tasks()["ImportSnapshotTasks"] == []


def test_an_import_interrupted_by_a_restart_ends_with_a_reason(tmp_path: Path) -> None:
    home, source = tmp_path / "home", tmp_path / "big"
    source.mkdir()
    with open(source / "disk.img", "wb") as f:
        for _ in range(40):
            f.write(os.urandom(4 * 1024 * 1024))
    script = textwrap.dedent(
        f"""
        import os, sys, amiable
        ec2 = amiable.Session(home={str(home)!r}, region="eu-west-1").client("ec2")
        ec2.import_snapshot(DiskContainer={{"Url": "file://{source}"}})
        print("started", flush=True)
        os.kill(os.getpid(), 9)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.strip() == "started", done.stderr
    assert done.returncode == -9

    ec2 = amiable.Session(home=home, region="eu-west-1").client("ec2")
    (task,) = ec2.describe_import_snapshot_tasks()["ImportSnapshotTasks"]
    detail = task["SnapshotTaskDetail"]
    assert detail["Status"] == "deleted"
    assert "interrupted" in detail["StatusMessage"]
    assert ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] == []
