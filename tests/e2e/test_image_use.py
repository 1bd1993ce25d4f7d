"""Images in use, with real instances: any account launches a base image and
its own copy of it; a deregistered image's id is remembered for as long as an
instance launched from it is not terminated. Needs root (CI runs as root)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import amiable
from amiable.cloud.core.home import Cloud
from amiable.cloud.images.deregistered import REMEMBERED
from amiable.cloud.rbin.recycle_bin import sweep_all
from api_helpers import (
    OTHER,
    base_image,
    cloud_with_other_account,
    code_of,
    terminate,
    terminate_all,
)
from busybox import busybox_root
from helpers import require_root

REGION = "ca-central-1"
WAIT = {"Delay": 0.2}


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Cloud]:
    require_root("instances run in namespaces with overlayfs")
    cloud = cloud_with_other_account(tmp_path / "home")
    yield cloud
    for account in ("000000000000", OTHER):
        terminate_all(amiable.Session(cloud=cloud, account=account, region=REGION).client("ec2"))


@pytest.fixture
def base(cloud: Cloud, tmp_path: Path) -> str:
    return base_image(cloud, REGION, busybox_root(tmp_path / "rootfs"), "busybox-base")


def launch(ec2: Any, image: str) -> str:
    (instance,) = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance["InstanceId"]], WaiterConfig=WAIT)
    return str(instance["InstanceId"])


def test_another_account_launches_a_base_image_and_its_copy_of_it(cloud: Cloud, base: str) -> None:
    other = amiable.Session(cloud=cloud, account=OTHER, region=REGION).client("ec2")
    from_base = launch(other, base)
    copy = other.copy_image(SourceImageId=base, SourceRegion=REGION, Name="my-busybox")["ImageId"]
    other.get_waiter("image_available").wait(ImageIds=[copy], WaiterConfig=WAIT)
    from_copy = launch(other, copy)
    reservations = other.describe_instances(InstanceIds=[from_base, from_copy])["Reservations"]
    launched = {i["InstanceId"]: i["ImageId"] for r in reservations for i in r["Instances"]}
    assert launched == {from_base: base, from_copy: copy}


def test_a_deregistered_id_is_remembered_while_its_instances_live(cloud: Cloud, base: str) -> None:
    ec2 = amiable.Session(cloud=cloud, region=REGION).client("ec2")
    golden = ec2.copy_image(SourceImageId=base, SourceRegion=REGION, Name="golden")["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[golden], WaiterConfig=WAIT)
    instance = launch(ec2, golden)
    ec2.deregister_image(ImageId=golden)
    assert code_of(ec2.run_instances, ImageId=golden, MinCount=1, MaxCount=1) == (
        "InvalidAMIID.Unavailable"
    )
    cloud.clock.advance(REMEMBERED)
    sweep_all(cloud)
    assert ec2.describe_images(ImageIds=[golden])["Images"] == []  # its instance still runs
    terminate(ec2, [instance])
    sweep_all(cloud)
    assert code_of(ec2.describe_images, ImageIds=[golden]) == "InvalidAMIID.NotFound"
