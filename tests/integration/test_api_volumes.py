"""CreateVolume, DescribeVolumes, DeleteVolume and CreateSnapshot of a volume."""

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import select

import amiable
from amiable.catalog.regional import snapshots
from amiable.cloud.core.home import Cloud
from helpers import assert_same_tree


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return Cloud(tmp_path / "home")


@pytest.fixture
def ec2(cloud: Cloud) -> Any:
    return amiable.Session(cloud=cloud, region="eu-west-1").client("ec2")


def imported(ec2: Any, root: Path) -> str:
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "motd").write_text("volume\n")
    task = ec2.import_snapshot(DiskContainer={"Url": f"file://{root}"})["ImportTaskId"]
    ec2.get_waiter("snapshot_imported").wait(ImportTaskIds=[task], WaiterConfig={"Delay": 0.2})
    tasks = ec2.describe_import_snapshot_tasks(ImportTaskIds=[task])["ImportSnapshotTasks"]
    return str(tasks[0]["SnapshotTaskDetail"]["SnapshotId"])


def store_snapshot(cloud: Cloud, snapshot_id: str) -> str:
    with cloud.region("eu-west-1").catalog.connect() as conn:
        return str(
            conn.execute(
                select(snapshots.c.store_snapshot).where(snapshots.c.snapshot_id == snapshot_id)
            ).scalar()
        )


def test_volume_from_snapshot_and_snapshot_of_volume(
    ec2: Any, cloud: Cloud, tmp_path: Path
) -> None:
    snap = imported(ec2, tmp_path / "root")
    volume = ec2.create_volume(
        AvailabilityZone="eu-west-1b",
        SnapshotId=snap,
        Size=20,
        VolumeType="gp3",
        TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "data"}]}],
    )
    assert volume["State"] == "available" and volume["Size"] == 20
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume["VolumeId"]])
    (listed,) = ec2.describe_volumes(Filters=[{"Name": "tag:Name", "Values": ["data"]}])["Volumes"]
    assert (listed["VolumeId"], listed["SnapshotId"], listed["VolumeType"]) == (
        volume["VolumeId"],
        snap,
        "gp3",
    )
    copy = ec2.create_snapshot(VolumeId=volume["VolumeId"], Description="from the volume")
    assert copy["State"] == "completed" and copy["VolumeId"] == volume["VolumeId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[copy["SnapshotId"]])
    # The new snapshot holds the volume's content: the snapshot it came from.
    cloud.region("eu-west-1").store.restore(
        store_snapshot(cloud, copy["SnapshotId"]), tmp_path / "o"
    )
    assert_same_tree(tmp_path / "root", tmp_path / "o")


def test_deleting_the_origin_snapshot_keeps_the_volume_content(
    ec2: Any, cloud: Cloud, tmp_path: Path
) -> None:
    snap = imported(ec2, tmp_path / "root")
    volume = ec2.create_volume(AvailabilityZone="eu-west-1a", SnapshotId=snap)["VolumeId"]
    ec2.delete_snapshot(SnapshotId=snap)
    cloud.region("eu-west-1").store.gc()
    later = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    cloud.region("eu-west-1").store.restore(store_snapshot(cloud, later), tmp_path / "o")
    assert_same_tree(tmp_path / "root", tmp_path / "o")


def test_empty_volume_snapshots_an_empty_file_system(
    ec2: Any, cloud: Cloud, tmp_path: Path
) -> None:
    volume = ec2.create_volume(AvailabilityZone="eu-west-1c", Size=8)["VolumeId"]
    snap = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    cloud.region("eu-west-1").store.restore(store_snapshot(cloud, snap), tmp_path / "o")
    assert list((tmp_path / "o").iterdir()) == []
    ec2.delete_volume(VolumeId=volume)
    assert ec2.describe_volumes()["Volumes"] == []


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"AvailabilityZone": "us-east-1a", "Size": 8}, "InvalidZone.NotFound"),
        ({"AvailabilityZone": "eu-west-1a", "Size": 0}, "InvalidParameterValue"),
        (
            {"AvailabilityZone": "eu-west-1a", "Size": 8, "VolumeType": "floppy"},
            "InvalidParameterValue",
        ),
        (
            {"AvailabilityZone": "eu-west-1a", "SnapshotId": "snap-0123456789abcdef0"},
            "InvalidSnapshot.NotFound",
        ),
    ],
)
def test_create_volume_errors(ec2: Any, kwargs: dict[str, Any], code: str) -> None:
    with pytest.raises(ClientError) as caught:
        ec2.create_volume(**kwargs)
    assert caught.value.response["Error"]["Code"] == code
    assert ec2.describe_volumes()["Volumes"] == []


def test_unknown_and_foreign_volumes(ec2: Any, cloud: Cloud) -> None:
    volume = ec2.create_volume(AvailabilityZone="eu-west-1a", Size=1)["VolumeId"]
    cloud.accounts.create("333344445555", None, "AKIAVOL", "v")
    other = amiable.Session(cloud=cloud, region="eu-west-1", account="333344445555").client("ec2")
    for call in (
        lambda: other.describe_volumes(VolumeIds=[volume]),
        lambda: other.delete_volume(VolumeId=volume),
        lambda: other.create_snapshot(VolumeId=volume),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert caught.value.response["Error"]["Code"] == "InvalidVolume.NotFound"
    with pytest.raises(ClientError) as caught:
        ec2.describe_volumes(VolumeIds=["vol-12"])
    assert caught.value.response["Error"]["Code"] == "InvalidVolumeID.Malformed"
