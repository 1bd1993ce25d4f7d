"""A deregistered image's id answers as DescribeImages documents it: shown as
`deregistered` for a short interval, then an empty result, then (eventually)
unknown; every other action calls it unavailable."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import amiable
from amiable.cloud.core.home import Cloud
from amiable.cloud.images.deregistered import REMEMBERED, SHOWN
from amiable.cloud.rbin.recycle_bin import sweep_all
from api_helpers import OTHER, cloud_with_other_account, error_of, imported_snapshot, register

REGION = "eu-west-2"
NEVER = "ami-0123456789abcdef0"


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return cloud_with_other_account(tmp_path / "home")


@pytest.fixture
def ec2(cloud: Cloud) -> Any:
    return amiable.Session(cloud=cloud, region=REGION).client("ec2")


@pytest.fixture
def image(ec2: Any, tmp_path: Path) -> str:
    return register(ec2, imported_snapshot(ec2, tmp_path / "root"), "golden-1", Description="g")


def named(ec2: Any, *ids: str) -> list[dict[str, Any]]:
    return list(ec2.describe_images(ImageIds=list(ids))["Images"])


def test_a_deregistered_image_shows_briefly_then_returns_empty_results(
    cloud: Cloud, ec2: Any, image: str
) -> None:
    ec2.deregister_image(ImageId=image)
    (shown,) = named(ec2, image)
    assert (shown["ImageId"], shown["Name"], shown["State"]) == (image, "golden-1", "deregistered")
    assert ec2.describe_images(Owners=["self"])["Images"] == []  # listings never show it
    assert error_of(ec2.describe_images, ImageIds=[image, NEVER])["Message"] == (
        f"The image id '[{NEVER}]' does not exist"
    )
    available = ec2.describe_images(
        ImageIds=[image], Filters=[{"Name": "state", "Values": ["available"]}]
    )
    assert available["Images"] == []

    cloud.clock.advance(SHOWN)
    assert named(ec2, image) == []
    cloud.clock.advance(REMEMBERED - SHOWN - timedelta(seconds=1))
    sweep_all(cloud)
    assert named(ec2, image) == []  # not forgotten before its time


def test_the_id_is_eventually_unknown(cloud: Cloud, ec2: Any, image: str) -> None:
    ec2.deregister_image(ImageId=image)
    cloud.clock.advance(REMEMBERED)
    assert named(ec2, image) == []  # until the sweeper forgets it
    sweep_all(cloud)
    assert error_of(ec2.describe_images, ImageIds=[image])["Code"] == "InvalidAMIID.NotFound"
    assert error_of(ec2.deregister_image, ImageId=image)["Code"] == "InvalidAMIID.NotFound"


def test_other_actions_call_it_unavailable_and_its_name_is_free(
    ec2: Any, image: str, tmp_path: Path
) -> None:
    ec2.deregister_image(ImageId=image)
    calls: list[tuple[Any, dict[str, Any]]] = [
        (ec2.deregister_image, {"ImageId": image}),
        (ec2.describe_image_attribute, {"ImageId": image, "Attribute": "launchPermission"}),
        (ec2.modify_image_attribute, {"ImageId": image, "Description": {"Value": "x"}}),
        (ec2.copy_image, {"SourceImageId": image, "SourceRegion": REGION, "Name": "copy"}),
        (ec2.disable_image, {"ImageId": image}),
        (ec2.get_image_ancestry, {"ImageId": image}),
    ]
    for call, params in calls:
        assert error_of(call, **params) == {
            "Code": "InvalidAMIID.Unavailable",
            "Message": f"The image id '[{image}]' is no longer available",
            "Status": 400,
        }
    again = register(ec2, imported_snapshot(ec2, tmp_path / "again"), "golden-1")
    assert [i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]] == [again]


def test_accounts_it_was_shared_with_may_still_name_it(cloud: Cloud, ec2: Any, image: str) -> None:
    ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"UserId": OTHER}]})
    cloud.accounts.create("333333333333", "stranger", "AKIASTRANGER", "s")
    other = amiable.Session(cloud=cloud, region=REGION, account=OTHER).client("ec2")
    stranger = amiable.Session(cloud=cloud, region=REGION, account="333333333333").client("ec2")
    ec2.deregister_image(ImageId=image)
    assert [i["State"] for i in named(other, image)] == ["deregistered"]
    assert [i["ImageId"] for i in other.describe_images(ExecutableUsers=["self"])["Images"]] == []
    copied = error_of(other.copy_image, SourceImageId=image, SourceRegion=REGION, Name="copy")
    assert copied["Code"] == "InvalidAMIID.Unavailable"
    assert error_of(stranger.describe_images, ImageIds=[image])["Code"] == "InvalidAMIID.NotFound"
    cloud.clock.advance(SHOWN)
    assert named(other, image) == []


def test_a_restart_remembers_deregistered_ids(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ec2 = amiable.Session(home=home, region=REGION).client("ec2")
    image = register(ec2, imported_snapshot(ec2, tmp_path / "root"), "golden-1")
    ec2.deregister_image(ImageId=image)
    again = amiable.Session(home=home, region=REGION).client("ec2")
    assert [i["State"] for i in named(again, image)] in (["deregistered"], [])
    assert error_of(again.deregister_image, ImageId=image)["Code"] == "InvalidAMIID.Unavailable"


def test_ansible_ec2_ami_absent_with_wait_finishes(cloud: Cloud, ec2: Any, image: str) -> None:
    """What amazon.aws.ec2_ami does for `state: absent, wait: true`: look the image
    up with its attributes, deregister it, then poll until the lookup finds nothing
    (InvalidAMIID.Unavailable from the attributes is expected and skipped); running
    the same task again changes nothing."""

    def lookup() -> dict[str, Any] | None:
        images = named(ec2, image)
        if not images:
            return None
        found = error_of(ec2.describe_image_attribute, ImageId=image, Attribute="launchPermission")
        assert found["Code"] == "InvalidAMIID.Unavailable"
        return dict(images[0])

    assert named(ec2, image)[0]["State"] == "available"
    ec2.deregister_image(ImageId=image)
    polls = 0
    while lookup() is not None:
        cloud.clock.advance(timedelta(seconds=3))  # its poll interval
        polls += 1
        assert polls <= SHOWN / timedelta(seconds=3)
    assert lookup() is None  # the second run: already absent, nothing to do
