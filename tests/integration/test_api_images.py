"""RegisterImage, DescribeImages and DeregisterImage through in-process boto3."""

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

import amiable
from amiable.cloud.core.home import Cloud
from api_helpers import imported_snapshot, register


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return Cloud(tmp_path / "home")


@pytest.fixture
def ec2(cloud: Cloud) -> Any:
    return amiable.Session(cloud=cloud, region="us-west-2").client("ec2")


def test_register_keeps_every_parameter_and_describe_returns_it(ec2: Any, tmp_path: Path) -> None:
    snap = imported_snapshot(ec2, tmp_path / "root")
    image_id = register(
        ec2,
        snap,
        "golden-base (2026.11)",
        Description="hardened base",
        Architecture="arm64",
        VirtualizationType="hvm",
        EnaSupport=True,
        SriovNetSupport="simple",
        BootMode="uefi-preferred",
        TpmSupport="v2.0",
        ImdsSupport="v2.0",
        TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "Env", "Value": "prod"}]}],
    )
    assert image_id.startswith("ami-") and len(image_id) == 21
    ec2.get_waiter("image_available").wait(ImageIds=[image_id])
    (image,) = ec2.describe_images(ImageIds=[image_id])["Images"]
    expected = {
        "ImageId": image_id,
        "Name": "golden-base (2026.11)",
        "Description": "hardened base",
        "Architecture": "arm64",
        "VirtualizationType": "hvm",
        "EnaSupport": True,
        "SriovNetSupport": "simple",
        "BootMode": "uefi-preferred",
        "TpmSupport": "v2.0",
        "ImdsSupport": "v2.0",
        "State": "available",
        "OwnerId": "000000000000",
        "Public": False,
        "ImageType": "machine",
        "RootDeviceName": "/dev/xvda",
        "RootDeviceType": "ebs",
        "Tags": [{"Key": "Env", "Value": "prod"}],
    }
    assert {k: image[k] for k in expected} == expected
    assert image["BlockDeviceMappings"] == [
        {
            "DeviceName": "/dev/xvda",
            "Ebs": {
                "SnapshotId": snap,
                "VolumeSize": 1,
                "DeleteOnTermination": True,
                "VolumeType": "gp2",
                "Encrypted": False,
            },
        }
    ]
    assert image["CreationDate"].endswith("Z")


def test_describe_images_filters(ec2: Any, tmp_path: Path) -> None:
    snap = imported_snapshot(ec2, tmp_path / "root")
    web = register(
        ec2,
        snap,
        "web-1",
        TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "Role", "Value": "web"}]}],
    )
    db = register(ec2, snap, "db-1", Architecture="arm64")
    register(ec2, snap, "web-22")

    def names(*filters: dict[str, Any]) -> list[str]:
        found = ec2.describe_images(Owners=["self"], Filters=list(filters))["Images"]
        return sorted(i["Name"] for i in found)

    assert names({"Name": "name", "Values": ["web-?"]}) == ["web-1"]
    assert names({"Name": "name", "Values": ["web-*"]}) == ["web-1", "web-22"]
    assert names({"Name": "tag:Role", "Values": ["web"]}) == ["web-1"]
    assert names({"Name": "tag-key", "Values": ["Role"]}) == ["web-1"]
    assert names({"Name": "architecture", "Values": ["arm64"]}) == ["db-1"]
    assert names({"Name": "image-id", "Values": [web, db]}) == ["db-1", "web-1"]
    assert names({"Name": "block-device-mapping.snapshot-id", "Values": [snap]}) == [
        "db-1",
        "web-1",
        "web-22",
    ]
    assert names({"Name": "is-public", "Values": ["false"]}) == ["db-1", "web-1", "web-22"]
    assert names({"Name": "state", "Values": ["pending"]}) == []


def test_pagination_walks_every_image_once(ec2: Any, tmp_path: Path) -> None:
    snap = imported_snapshot(ec2, tmp_path / "root")
    ids = {register(ec2, snap, f"img-{n:02d}") for n in range(12)}
    pages = ec2.get_paginator("describe_images").paginate(
        Owners=["self"], PaginationConfig={"PageSize": 5}
    )
    seen = [i["ImageId"] for p in pages for i in p["Images"]]
    assert sorted(seen) == sorted(ids)


