"""EBS encryption with the built-in KMS: by default, on volumes, imports and
copies (re-encryption, cross-region, cross-account), and what a deleted key
does to the data it protects."""

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import amiable
from amiable.catalog.regional import snapshots
from amiable.cloud.core.home import Cloud
from amiable.cloud.kms import keys as kms_keys
from amiable.store.errors import KeyRequired
from api_helpers import (
    OTHER,
    cloud_with_other_account,
    code_of,
    imported_snapshot,
    register,
    store_snapshot_of,
)
from helpers import assert_same_tree


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return cloud_with_other_account(tmp_path / "home")


def clients(cloud: Cloud, region: str = "us-east-1", account: str = "000000000000") -> Any:
    session = amiable.Session(cloud=cloud, account=account, region=region)
    return session.client("ec2"), session.client("kms")


def rootfs(path: Path) -> Path:
    (path / "etc").mkdir(parents=True)
    (path / "etc" / "os-release").write_text("ID=amiable\n")
    (path / "data").write_bytes(b"secret payload " * 1000)
    return path


def copied_image(ec2: Any, **params: Any) -> str:
    """CopyImage, waited for until the copy is available."""
    image_id = str(ec2.copy_image(**params)["ImageId"])
    ec2.get_waiter("image_available").wait(ImageIds=[image_id], WaiterConfig={"Delay": 0.2})
    return image_id


def root_snapshot(ec2: Any, image_id: str) -> dict[str, Any]:
    image = ec2.describe_images(ImageIds=[image_id])["Images"][0]
    ebs = image["BlockDeviceMappings"][0]["Ebs"]
    return dict(ec2.describe_snapshots(SnapshotIds=[ebs["SnapshotId"]])["Snapshots"][0])


def test_encryption_by_default_settings(cloud: Cloud) -> None:
    ec2, kms = clients(cloud)
    assert ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"] is False
    default = ec2.get_ebs_default_kms_key_id()["KmsKeyId"]
    assert default == "arn:aws:kms:us-east-1:000000000000:alias/aws/ebs"
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/ebs-golden", TargetKeyId=key["KeyId"])
    assert ec2.modify_ebs_default_kms_key_id(KmsKeyId="alias/ebs-golden")["KmsKeyId"] == key["Arn"]
    assert ec2.get_ebs_default_kms_key_id()["KmsKeyId"] == key["Arn"]
    assert code_of(ec2.modify_ebs_default_kms_key_id, KmsKeyId="alias/nope") == (
        "InvalidParameterValue"
    )
    assert ec2.enable_ebs_encryption_by_default()["EbsEncryptionByDefault"] is True
    volume = ec2.create_volume(Size=1, AvailabilityZone="us-east-1a")
    assert (volume["Encrypted"], volume["KmsKeyId"]) == (True, key["Arn"])
    assert ec2.reset_ebs_default_kms_key_id()["KmsKeyId"] == default
    ec2.disable_ebs_encryption_by_default()
    assert ec2.create_volume(Size=1, AvailabilityZone="us-east-1a")["Encrypted"] is False
    west, _ = clients(cloud, "us-west-2")
    assert west.get_ebs_encryption_by_default()["EbsEncryptionByDefault"] is False  # per region


def test_an_encrypted_import_is_encrypted_in_the_store(cloud: Cloud, tmp_path: Path) -> None:
    ec2, kms = clients(cloud)
    key = kms.create_key()["KeyMetadata"]["Arn"]
    task = ec2.import_snapshot(
        DiskContainer={"Url": f"file://{rootfs(tmp_path / 'root')}"}, Encrypted=True, KmsKeyId=key
    )
    ec2.get_waiter("snapshot_imported").wait(
        ImportTaskIds=[task["ImportTaskId"]], WaiterConfig={"Delay": 0.2}
    )
    detail = ec2.describe_import_snapshot_tasks(ImportTaskIds=[task["ImportTaskId"]])[
        "ImportSnapshotTasks"
    ][0]["SnapshotTaskDetail"]
    assert (detail["Encrypted"], detail["KmsKeyId"]) == (True, key)
    snapshot = ec2.describe_snapshots(SnapshotIds=[detail["SnapshotId"]])["Snapshots"][0]
    assert (snapshot["Encrypted"], snapshot["KmsKeyId"]) == (True, key)
    store = cloud.region("us-east-1").store
    with pytest.raises(KeyRequired):
        store.restore(store_snapshot_of(cloud, "us-east-1", snapshot["SnapshotId"]), tmp_path / "x")
    image = register(ec2, snapshot["SnapshotId"], "encrypted")
    ebs = ec2.describe_images(ImageIds=[image])["Images"][0]["BlockDeviceMappings"][0]["Ebs"]
    assert (ebs["Encrypted"], ebs["KmsKeyId"]) == (True, key)


