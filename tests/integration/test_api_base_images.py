"""Base images behave like Amazon's public AMIs: any account finds them under
`Owners=["amazon"]`, copies them within and across regions, and makes volumes
from their snapshots."""

from pathlib import Path
from typing import Any

import pytest

import amiable
from amiable.cli.bootstrap import SYSTEM_ACCOUNT
from amiable.cloud.core.home import Cloud
from api_helpers import OTHER, base_image, cloud_with_other_account

REGION = "us-east-2"
WAIT = {"Delay": 0.2}


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return cloud_with_other_account(tmp_path / "home")


@pytest.fixture
def base(cloud: Cloud, tmp_path: Path) -> str:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text("ID=base\n")
    return base_image(cloud, REGION, root, "base-1")


def copied(ec2: Any, base: str, **params: Any) -> dict[str, Any]:
    """CopyImage of the base image, waited for."""
    image_id = ec2.copy_image(SourceImageId=base, SourceRegion=REGION, **params)["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[image_id], WaiterConfig=WAIT)
    return dict(ec2.describe_images(ImageIds=[image_id])["Images"][0])


@pytest.mark.parametrize("account", ["000000000000", OTHER])
@pytest.mark.parametrize("region", [REGION, "ap-south-1"])
def test_any_account_copies_a_base_image_into_any_region(
    cloud: Cloud, base: str, account: str, region: str
) -> None:
    home = amiable.Session(cloud=cloud, account=account, region=REGION).client("ec2")
    (found,) = home.describe_images(Owners=["amazon"])["Images"]
    assert (found["ImageId"], found["OwnerId"], found["Public"]) == (base, SYSTEM_ACCOUNT, True)
    ec2 = amiable.Session(cloud=cloud, account=account, region=region).client("ec2")
    copy = copied(ec2, base, Name="my-base")
    assert (copy["OwnerId"], copy["SourceImageId"], copy["State"]) == (account, base, "available")
    (snapshot,) = [m["Ebs"]["SnapshotId"] for m in copy["BlockDeviceMappings"]]
    (mine,) = ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"]
    assert (mine["OwnerId"], mine["State"]) == (account, "completed")


def test_base_image_snapshots_are_public_as_amazons_are(cloud: Cloud, base: str) -> None:
    amazon = amiable.Session(cloud=cloud, account=SYSTEM_ACCOUNT, region=REGION).client("ec2")
    (image,) = amazon.describe_images(ImageIds=[base])["Images"]
    (snapshot,) = [m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"]]
    permissions = amazon.describe_snapshot_attribute(
        SnapshotId=snapshot, Attribute="createVolumePermission"
    )["CreateVolumePermissions"]
    assert permissions == [{"Group": "all"}]
    other = amiable.Session(cloud=cloud, account=OTHER, region=REGION).client("ec2")
    volume = other.create_volume(SnapshotId=snapshot, AvailabilityZone=f"{REGION}a")
    assert volume["SnapshotId"] == snapshot
    encrypted = copied(other, base, Name="encrypted-base", Encrypted=True)
    assert encrypted["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