def test_pages_with_filters_are_the_whole_listing_in_order(ec2: Any, tmp_path: Path) -> None:
    snap = imported_snapshot(ec2, tmp_path / "root")
    for n in range(14):
        image = register(ec2, snap, f"{'web' if n % 3 else 'db'}-{n:02d}")
        ec2.create_tags(Resources=[image], Tags=[{"Key": "n", "Value": str(n % 2)}])
    for filters in (
        [],
        [{"Name": "name", "Values": ["web-*"]}],
        [{"Name": "tag:n", "Values": ["1"]}, {"Name": "name", "Values": ["web-*"]}],
    ):
        whole = [
            i["ImageId"] for i in ec2.describe_images(Owners=["self"], Filters=filters)["Images"]
        ]
        pages = ec2.get_paginator("describe_images").paginate(
            Owners=["self"], Filters=filters, PaginationConfig={"PageSize": 5}
        )
        assert [i["ImageId"] for p in pages for i in p["Images"]] == sorted(whole)


@pytest.mark.parametrize(
    ("name", "code"),
    [("semi;colon", "InvalidAMIName.Malformed"), ("bad*name", "InvalidAMIName.Malformed")],
)
def test_bad_names_are_refused(ec2: Any, tmp_path: Path, name: str, code: str) -> None:
    snap = imported_snapshot(ec2, tmp_path / "root")
    with pytest.raises(ClientError) as caught:
        register(ec2, snap, name)
    assert caught.value.response["Error"]["Code"] == code
    assert ec2.describe_images(Owners=["self"])["Images"] == []


def test_names_are_unique_per_account_and_region(ec2: Any, cloud: Cloud, tmp_path: Path) -> None:
    snap = imported_snapshot(ec2, tmp_path / "root")
    first = register(ec2, snap, "golden")
    with pytest.raises(ClientError) as caught:
        register(ec2, snap, "golden")
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidAMIName.Duplicate"
    assert error["Message"] == f"AMI name golden is already in use by AMI {first}"
    other_region = amiable.Session(cloud=cloud, region="eu-west-1").client("ec2")
    other_snap = imported_snapshot(other_region, tmp_path / "root2")
    assert register(other_region, other_snap, "golden").startswith("ami-")


def test_register_refuses_unknown_snapshots(ec2: Any) -> None:
    with pytest.raises(ClientError) as caught:
        register(ec2, "snap-0123456789abcdef0", "golden")
    assert caught.value.response["Error"]["Code"] == "InvalidSnapshot.NotFound"


@pytest.mark.parametrize(
    ("image_ids", "code", "message"),
    [
        (
            ["ami-0123456789abcdef0"],
            "InvalidAMIID.NotFound",
            "The image id '[ami-0123456789abcdef0]' does not exist",
        ),
        (["ami-12"], "InvalidAMIID.Malformed", 'Invalid id: "ami-12"'),
    ],
)
def test_describe_unknown_or_malformed_image_ids(
    ec2: Any, image_ids: list[str], code: str, message: str
) -> None:
    with pytest.raises(ClientError) as caught:
        ec2.describe_images(ImageIds=image_ids)
    assert caught.value.response["Error"] == {"Code": code, "Message": message}


def test_snapshot_in_use_and_deregister_with_its_snapshots(ec2: Any, tmp_path: Path) -> None:
    snap = imported_snapshot(ec2, tmp_path / "root")
    image_id = register(ec2, snap, "golden")
    with pytest.raises(ClientError) as caught:
        ec2.delete_snapshot(SnapshotId=snap)
    assert caught.value.response["Error"]["Code"] == "InvalidSnapshot.InUse"

    result = ec2.deregister_image(ImageId=image_id, DeleteAssociatedSnapshots=True)
    assert result["DeleteSnapshotResults"] == [{"SnapshotId": snap, "ReturnCode": "success"}]
    assert ec2.describe_images(Owners=["self"])["Images"] == []
    assert ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] == []
    with pytest.raises(ClientError) as caught:
        ec2.deregister_image(ImageId=image_id)
    assert caught.value.response["Error"]["Code"] == "InvalidAMIID.Unavailable"


def test_deregister_keeps_snapshots_unless_asked(ec2: Any, tmp_path: Path) -> None:
    snap = imported_snapshot(ec2, tmp_path / "root")
    ec2.deregister_image(ImageId=register(ec2, snap, "golden"))
    assert [s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]] == [
        snap
    ]
    ec2.delete_snapshot(SnapshotId=snap)