def test_volumes_encrypt_and_snapshots_keep_their_key(cloud: Cloud, tmp_path: Path) -> None:
    ec2, kms = clients(cloud)
    plain = imported_snapshot(ec2, rootfs(tmp_path / "root"))
    key = kms.create_key()["KeyMetadata"]["Arn"]
    assert (
        code_of(ec2.create_volume, SnapshotId=plain, AvailabilityZone="us-east-1a", KmsKeyId=key)
        == "InvalidParameterDependency"
    )
    volume = ec2.create_volume(
        SnapshotId=plain, AvailabilityZone="us-east-1a", Encrypted=True, KmsKeyId=key
    )
    ec2.get_waiter("volume_available").wait(
        VolumeIds=[volume["VolumeId"]], WaiterConfig={"Delay": 0.2}
    )
    snapshot = ec2.create_snapshot(VolumeId=volume["VolumeId"])
    assert (snapshot["Encrypted"], snapshot["KmsKeyId"]) == (True, key)
    from_encrypted = ec2.create_volume(
        SnapshotId=snapshot["SnapshotId"], AvailabilityZone="us-east-1b"
    )
    assert (from_encrypted["Encrypted"], from_encrypted["KmsKeyId"]) == (True, key)
    store = cloud.region("us-east-1").store
    encrypted_id = store_snapshot_of(cloud, "us-east-1", snapshot["SnapshotId"])
    assert encrypted_id != store_snapshot_of(cloud, "us-east-1", plain)
    with pytest.raises(KeyRequired):
        store.restore(encrypted_id, tmp_path / "x")


def test_copy_image_encrypts_reencrypts_and_never_decrypts(cloud: Cloud, tmp_path: Path) -> None:
    east, east_kms = clients(cloud)
    root = rootfs(tmp_path / "root")
    source = register(east, imported_snapshot(east, root), "plain")
    golden = east_kms.create_key()["KeyMetadata"]["Arn"]
    encrypted = copied_image(
        east,
        SourceImageId=source,
        SourceRegion="us-east-1",
        Name="enc",
        Encrypted=True,
        KmsKeyId=golden,
    )
    snap = root_snapshot(east, encrypted)
    assert (snap["Encrypted"], snap["KmsKeyId"]) == (True, golden)

    # across regions: the data key is re-wrapped under a key of the destination,
    # the encrypted objects move as they are
    west, west_kms = clients(cloud, "us-west-2")
    west_key = west_kms.create_key()["KeyMetadata"]["Arn"]
    copy = copied_image(
        west,
        SourceImageId=encrypted,
        SourceRegion="us-east-1",
        Name="enc",
        Encrypted=True,
        KmsKeyId=west_key,
    )
    west_snap = root_snapshot(west, copy)
    assert (west_snap["Encrypted"], west_snap["KmsKeyId"]) == (True, west_key)
    east_store = store_snapshot_of(cloud, "us-east-1", snap["SnapshotId"])
    assert store_snapshot_of(cloud, "us-west-2", west_snap["SnapshotId"]) == east_store

    # without Encrypted the copy of an encrypted image stays encrypted (default key)
    again = west.copy_image(SourceImageId=encrypted, SourceRegion="us-east-1", Name="again")
    west.get_waiter("image_available").wait(
        ImageIds=[again["ImageId"]], WaiterConfig={"Delay": 0.2}
    )
    default_key = west_kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]["Arn"]
    assert root_snapshot(west, again["ImageId"])["KmsKeyId"] == default_key

    # the bytes are the source's, under the re-wrapped data key
    volume = west.create_volume(SnapshotId=west_snap["SnapshotId"], AvailabilityZone="us-west-2a")
    assert volume["Encrypted"] is True
    region = cloud.region("us-west-2")
    from amiable.cloud.ebs.encryption import Protection

    with region.catalog.connect() as conn:
        row = conn.execute(
            select(snapshots).where(snapshots.c.snapshot_id == west_snap["SnapshotId"])
        ).one()

    with region.catalog.connect() as conn:
        key = kms_keys.find(
            conn, region, "000000000000", row.kms_key_id, "kms:Decrypt", cloud.clock.now()
        )
    data_key = kms_keys.decrypt(
        region, key, Protection(row.kms_key_id, row.data_key).data_key, {"aws:ebs": "data-key"}
    )
    region.store.restore(row.store_snapshot, tmp_path / "out", key=data_key)
    assert_same_tree(root, tmp_path / "out")


