"""CopyImage through real boto3 clients: within and across regions and accounts,
waiters, tags, idempotency, and what a repeat copy moves."""

import os
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, WaiterError

import amiable
from amiable.cloud.core.home import Cloud
from api_helpers import OTHER, cloud_with_other_account, imported_snapshot, register


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return cloud_with_other_account(tmp_path / "home")


def client(cloud: Cloud, region: str, account: str = "000000000000") -> Any:
    return amiable.Session(cloud=cloud, account=account, region=region).client("ec2")


def wait_available(ec2: Any, image_id: str) -> dict[str, Any]:
    ec2.get_waiter("image_available").wait(ImageIds=[image_id], WaiterConfig={"Delay": 0.2})
    return dict(ec2.describe_images(ImageIds=[image_id])["Images"][0])


def store_bytes(cloud: Cloud, region: str) -> int:
    packs = cloud.home / "regions" / region / "store"
    return sum(p.stat().st_size for p in packs.rglob("*") if p.is_file())


def random_root(root: Path, files: int, seed: int) -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text("ID=amiable\n")
    for n in range(files):
        (root / f"blob-{seed}-{n}").write_bytes(os.urandom(64 * 1024))
    return root


def test_copy_within_a_region(cloud: Cloud, tmp_path: Path) -> None:
    ec2 = client(cloud, "us-east-1")
    source = register(ec2, imported_snapshot(ec2, tmp_path / "r"), "base", Architecture="arm64")
    ec2.create_tags(Resources=[source], Tags=[{"Key": "tier", "Value": "gold"}])
    copy = ec2.copy_image(
        SourceImageId=source, SourceRegion="us-east-1", Name="base-copy", CopyImageTags=True
    )["ImageId"]
    image = wait_available(ec2, copy)
    assert (image["Name"], image["Architecture"], image["State"]) == (
        "base-copy",
        "arm64",
        "available",
    )
    assert (image["SourceImageId"], image["SourceImageRegion"]) == (source, "us-east-1")
    assert image["Tags"] == [{"Key": "tier", "Value": "gold"}]
    snapshot = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    original = ec2.describe_images(ImageIds=[source])["Images"][0]
    assert snapshot != original["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    described = ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]
    assert described["State"] == "completed"
    assert source in described["Description"] and copy in described["Description"]
    assert (
        ec2.describe_images(Filters=[{"Name": "source-image-id", "Values": [source]}])["Images"][0][
            "ImageId"
        ]
        == copy
    )


def test_copy_chain_across_three_regions_moves_only_what_is_missing(
    cloud: Cloud, tmp_path: Path
) -> None:
    east = client(cloud, "us-east-1")
    base_root = random_root(tmp_path / "base", files=24, seed=1)
    base = register(east, imported_snapshot(east, base_root), "base")
    west = client(cloud, "us-west-2")
    before = store_bytes(cloud, "us-west-2")
    west_base = west.copy_image(SourceImageId=base, SourceRegion="us-east-1", Name="base")
    wait_available(west, west_base["ImageId"])
    first_copy = store_bytes(cloud, "us-west-2") - before
    assert first_copy > 24 * 64 * 1024 * 0.9  # random data does not compress

    # a child image: the same tree and one new file
    (base_root / "app").write_bytes(os.urandom(64 * 1024))
    child = register(east, imported_snapshot(east, base_root), "child")
    before = store_bytes(cloud, "us-west-2")
    west_child = west.copy_image(SourceImageId=child, SourceRegion="us-east-1", Name="child")
    wait_available(west, west_child["ImageId"])
    second_copy = store_bytes(cloud, "us-west-2") - before
    assert second_copy < first_copy / 4

    # and on to a third region, from the second
    europe = client(cloud, "eu-west-1")
    third = europe.copy_image(
        SourceImageId=west_child["ImageId"], SourceRegion="us-west-2", Name="child"
    )["ImageId"]
    image = wait_available(europe, third)
    assert (image["SourceImageId"], image["SourceImageRegion"]) == (
        west_child["ImageId"],
        "us-west-2",
    )


def test_another_account_copies_a_shared_image_and_owns_the_copy(
    cloud: Cloud, tmp_path: Path
) -> None:
    owner = client(cloud, "us-east-1")
    snapshot = imported_snapshot(owner, tmp_path / "r")
    source = register(owner, snapshot, "golden")
    owner.create_tags(Resources=[source], Tags=[{"Key": "secret", "Value": "owner-only"}])
    other = client(cloud, "eu-west-1", OTHER)

    def copy() -> str:
        return str(
            other.copy_image(
                SourceImageId=source, SourceRegion="us-east-1", Name="mine", CopyImageTags=True
            )["ImageId"]
        )

    with pytest.raises(ClientError) as caught:
        copy()
    assert caught.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"
    owner.modify_image_attribute(ImageId=source, LaunchPermission={"Add": [{"UserId": OTHER}]})
    with pytest.raises(ClientError) as caught:
        copy()  # the image is shared, its snapshot is not
    assert caught.value.response["Error"]["Code"] == "AuthFailure"
    owner.modify_snapshot_attribute(
        SnapshotId=snapshot, CreateVolumePermission={"Add": [{"UserId": OTHER}]}
    )
    image = wait_available(other, copy())
    assert image["OwnerId"] == OTHER
    assert image.get("Tags", []) == []  # the owner's tags are not the recipient's
    new_snapshot = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    assert other.describe_snapshots(SnapshotIds=[new_snapshot])["Snapshots"][0]["OwnerId"] == OTHER
    assert owner.describe_images(Owners=["self"])["Images"][0]["ImageId"] == source


def test_client_token_makes_a_retry_answer_the_first_copy(cloud: Cloud, tmp_path: Path) -> None:
    ec2 = client(cloud, "us-east-1")
    source = register(ec2, imported_snapshot(ec2, tmp_path / "r"), "base")
    params = {"SourceImageId": source, "SourceRegion": "us-east-1", "Name": "once"}
    first = ec2.copy_image(ClientToken="token-1", **params)["ImageId"]
    assert ec2.copy_image(ClientToken="token-1", **params)["ImageId"] == first
    with pytest.raises(ClientError) as caught:
        ec2.copy_image(ClientToken="token-1", **{**params, "Name": "twice"})
    assert caught.value.response["Error"]["Code"] == "IdempotentParameterMismatch"
    names = [i["Name"] for i in ec2.describe_images(Owners=["self"])["Images"]]
    assert sorted(names) == ["base", "once"]


def test_bad_copies_change_nothing(cloud: Cloud, tmp_path: Path) -> None:
    ec2 = client(cloud, "us-east-1")
    source = register(ec2, imported_snapshot(ec2, tmp_path / "r"), "base")
    before = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    for params, code in [
        ({"Name": "base"}, "InvalidAMIName.Duplicate"),
        ({"Name": "bad*name"}, "InvalidAMIName.Malformed"),
        ({"Name": "fine", "SourceImageId": "ami-0123456789abcdef0"}, "InvalidAMIID.NotFound"),
        ({"Name": "fine", "SourceRegion": "mars-1"}, "InvalidParameterValue"),
        (
            {"Name": "fine", "TagSpecifications": [{"ResourceType": "volume", "Tags": []}]},
            "InvalidParameterValue",
        ),
    ]:
        call = {"SourceImageId": source, "SourceRegion": "us-east-1", **params}
        with pytest.raises(ClientError) as caught:
            ec2.copy_image(**call)
        assert caught.value.response["Error"]["Code"] == code, params
    assert [i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]] == [source]
    assert ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] == before
    ec2.disable_image(ImageId=source)
    with pytest.raises(ClientError) as caught:
        ec2.copy_image(SourceImageId=source, SourceRegion="us-east-1", Name="from-disabled")
    assert caught.value.response["Error"]["Code"] == "IncorrectState"


def test_a_copy_whose_data_cannot_move_leaves_nothing(cloud: Cloud, tmp_path: Path) -> None:
    east = client(cloud, "us-east-1")
    source = register(east, imported_snapshot(east, tmp_path / "r"), "base")
    store = cloud.region("us-east-1").store
    for pack in store.packs.rglob("*"):  # the source's data is gone
        if pack.is_file():
            pack.unlink()
    west = client(cloud, "us-west-2")
    copy = west.copy_image(SourceImageId=source, SourceRegion="us-east-1", Name="doomed")
    with pytest.raises(WaiterError):  # the waiter stops: the image is gone
        west.get_waiter("image_available").wait(
            ImageIds=[copy["ImageId"]], WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
        )
    assert west.describe_images(Owners=["self"])["Images"] == []
    assert west.describe_snapshots(OwnerIds=["self"])["Snapshots"] == []