def test_other_accounts_do_not_see_private_images(ec2: Any, cloud: Cloud, tmp_path: Path) -> None:
    image_id = register(ec2, imported_snapshot(ec2, tmp_path / "root"), "private")
    cloud.accounts.create("444455556666", "other", "AKIAOTHER4", "other")
    other = amiable.Session(cloud=cloud, region="us-west-2", account="444455556666")
    with pytest.raises(ClientError) as caught:
        other.client("ec2").describe_images(ImageIds=[image_id])
    assert caught.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"
    with pytest.raises(ClientError) as caught:
        other.client("ec2").deregister_image(ImageId=image_id)
    assert caught.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"


def test_owners_accept_self_ids_and_aliases(ec2: Any, cloud: Cloud, tmp_path: Path) -> None:
    cloud.accounts.create("777788889999", "platform", "AKIAPLATFORM", "p")
    platform = amiable.Session(cloud=cloud, region="us-west-2", account="777788889999")
    client = platform.client("ec2")
    image_id = register(client, imported_snapshot(client, tmp_path / "root"), "base")
    for owners in (["self"], ["777788889999"], ["platform"]):
        found = client.describe_images(Owners=owners)["Images"]
        assert [i["ImageId"] for i in found] == [image_id]
        assert found[0]["ImageOwnerAlias"] == "platform"
    with pytest.raises(ClientError) as caught:
        client.describe_images(Owners=["no-such-alias"])
    assert caught.value.response["Error"]["Code"] == "InvalidUserID.Malformed"


def test_image_attributes_describe_and_modify(ec2: Any, tmp_path: Path) -> None:
    snap = imported_snapshot(ec2, tmp_path / "root")
    image_id = register(ec2, snap, "attrs", Description="first", BootMode="uefi")

    def attribute(name: str) -> Any:
        return ec2.describe_image_attribute(ImageId=image_id, Attribute=name)

    assert attribute("description")["Description"] == {"Value": "first"}
    assert attribute("bootMode")["BootMode"] == {"Value": "uefi"}
    assert attribute("blockDeviceMapping")["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] == snap
    assert attribute("deregistrationProtection")["DeregistrationProtection"] == {
        "Value": "disabled"
    }

    ec2.modify_image_attribute(ImageId=image_id, Description={"Value": "second"})
    assert attribute("description")["Description"] == {"Value": "second"}
    assert ec2.describe_images(ImageIds=[image_id])["Images"][0]["Description"] == "second"
    ec2.modify_image_attribute(ImageId=image_id, ImdsSupport={"Value": "v2.0"})
    assert attribute("imdsSupport")["ImdsSupport"] == {"Value": "v2.0"}

    with pytest.raises(ClientError) as caught:
        ec2.modify_image_attribute(ImageId=image_id, ImdsSupport={"Value": "v1.0"})
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as caught:
        ec2.describe_image_attribute(ImageId="ami-0123456789abcdef0", Attribute="description")
    assert caught.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"


def test_image_ids_and_filters_intersect_without_error(ec2: Any, tmp_path: Path) -> None:
    snap = imported_snapshot(ec2, tmp_path / "root")
    keep, other = register(ec2, snap, "keep-me"), register(ec2, snap, "other")
    found = ec2.describe_images(
        ImageIds=[keep, other], Filters=[{"Name": "name", "Values": ["keep-*"]}]
    )["Images"]
    assert [i["ImageId"] for i in found] == [keep]


def test_executable_users_select_explicit_launch_permissions(ec2: Any, tmp_path: Path) -> None:
    image_id = register(ec2, imported_snapshot(ec2, tmp_path / "root"), "mine")

    def ids(users: list[str]) -> list[str]:
        return [i["ImageId"] for i in ec2.describe_images(ExecutableUsers=users)["Images"]]

    assert ids(["self"]) == []  # the owner's launch permission is implicit
    assert ids(["all"]) == []  # private images are not launchable by everyone
    assert ids(["123456789012"]) == []
    ec2.modify_image_attribute(
        ImageId=image_id, LaunchPermission={"Add": [{"UserId": "123456789012"}]}
    )
    assert ids(["123456789012"]) == [image_id]
    ec2.disable_image_block_public_access()
    ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": [{"Group": "all"}]})
    assert ids(["all"]) == [image_id]
    assert ids(["self"]) == []
