"""Deprecation and deregistration protection, with the cloud's clock moved
forward instead of sleeping."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import amiable
from amiable.cloud.core.home import Cloud
from api_helpers import code_of, imported_snapshot, register


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    cloud = Cloud(tmp_path / "home")
    cloud.accounts.create("222222222222", "other", "AKIAOTHER", "other-secret")
    return cloud


@pytest.fixture
def owner(cloud: Cloud) -> Any:
    return amiable.Session(cloud=cloud, region="eu-central-1").client("ec2")


@pytest.fixture
def other(cloud: Cloud) -> Any:
    return amiable.Session(cloud=cloud, account="222222222222", region="eu-central-1").client("ec2")


@pytest.fixture
def image(owner: Any, tmp_path: Path) -> str:
    return register(owner, imported_snapshot(owner, tmp_path / "r"), "base")


def listed(ec2: Any, **params: Any) -> list[str]:
    return [i["ImageId"] for i in ec2.describe_images(**params)["Images"]]


def test_deprecated_images_hide_from_other_accounts_once_the_time_comes(
    cloud: Cloud, owner: Any, other: Any, image: str
) -> None:
    owner.modify_image_attribute(
        ImageId=image, LaunchPermission={"Add": [{"UserId": "222222222222"}]}
    )
    at = datetime.now(UTC) + timedelta(days=2, seconds=40)
    assert owner.enable_image_deprecation(ImageId=image, DeprecateAt=at)["Return"] is True
    shown = owner.describe_images(ImageIds=[image])["Images"][0]["DeprecationTime"]
    rounded = (at + timedelta(seconds=30)).replace(second=0, microsecond=0)
    assert shown == rounded.strftime("%Y-%m-%dT%H:%M:%SZ")  # to the nearest minute
    assert listed(other) == [image]  # not deprecated yet
    cloud.clock.advance(timedelta(days=3))
    assert listed(other) == []
    assert listed(other, IncludeDeprecated=True) == [image]
    assert listed(other, ImageIds=[image]) == [image]  # named by id
    assert listed(owner) == [image]  # owners always see theirs
    assert listed(owner, Filters=[{"Name": "deprecation-time", "Values": [shown]}]) == [image]
    owner.disable_image_deprecation(ImageId=image)
    assert listed(other) == [image]
    assert "DeprecationTime" not in owner.describe_images(ImageIds=[image])["Images"][0]


@pytest.mark.parametrize(
    "when",
    [timedelta(minutes=-5), timedelta(days=3651)],
    ids=["in the past", "over ten years ahead"],
)
def test_deprecation_time_bounds(owner: Any, image: str, when: timedelta) -> None:
    at = datetime.now(UTC) + when
    assert code_of(owner.enable_image_deprecation, ImageId=image, DeprecateAt=at) == (
        "InvalidParameterValue"
    )
    assert "DeprecationTime" not in owner.describe_images(ImageIds=[image])["Images"][0]


def test_public_images_deprecate_within_two_years_of_creation(owner: Any, image: str) -> None:
    owner.disable_image_block_public_access()
    owner.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"Group": "all"}]})
    later = datetime.now(UTC) + timedelta(days=800)
    assert code_of(owner.enable_image_deprecation, ImageId=image, DeprecateAt=later) == (
        "InvalidParameterValue"
    )
    owner.enable_image_deprecation(ImageId=image, DeprecateAt=later - timedelta(days=100))


def protection(ec2: Any, image: str) -> str:
    return str(ec2.describe_images(ImageIds=[image])["Images"][0]["DeregistrationProtection"])


def test_deregistration_protection_without_cooldown(owner: Any, image: str) -> None:
    assert protection(owner, image) == "disabled"
    owner.enable_image_deregistration_protection(ImageId=image)
    assert protection(owner, image) == "enabled"
    attribute = owner.describe_image_attribute(ImageId=image, Attribute="deregistrationProtection")
    assert attribute["DeregistrationProtection"] == {"Value": "enabled"}
    assert code_of(owner.deregister_image, ImageId=image) == "OperationNotPermitted"
    owner.disable_image_deregistration_protection(ImageId=image)
    assert protection(owner, image) == "disabled"
    owner.deregister_image(ImageId=image)
    assert listed(owner) == []


def test_deregistration_protection_with_cooldown_holds_for_24_hours(
    cloud: Cloud, owner: Any, image: str
) -> None:
    owner.enable_image_deregistration_protection(ImageId=image, WithCooldown=True)
    assert protection(owner, image) == "enabled-with-cooldown"
    owner.disable_image_deregistration_protection(ImageId=image)
    assert protection(owner, image).startswith("disabled-until ")
    assert code_of(owner.deregister_image, ImageId=image) == "OperationNotPermitted"
    cloud.clock.advance(timedelta(hours=23))
    assert code_of(owner.deregister_image, ImageId=image) == "OperationNotPermitted"
    cloud.clock.advance(timedelta(hours=1, seconds=1))
    owner.deregister_image(ImageId=image)
    assert listed(owner) == []


def test_snapshots_of_disabled_images_stay_in_use(owner: Any, tmp_path: Path) -> None:
    snapshot = imported_snapshot(owner, tmp_path / "s")
    image = register(owner, snapshot, "to-disable")
    owner.disable_image(ImageId=image)
    assert code_of(owner.delete_snapshot, SnapshotId=snapshot) == "InvalidSnapshot.InUse"
    result = owner.deregister_image(ImageId=image, DeleteAssociatedSnapshots=True)
    assert result["DeleteSnapshotResults"] == [{"SnapshotId": snapshot, "ReturnCode": "success"}]
