"""Instances that use an image, with real instances: DescribeImageReferences
lists the caller's instances by state (terminated ones while DescribeInstances
still shows them), and an AMI usage report counts other accounts' instances
that are not terminated. Needs root (CI runs as root)."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from instance_api import launch

import amiable
from amiable.cloud.core.home import Cloud
from api_helpers import OTHER, cloud_with_other_account, terminate, terminate_all
from helpers import require_root

REGION = "eu-central-1"  # the region of conftest's `image`
OWNER = "000000000000"
FAST = {"Delay": 0.2}


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Cloud]:
    require_root("instances run in namespaces with overlayfs")
    cloud = cloud_with_other_account(tmp_path / "home")
    yield cloud
    for account in (OWNER, OTHER):
        terminate_all(amiable.Session(cloud=cloud, account=account, region=REGION).client("ec2"))


def instances_using(ec2: Any, image: str, *states: str) -> list[str]:
    """The ids in the instance ARNs DescribeImageReferences answers."""
    kind: dict[str, Any] = {"ResourceType": "ec2:Instance"}
    if states:
        kind["ResourceTypeOptions"] = [{"OptionName": "state-name", "OptionValues": list(states)}]
    found = ec2.describe_image_references(ImageIds=[image], ResourceTypes=[kind])
    prefix = f"arn:aws:ec2:{REGION}:{OWNER}:instance/"
    arns = [r["Arn"] for r in found["ImageReferences"]]
    assert all(a.startswith(prefix) for a in arns), arns
    return sorted(a.removeprefix(prefix) for a in arns)


def test_references_list_instances_by_state(
    cloud: Cloud, clients: tuple[Any, Any], image: str
) -> None:
    ec2, _ = clients
    running, stopped, ended = sorted(launch(ec2, image, count=3))
    ec2.stop_instances(InstanceIds=[stopped])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[stopped], WaiterConfig=FAST)
    terminate(ec2, [ended])
    assert instances_using(ec2, image) == [running, stopped, ended]
    assert instances_using(ec2, image, "running") == [running]
    assert instances_using(ec2, image, "stopped", "terminated") == [stopped, ended]
    assert instances_using(ec2, image, "pending") == []
    everything = ec2.describe_image_references(ImageIds=[image], IncludeAllResourceTypes=True)
    assert len(everything["ImageReferences"]) == 3
    cloud.clock.advance(timedelta(hours=2))  # DescribeInstances no longer shows `ended`
    assert instances_using(ec2, image, "terminated") == []
    assert instances_using(ec2, image) == [running, stopped]
    other = amiable.Session(cloud=cloud, account=OTHER, region=REGION).client("ec2")
    ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"UserId": OTHER}]})
    assert (
        other.describe_image_references(ImageIds=[image], IncludeAllResourceTypes=True)[
            "ImageReferences"
        ]
        == []
    )  # another account's references are its own resources only


def test_usage_report_counts_other_accounts_instances(
    cloud: Cloud, clients: tuple[Any, Any], image: str
) -> None:
    ec2, _ = clients
    ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"UserId": OTHER}]})
    other = amiable.Session(cloud=cloud, account=OTHER, region=REGION).client("ec2")
    _, ended = launch(other, image, count=2)  # the other one is counted
    terminate(other, [ended])
    launch(ec2, image)  # the owner's own instance is not reported
    report_id = ec2.create_image_usage_report(
        ImageId=image, ResourceTypes=[{"ResourceType": "ec2:Instance"}]
    )["ReportId"]
    ec2.get_waiter("image_usage_report_available").wait(ReportIds=[report_id], WaiterConfig=FAST)
    found = ec2.describe_image_usage_report_entries(ReportIds=[report_id])
    assert [
        (e["AccountId"], e["ResourceType"], e["UsageCount"])
        for e in found["ImageUsageReportEntries"]
    ] == [(OTHER, "ec2:Instance", 1)]