def test_another_account_copies_an_encrypted_image_only_with_the_key(
    cloud: Cloud, tmp_path: Path
) -> None:
    owner, owner_kms = clients(cloud)
    key = owner_kms.create_key()["KeyMetadata"]["Arn"]
    snapshot = imported_snapshot(owner, rootfs(tmp_path / "root"), Encrypted=True, KmsKeyId=key)
    image = register(owner, snapshot, "enc-shared")
    owner.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"UserId": OTHER}]})
    owner.modify_snapshot_attribute(
        SnapshotId=snapshot, CreateVolumePermission={"Add": [{"UserId": OTHER}]}
    )
    other, _ = clients(cloud, "us-east-1", OTHER)
    params = {"SourceImageId": image, "SourceRegion": "us-east-1", "Name": "mine"}
    assert code_of(other.copy_image, **params) == "IncorrectState"  # no use of the key
    policy = json.loads(owner_kms.get_key_policy(KeyId=key)["Policy"])
    policy["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": {"AWS": OTHER},
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
    )
    owner_kms.put_key_policy(KeyId=key, Policy=json.dumps(policy))
    copy = other.copy_image(**params)["ImageId"]
    other.get_waiter("image_available").wait(ImageIds=[copy], WaiterConfig={"Delay": 0.2})
    copied = root_snapshot(other, copy)
    assert copied["OwnerId"] == OTHER and copied["Encrypted"] is True
    assert copied["KmsKeyId"].startswith(f"arn:aws:kms:us-east-1:{OTHER}:key/")


def test_a_key_being_deleted_makes_its_snapshots_unreadable(cloud: Cloud, tmp_path: Path) -> None:
    ec2, kms = clients(cloud)
    key = kms.create_key()["KeyMetadata"]["Arn"]
    snapshot = imported_snapshot(ec2, rootfs(tmp_path / "root"), Encrypted=True, KmsKeyId=key)
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    described = ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]
    assert "PendingDeletion" in described["StateMessage"]
    assert (
        code_of(ec2.copy_snapshot, SourceSnapshotId=snapshot, SourceRegion="us-east-1")
        == "IncorrectState"
    )
    assert (
        code_of(ec2.create_volume, SnapshotId=snapshot, AvailabilityZone="us-east-1a")
        == "IncorrectState"
    )
    kms.cancel_key_deletion(KeyId=key)
    kms.enable_key(KeyId=key)
    assert "StateMessage" not in ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    cloud.clock.advance(timedelta(days=8))
    described = ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]
    assert "was deleted" in described["StateMessage"]


def test_encrypted_images_are_never_public_nor_shared_under_the_aws_managed_key(
    cloud: Cloud, tmp_path: Path
) -> None:
    ec2, kms = clients(cloud)
    ec2.disable_image_block_public_access()
    source = register(ec2, imported_snapshot(ec2, rootfs(tmp_path / "root")), "plain")
    managed = copied_image(
        ec2, SourceImageId=source, SourceRegion="us-east-1", Name="managed", Encrypted=True
    )
    for entry in ({"Group": "all"}, {"UserId": OTHER}):
        assert (
            code_of(ec2.modify_image_attribute, ImageId=managed, LaunchPermission={"Add": [entry]})
            == "OperationNotPermitted"
        )
    custom = kms.create_key()["KeyMetadata"]["Arn"]
    shareable = copied_image(
        ec2,
        SourceImageId=source,
        SourceRegion="us-east-1",
        Name="custom",
        Encrypted=True,
        KmsKeyId=custom,
    )
    ec2.modify_image_attribute(ImageId=shareable, LaunchPermission={"Add": [{"UserId": OTHER}]})
    assert (
        code_of(
            ec2.modify_image_attribute,
            ImageId=shareable,
            LaunchPermission={"Add": [{"Group": "all"}]},
        )
        == "OperationNotPermitted"
    )


def test_repeat_copies_of_encrypted_images_move_nothing_new(cloud: Cloud, tmp_path: Path) -> None:
    east, east_kms = clients(cloud)
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "blob").write_bytes(bytes(range(256)) * 4096)
    key = east_kms.create_key()["KeyMetadata"]["Arn"]
    snapshot = imported_snapshot(east, tmp_path / "root", Encrypted=True, KmsKeyId=key)
    image = register(east, snapshot, "enc")
    west, _ = clients(cloud, "us-west-2")
    packs = cloud.home / "regions" / "us-west-2" / "store" / "packs"

    def west_bytes() -> int:
        return sum(p.stat().st_size for p in packs.rglob("*") if p.is_file())

    copied_image(west, SourceImageId=image, SourceRegion="us-east-1", Name="first")
    after_first = west_bytes()
    assert after_first > 0
    copied_image(west, SourceImageId=image, SourceRegion="us-east-1", Name="second")
    assert west_bytes() == after_first  # the encrypted objects are already there
