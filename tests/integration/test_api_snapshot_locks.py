"""Snapshot locks in governance and compliance mode, with the clock moved."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import amiable
from amiable.cloud.core.home import Cloud
from api_helpers import code_of, imported_snapshot, register


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return Cloud(tmp_path / "home")


@pytest.fixture
def ec2(cloud: Cloud) -> Any:
    return amiable.Session(cloud=cloud, region="ap-northeast-1").client("ec2")


@pytest.fixture
def snapshot(ec2: Any, tmp_path: Path) -> str:
    return imported_snapshot(ec2, tmp_path / "r")


def state(ec2: Any, snapshot: str) -> str:
    (lock,) = ec2.describe_locked_snapshots(SnapshotIds=[snapshot])["Snapshots"]
    return str(lock["LockState"])


def test_governance_lock_blocks_deletion_until_unlocked(ec2: Any, snapshot: str) -> None:
    lock = ec2.lock_snapshot(SnapshotId=snapshot, LockMode="governance", LockDuration=7)
    assert (lock["LockState"], lock["LockDuration"]) == ("governance", 7)
    assert lock["LockExpiresOn"] - lock["LockCreatedOn"] == timedelta(days=7)
    assert code_of(ec2.delete_snapshot, SnapshotId=snapshot) == "SnapshotLocked"
    ec2.lock_snapshot(SnapshotId=snapshot, LockMode="governance", LockDuration=1)  # shortened
    assert ec2.unlock_snapshot(SnapshotId=snapshot)["SnapshotId"] == snapshot
    assert ec2.describe_locked_snapshots(SnapshotIds=[snapshot])["Snapshots"] == []
    ec2.delete_snapshot(SnapshotId=snapshot)


def test_locks_expire_with_time(cloud: Cloud, ec2: Any, snapshot: str) -> None:
    ec2.lock_snapshot(
        SnapshotId=snapshot,
        LockMode="compliance",
        ExpirationDate=datetime.now(UTC) + timedelta(days=2),
    )
    assert state(ec2, snapshot) == "compliance"
    cloud.clock.advance(timedelta(days=2, minutes=1))
    assert state(ec2, snapshot) == "expired"
    assert [
        s["SnapshotId"]
        for s in ec2.describe_locked_snapshots(
            Filters=[{"Name": "lock-state", "Values": ["expired"]}]
        )["Snapshots"]
    ] == [snapshot]
    ec2.delete_snapshot(SnapshotId=snapshot)


def test_compliance_lock_can_change_only_during_its_cooling_off(
    cloud: Cloud, ec2: Any, snapshot: str
) -> None:
    lock = ec2.lock_snapshot(
        SnapshotId=snapshot, LockMode="compliance", LockDuration=30, CoolOffPeriod=24
    )
    assert lock["LockState"] == "compliance-cooloff"
    assert lock["CoolOffPeriodExpiresOn"] - lock["LockCreatedOn"] == timedelta(hours=24)
    ec2.lock_snapshot(SnapshotId=snapshot, LockMode="compliance", LockDuration=10, CoolOffPeriod=24)
    cloud.clock.advance(timedelta(hours=25))
    assert state(ec2, snapshot) == "compliance"
    assert code_of(ec2.unlock_snapshot, SnapshotId=snapshot) == "SnapshotLocked"
    assert (
        code_of(ec2.lock_snapshot, SnapshotId=snapshot, LockMode="compliance", LockDuration=1)
        == "SnapshotLocked"
    )  # shortening
    assert (
        code_of(ec2.lock_snapshot, SnapshotId=snapshot, LockMode="governance", LockDuration=30)
        == "SnapshotLocked"
    )  # changing mode
    extended = ec2.lock_snapshot(SnapshotId=snapshot, LockMode="compliance", LockDuration=60)
    assert extended["LockState"] == "compliance"
    assert code_of(ec2.delete_snapshot, SnapshotId=snapshot) == "SnapshotLocked"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"LockMode": "governance"}, "InvalidParameterCombination"),
        ({"LockMode": "governance", "LockDuration": 36501}, "InvalidParameterValue"),
        (
            {"LockMode": "governance", "LockDuration": 3, "CoolOffPeriod": 2},
            "InvalidParameterCombination",
        ),
        (
            {"LockMode": "compliance", "LockDuration": 3, "CoolOffPeriod": 73},
            "InvalidParameterValue",
        ),
        ({"LockMode": "strict", "LockDuration": 3}, "InvalidParameterValue"),
    ],
)
def test_bad_locks_change_nothing(
    ec2: Any, snapshot: str, params: dict[str, Any], code: str
) -> None:
    assert code_of(ec2.lock_snapshot, SnapshotId=snapshot, **params) == code
    assert ec2.describe_locked_snapshots()["Snapshots"] == []


def test_deregistering_with_associated_snapshots_reports_locked_ones(
    ec2: Any, snapshot: str
) -> None:
    image = register(ec2, snapshot, "locked-root")
    ec2.lock_snapshot(SnapshotId=snapshot, LockMode="governance", LockDuration=1)
    result = ec2.deregister_image(ImageId=image, DeleteAssociatedSnapshots=True)
    assert result["DeleteSnapshotResults"] == [
        {"SnapshotId": snapshot, "ReturnCode": "client-error"}
    ]
    assert ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"]
