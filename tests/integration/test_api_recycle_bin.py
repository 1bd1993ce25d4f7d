"""The Recycle Bin through real boto3 `rbin` and `ec2` clients: rules, what goes
into the bin, restoring, and purging when retention ends (clock moved)."""

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

import amiable
from amiable.catalog.regional import snapshots
from amiable.cloud.core.home import Cloud
from amiable.cloud.rbin.recycle_bin import sweep_all
from api_helpers import code_of, imported_snapshot, register, store_snapshot_of

REGION = "eu-west-3"


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return Cloud(tmp_path / "home")


@pytest.fixture
def rbin(cloud: Cloud) -> Any:
    return amiable.Session(cloud=cloud, region=REGION).client("rbin")


@pytest.fixture
def ec2(cloud: Cloud) -> Any:
    return amiable.Session(cloud=cloud, region=REGION).client("ec2")


def days(n: int) -> dict[str, Any]:
    return {"RetentionPeriodValue": n, "RetentionPeriodUnit": "DAYS"}


def snapshot_ids(ec2: Any) -> list[str]:
    return [s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]]


def test_rules_are_created_listed_updated_and_deleted(rbin: Any) -> None:
    rule = rbin.create_rule(
        ResourceType="EBS_SNAPSHOT",
        RetentionPeriod=days(7),
        Description="keep snapshots a week",
        ExcludeResourceTags=[{"ResourceTagKey": "scratch", "ResourceTagValue": "yes"}],
        Tags=[{"Key": "team", "Value": "platform"}],
    )
    assert (rule["Status"], rule["LockState"]) == ("available", "unlocked")
    assert rule["RuleArn"].startswith(f"arn:aws:rbin:{REGION}:000000000000:rule/")
    tagged = rbin.create_rule(
        ResourceType="EC2_IMAGE",
        RetentionPeriod=days(30),
        ResourceTags=[{"ResourceTagKey": "golden", "ResourceTagValue": "true"}],
    )
    listed = rbin.list_rules(ResourceType="EBS_SNAPSHOT")["Rules"]
    assert [r["Identifier"] for r in listed] == [rule["Identifier"]]
    images = rbin.list_rules(
        ResourceType="EC2_IMAGE",
        ResourceTags=[{"ResourceTagKey": "golden", "ResourceTagValue": "true"}],
    )["Rules"]
    assert [r["Identifier"] for r in images] == [tagged["Identifier"]]
    got = rbin.get_rule(Identifier=rule["Identifier"])
    assert got["ExcludeResourceTags"] == [{"ResourceTagKey": "scratch", "ResourceTagValue": "yes"}]
    updated = rbin.update_rule(Identifier=rule["Identifier"], RetentionPeriod=days(14))
    assert updated["RetentionPeriod"] == days(14)
    assert rbin.list_tags_for_resource(ResourceArn=rule["RuleArn"])["Tags"] == [
        {"Key": "team", "Value": "platform"}
    ]
    rbin.tag_resource(ResourceArn=rule["RuleArn"], Tags=[{"Key": "env", "Value": "prod"}])
    rbin.untag_resource(ResourceArn=rule["RuleArn"], TagKeys=["team"])
    assert rbin.list_tags_for_resource(ResourceArn=rule["RuleArn"])["Tags"] == [
        {"Key": "env", "Value": "prod"}
    ]
    rbin.delete_rule(Identifier=rule["Identifier"])
    assert code_of(rbin.get_rule, Identifier=rule["Identifier"]) == "ResourceNotFoundException"
    for bad in (days(366), days(400)):
        assert code_of(rbin.create_rule, ResourceType="EC2_IMAGE", RetentionPeriod=bad) == (
            "ValidationException"
        )


def test_a_locked_rule_stays_until_its_unlock_delay_passes(cloud: Cloud, rbin: Any) -> None:
    lock = {"UnlockDelay": {"UnlockDelayValue": 7, "UnlockDelayUnit": "DAYS"}}
    rule = rbin.create_rule(
        ResourceType="EBS_SNAPSHOT", RetentionPeriod=days(10), LockConfiguration=lock
    )
    assert rule["LockState"] == "locked"
    identifier = rule["Identifier"]
    assert code_of(rbin.delete_rule, Identifier=identifier) == "ConflictException"
    assert code_of(rbin.update_rule, Identifier=identifier, RetentionPeriod=days(1)) == (
        "ConflictException"
    )
    unlocking = rbin.unlock_rule(Identifier=identifier)
    assert unlocking["LockState"] == "pending_unlock"
    assert unlocking["LockEndTime"] > datetime.now(UTC) + timedelta(days=6)
    assert code_of(rbin.delete_rule, Identifier=identifier) == "ConflictException"
    cloud.clock.advance(timedelta(days=7, seconds=1))
    assert rbin.get_rule(Identifier=identifier)["LockState"] == "unlocked"
    rbin.lock_rule(Identifier=identifier, LockConfiguration=lock)
    assert rbin.list_rules(ResourceType="EBS_SNAPSHOT", LockState="locked")["Rules"]
    tag_rule = rbin.create_rule(
        ResourceType="EBS_SNAPSHOT",
        RetentionPeriod=days(1),
        ResourceTags=[{"ResourceTagKey": "k"}],
    )
    assert (
        code_of(rbin.lock_rule, Identifier=tag_rule["Identifier"], LockConfiguration=lock)
        == "ValidationException"
    )


