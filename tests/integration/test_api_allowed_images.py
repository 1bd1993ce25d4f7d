"""Allowed AMIs: criteria, enabled and audit mode, ImageAllowed and the
image-allowed filter, with the clock moved for age conditions."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

import amiable
from amiable.cloud.core.home import Cloud
from api_helpers import OTHER, cloud_with_other_account, imported_snapshot, register


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return cloud_with_other_account(tmp_path / "home")


@pytest.fixture
def publisher(cloud: Cloud) -> Any:
    return amiable.Session(cloud=cloud, account=OTHER, region="us-east-1").client("ec2")


@pytest.fixture
def consumer(cloud: Cloud) -> Any:
    return amiable.Session(cloud=cloud, region="us-east-1").client("ec2")


def published(publisher: Any, tmp_path: Path, *names: str) -> list[str]:
    publisher.disable_image_block_public_access()
    snapshot = imported_snapshot(publisher, tmp_path / "root")
    ids = []
    for name in names:
        image = register(publisher, snapshot, name)
        publisher.modify_image_attribute(
            ImageId=image, LaunchPermission={"Add": [{"Group": "all"}]}
        )
        ids.append(image)
    return ids


def seen(ec2: Any, **params: Any) -> dict[str, Any]:
    return {i["Name"]: i.get("ImageAllowed") for i in ec2.describe_images(**params)["Images"]}


def test_enabled_hides_what_no_criterion_allows_but_never_own_images(
    cloud: Cloud, publisher: Any, consumer: Any, tmp_path: Path
) -> None:
    published(publisher, tmp_path, "golden-web", "golden-db", "random-thing")
    register(consumer, imported_snapshot(consumer, tmp_path / "mine"), "my-own")
    assert consumer.get_allowed_images_settings()["State"] == "disabled"
    assert set(seen(consumer)) == {"golden-web", "golden-db", "random-thing", "my-own"}
    assert all(v is None for v in seen(consumer).values())  # no ImageAllowed while disabled

    consumer.replace_image_criteria_in_allowed_images_settings(
        ImageCriteria=[{"ImageProviders": [OTHER], "ImageNames": ["golden-*"]}]
    )
    consumer.enable_allowed_images_settings(AllowedImagesSettingsState="enabled")
    assert seen(consumer) == {"golden-web": True, "golden-db": True, "my-own": True}

    consumer.enable_allowed_images_settings(AllowedImagesSettingsState="audit-mode")
    assert seen(consumer) == {
        "golden-web": True,
        "golden-db": True,
        "random-thing": False,
        "my-own": True,
    }
    not_allowed = seen(consumer, Filters=[{"Name": "image-allowed", "Values": ["false"]}])
    assert not_allowed == {"random-thing": False}
    settings = consumer.get_allowed_images_settings()
    assert settings["State"] == "audit-mode"
    assert settings["ImageCriteria"][0]["ImageNames"] == ["golden-*"]
    consumer.disable_allowed_images_settings()
    assert len(seen(consumer)) == 4


def test_age_and_deprecation_conditions_follow_the_clock(
    cloud: Cloud, publisher: Any, consumer: Any, tmp_path: Path
) -> None:
    _, old = published(publisher, tmp_path, "fresh", "old")
    consumer.replace_image_criteria_in_allowed_images_settings(
        ImageCriteria=[
            {
                "ImageProviders": [OTHER],
                "CreationDateCondition": {"MaximumDaysSinceCreated": 30},
                "DeprecationTimeCondition": {"MaximumDaysSinceDeprecated": 0},
            }
        ]
    )
    consumer.enable_allowed_images_settings(AllowedImagesSettingsState="enabled")
    assert set(seen(consumer)) == {"fresh", "old"}
    publisher.enable_image_deprecation(
        ImageId=old, DeprecateAt=datetime.now(UTC) + timedelta(days=1)
    )
    cloud.clock.advance(timedelta(days=2))
    assert set(seen(consumer, IncludeDeprecated=True)) == {"fresh"}  # deprecated: not allowed
    cloud.clock.advance(timedelta(days=30))
    assert seen(consumer, IncludeDeprecated=True) == {}  # too old now


def test_bad_criteria_change_nothing(consumer: Any) -> None:
    with pytest.raises(ClientError) as caught:
        consumer.replace_image_criteria_in_allowed_images_settings(
            ImageCriteria=[{"ImageProviders": ["someone"]}]
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert consumer.get_allowed_images_settings()["ImageCriteria"] == []
