"""Launch templates, GetImageAncestry and DescribeImageReferences through real
boto3 clients, and `ami lineage`."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import amiable
from amiable.cloud.core.home import Cloud
from api_helpers import OTHER, cloud_with_other_account, code_of, imported_snapshot, register


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return cloud_with_other_account(tmp_path / "home")


def client(cloud: Cloud, region: str = "us-east-1", account: str = "000000000000") -> Any:
    return amiable.Session(cloud=cloud, account=account, region=region).client("ec2")


def copied(ec2: Any, source: str, region: str, name: str) -> str:
    image_id = str(ec2.copy_image(SourceImageId=source, SourceRegion=region, Name=name)["ImageId"])
    ec2.get_waiter("image_available").wait(ImageIds=[image_id], WaiterConfig={"Delay": 0.2})
    return image_id


def test_deleting_launch_template_versions(cloud: Cloud, tmp_path: Path) -> None:
    ec2 = client(cloud)
    image = register(ec2, imported_snapshot(ec2, tmp_path / "r"), "base")
    ec2.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={"ImageId": image})
    for size in ("t3.small", "t3.large"):
        ec2.create_launch_template_version(
            LaunchTemplateName="web", LaunchTemplateData={"InstanceType": size}
        )
    answer = ec2.delete_launch_template_versions(
        LaunchTemplateName="web", Versions=["3", "1", "9", "x"]
    )
    assert [v["VersionNumber"] for v in answer["SuccessfullyDeletedLaunchTemplateVersions"]] == [3]
    refused = answer["UnsuccessfullyDeletedLaunchTemplateVersions"]
    assert [r["ResponseError"]["Code"] for r in refused] == [
        "unexpectedError",  # 1 is the default version
        "launchTemplateVersionDoesNotExist",
        "launchTemplateVersionDoesNotExist",
    ]
    (template,) = ec2.describe_launch_templates(LaunchTemplateNames=["web"])["LaunchTemplates"]
    assert (template["DefaultVersionNumber"], template["LatestVersionNumber"]) == (1, 2)
    versions = ec2.describe_launch_template_versions(LaunchTemplateName="web")
    assert [v["VersionNumber"] for v in versions["LaunchTemplateVersions"]] == [1, 2]


def test_launch_templates_and_their_versions(cloud: Cloud, tmp_path: Path) -> None:
    ec2 = client(cloud)
    image = register(ec2, imported_snapshot(ec2, tmp_path / "r"), "base")
    made = ec2.create_launch_template(
        LaunchTemplateName="web",
        VersionDescription="first",
        LaunchTemplateData={
            "ImageId": image,
            "InstanceType": "t3.micro",
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": [{"Key": "role", "Value": "web"}]}
            ],
        },
        TagSpecifications=[
            {"ResourceType": "launch-template", "Tags": [{"Key": "team", "Value": "platform"}]}
        ],
    )["LaunchTemplate"]
    assert (made["DefaultVersionNumber"], made["LatestVersionNumber"]) == (1, 1)
    template_id = made["LaunchTemplateId"]
    assert template_id.startswith("lt-")
    second = ec2.create_launch_template_version(
        LaunchTemplateId=template_id,
        SourceVersion="1",
        LaunchTemplateData={"InstanceType": "t3.large"},
    )["LaunchTemplateVersion"]
    assert second["VersionNumber"] == 2 and second["DefaultVersion"] is False
    assert second["LaunchTemplateData"]["ImageId"] == image  # carried from the source version
    assert second["LaunchTemplateData"]["InstanceType"] == "t3.large"
    versions = ec2.describe_launch_template_versions(LaunchTemplateName="web")[
        "LaunchTemplateVersions"
    ]
    assert [v["VersionNumber"] for v in versions] == [1, 2]
    assert versions[0]["LaunchTemplateData"]["TagSpecifications"][0]["Tags"] == [
        {"Key": "role", "Value": "web"}
    ]
    latest = ec2.describe_launch_template_versions(
        LaunchTemplateId=template_id, Versions=["$Latest"]
    )
    assert [v["VersionNumber"] for v in latest["LaunchTemplateVersions"]] == [2]
    ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion="2")
    (described,) = ec2.describe_launch_templates(LaunchTemplateNames=["web"])["LaunchTemplates"]
    assert described["DefaultVersionNumber"] == 2
    assert described["Tags"] == [{"Key": "team", "Value": "platform"}]
    by_filter = ec2.describe_launch_template_versions(
        LaunchTemplateId=template_id, Filters=[{"Name": "is-default-version", "Values": ["true"]}]
    )["LaunchTemplateVersions"]
    assert [v["VersionNumber"] for v in by_filter] == [2]
    assert (
        code_of(
            ec2.create_launch_template,
            LaunchTemplateName="web",
            LaunchTemplateData={"InstanceType": "t3.micro"},
        )
        == "InvalidLaunchTemplateName.AlreadyExistsException"
    )
    ec2.delete_launch_template(LaunchTemplateName="web")
    assert code_of(ec2.describe_launch_templates, LaunchTemplateNames=["web"]) == (
        "InvalidLaunchTemplateName.NotFoundException"
    )
    other = client(cloud, account=OTHER)
    assert other.describe_launch_templates()["LaunchTemplates"] == []


def test_image_references_find_launch_templates(cloud: Cloud, tmp_path: Path) -> None:
    ec2 = client(cloud)
    snapshot = imported_snapshot(ec2, tmp_path / "r")
    used, unused = register(ec2, snapshot, "used"), register(ec2, snapshot, "unused")
    made = ec2.create_launch_template(
        LaunchTemplateName="app", LaunchTemplateData={"ImageId": used}
    )["LaunchTemplate"]
    found = ec2.describe_image_references(ImageIds=[used, unused], IncludeAllResourceTypes=True)
    assert found["ImageReferences"] == [
        {
            "ImageId": used,
            "ResourceType": "ec2:LaunchTemplate",
            "Arn": f"arn:aws:ec2:us-east-1:000000000000:launch-template/{made['LaunchTemplateId']}",
        }
    ]
    assert (
        ec2.describe_image_references(
            ImageIds=[unused], ResourceTypes=[{"ResourceType": "ec2:LaunchTemplate"}]
        )["ImageReferences"]
        == []
    )
    assert code_of(ec2.describe_image_references, ImageIds=[used]) == "MissingParameter"


def test_ancestry_follows_copies_across_regions_and_accounts(cloud: Cloud, tmp_path: Path) -> None:
    east = client(cloud)
    root = register(east, imported_snapshot(east, tmp_path / "r"), "root")
    west = client(cloud, "us-west-2")
    middle = copied(west, root, "us-east-1", "middle")
    europe = client(cloud, "eu-west-1")
    leaf = copied(europe, middle, "us-west-2", "leaf")
    chain = europe.get_image_ancestry(ImageId=leaf)["ImageAncestryEntries"]
    assert [(e["ImageId"], e.get("SourceImageRegion")) for e in chain] == [
        (leaf, "us-west-2"),
        (middle, "us-east-1"),
        (root, None),
    ]
    # another account sees the chain up to where its access ends
    west.modify_image_attribute(ImageId=middle, LaunchPermission={"Add": [{"UserId": OTHER}]})
    for snapshot in west.describe_snapshots(OwnerIds=["self"])["Snapshots"]:
        west.modify_snapshot_attribute(
            SnapshotId=snapshot["SnapshotId"],
            CreateVolumePermission={"Add": [{"UserId": OTHER}]},
        )
    theirs = client(cloud, "us-west-2", OTHER)
    own = copied(theirs, middle, "us-west-2", "theirs")
    chain = theirs.get_image_ancestry(ImageId=own)["ImageAncestryEntries"]
    assert [e["ImageId"] for e in chain] == [own, middle]  # root is not shared with them
    assert chain[-1]["SourceImageId"] == root
    assert code_of(theirs.get_image_ancestry, ImageId=root) == "InvalidAMIID.NotFound"


def test_ami_lineage_draws_the_tree(cloud: Cloud, tmp_path: Path) -> None:
    east = client(cloud)
    root = register(east, imported_snapshot(east, tmp_path / "r"), "golden-root")
    west = client(cloud, "us-west-2")
    middle = copied(west, root, "us-east-1", "golden-west")
    child = copied(west, middle, "us-west-2", "golden-west-child")
    drawn = subprocess.run(
        [
            sys.executable,
            "-m",
            "amiable.cli",
            "--home",
            str(cloud.home),
            "--region",
            "us-west-2",
            "lineage",
            middle,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert drawn.returncode == 0, drawn.stderr
    lines = drawn.stdout.splitlines()
    assert root in lines[0] and "golden-root" in lines[0] and "us-east-1" in lines[0]
    assert any(middle in line and "golden-west" in line for line in lines[1:])
    assert any(child in line and "child" in line for line in lines)