def test_deleted_snapshots_wait_in_the_bin_then_are_purged(
    cloud: Cloud, rbin: Any, ec2: Any, tmp_path: Path
) -> None:
    rbin.create_rule(
        ResourceType="EBS_SNAPSHOT",
        RetentionPeriod=days(3),
        ExcludeResourceTags=[{"ResourceTagKey": "scratch", "ResourceTagValue": "yes"}],
    )
    kept = imported_snapshot(ec2, tmp_path / "a")
    scratch = imported_snapshot(ec2, tmp_path / "b")
    ec2.create_tags(Resources=[scratch], Tags=[{"Key": "scratch", "Value": "yes"}])
    store_id = store_snapshot_of(cloud, REGION, kept)
    ec2.delete_snapshot(SnapshotId=kept)
    ec2.delete_snapshot(SnapshotId=scratch)  # excluded: gone at once
    assert snapshot_ids(ec2) == []
    (binned,) = ec2.list_snapshots_in_recycle_bin()["Snapshots"]
    assert binned["SnapshotId"] == kept
    assert binned["RecycleBinExitTime"] - binned["RecycleBinEnterTime"] == timedelta(days=3)
    assert code_of(ec2.describe_snapshots, SnapshotIds=[kept]) == "InvalidSnapshot.NotFound"

    restored = ec2.restore_snapshot_from_recycle_bin(SnapshotId=kept)
    assert (restored["SnapshotId"], restored["State"]) == (kept, "completed")
    assert snapshot_ids(ec2) == [kept]
    ec2.delete_snapshot(SnapshotId=kept)
    cloud.clock.advance(timedelta(days=2))
    assert sweep_all(cloud) == 0
    cloud.clock.advance(timedelta(days=1, seconds=1))
    assert sweep_all(cloud) == 1
    assert ec2.list_snapshots_in_recycle_bin()["Snapshots"] == []
    assert store_id not in {s.id for s in cloud.region(REGION).store.snapshots()}
    assert code_of(ec2.restore_snapshot_from_recycle_bin, SnapshotId=kept) == (
        "InvalidSnapshot.NotFound"
    )


def test_deregistered_images_wait_whole_and_come_back(
    cloud: Cloud, rbin: Any, ec2: Any, tmp_path: Path
) -> None:
    rbin.create_rule(
        ResourceType="EC2_IMAGE",
        RetentionPeriod=days(5),
        ResourceTags=[{"ResourceTagKey": "golden"}],
    )
    rbin.create_rule(  # the longest retention wins
        ResourceType="EC2_IMAGE",
        RetentionPeriod=days(9),
        ResourceTags=[{"ResourceTagKey": "golden", "ResourceTagValue": "prod"}],
    )
    snapshot = imported_snapshot(ec2, tmp_path / "r")
    image = register(ec2, snapshot, "golden-1")
    ec2.create_tags(Resources=[image], Tags=[{"Key": "golden", "Value": "prod"}])
    ec2.modify_image_attribute(
        ImageId=image, LaunchPermission={"Add": [{"UserId": "123456789012"}]}
    )
    result = ec2.deregister_image(ImageId=image, DeleteAssociatedSnapshots=True)
    assert result["DeleteSnapshotResults"] == [{"SnapshotId": snapshot, "ReturnCode": "skipped"}]
    assert ec2.describe_images(Owners=["self"])["Images"] == []
    (binned,) = ec2.list_images_in_recycle_bin()["Images"]
    assert (binned["ImageId"], binned["Name"]) == (image, "golden-1")
    assert binned["RecycleBinExitTime"] - binned["RecycleBinEnterTime"] == timedelta(days=9)
    assert code_of(ec2.delete_snapshot, SnapshotId=snapshot) == "InvalidSnapshot.InUse"

    assert ec2.restore_image_from_recycle_bin(ImageId=image)["Return"] is True
    back = ec2.describe_images(ImageIds=[image])["Images"][0]
    assert back["Tags"] == [{"Key": "golden", "Value": "prod"}]
    permissions = ec2.describe_image_attribute(ImageId=image, Attribute="launchPermission")
    assert permissions["LaunchPermissions"] == [{"UserId": "123456789012"}]

    untagged = register(ec2, snapshot, "plain")
    ec2.deregister_image(ImageId=untagged)  # no rule keeps it
    assert [i["ImageId"] for i in ec2.list_images_in_recycle_bin()["Images"]] == []

    ec2.deregister_image(ImageId=image)
    cloud.clock.advance(timedelta(days=9, seconds=1))
    assert sweep_all(cloud) == 1
    assert ec2.list_images_in_recycle_bin()["Images"] == []
    ec2.delete_snapshot(SnapshotId=snapshot)  # no image holds it any more


def test_the_sweeper_purges_after_a_restart(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = Cloud(home)
    session = amiable.Session(cloud=first, region=REGION)
    session.client("rbin").create_rule(ResourceType="EBS_SNAPSHOT", RetentionPeriod=days(1))
    ec2 = session.client("ec2")
    snapshot = imported_snapshot(ec2, tmp_path / "r")
    ec2.delete_snapshot(SnapshotId=snapshot)
    with first.region(REGION).catalog.begin() as conn:  # as if the day passed while down
        conn.execute(
            update(snapshots)
            .where(snapshots.c.snapshot_id == snapshot)
            .values(bin_exit=datetime.now(UTC) - timedelta(seconds=1))
        )
    again = Cloud(home)  # a new process's cloud: its sweeper runs a first pass soon
    ec2 = amiable.Session(cloud=again, region=REGION).client("ec2")
    deadline = time.monotonic() + 30
    while ec2.list_snapshots_in_recycle_bin()["Snapshots"] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ec2.list_snapshots_in_recycle_bin()["Snapshots"] == []
