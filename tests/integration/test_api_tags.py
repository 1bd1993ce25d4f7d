"""CreateTags, DeleteTags, DescribeTags; and the catalog migration that gave
tags their owner."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import select, text

import amiable
from amiable.catalog import regional
from amiable.catalog.database import open_database
from amiable.cloud.core.home import Cloud


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return Cloud(tmp_path / "home")


@pytest.fixture
def ec2(cloud: Cloud) -> Any:
    return amiable.Session(cloud=cloud).client("ec2")


def snapshot_and_image(ec2: Any, root: Path) -> tuple[str, str]:
    root.mkdir()
    (root / "f").write_text("x")
    task = ec2.import_snapshot(DiskContainer={"Url": f"file://{root}"})["ImportTaskId"]
    ec2.get_waiter("snapshot_imported").wait(ImportTaskIds=[task], WaiterConfig={"Delay": 0.2})
    snap = ec2.describe_import_snapshot_tasks(ImportTaskIds=[task])["ImportSnapshotTasks"][0][
        "SnapshotTaskDetail"
    ]["SnapshotId"]
    image = ec2.register_image(
        Name=f"img-{root.name}",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snap}}],
    )["ImageId"]
    return snap, image


def test_tags_on_images_and_snapshots(ec2: Any, tmp_path: Path) -> None:
    snap, image = snapshot_and_image(ec2, tmp_path / "a")
    ec2.create_tags(Resources=[snap, image], Tags=[{"Key": "Env", "Value": "prod"}])
    ec2.create_tags(Resources=[image], Tags=[{"Key": "Env", "Value": "stage"}, {"Key": "Owner"}])
    found = ec2.describe_tags()["Tags"]
    assert sorted(
        (t["ResourceId"], t["ResourceType"], t["Key"], t["Value"]) for t in found
    ) == sorted(
        [
            (snap, "snapshot", "Env", "prod"),
            (image, "image", "Env", "stage"),
            (image, "image", "Owner", ""),
        ]
    )
    only_images = ec2.describe_tags(Filters=[{"Name": "resource-type", "Values": ["image"]}])
    assert {t["Key"] for t in only_images["Tags"]} == {"Env", "Owner"}
    by_tag = ec2.describe_tags(Filters=[{"Name": "tag:Env", "Values": ["prod"]}])["Tags"]
    assert [t["ResourceId"] for t in by_tag] == [snap]
    image_doc = ec2.describe_images(ImageIds=[image])["Images"][0]
    assert sorted((t["Key"], t["Value"]) for t in image_doc["Tags"]) == [
        ("Env", "stage"),
        ("Owner", ""),
    ]

    ec2.delete_tags(Resources=[image], Tags=[{"Key": "Env", "Value": "not-this"}])
    assert len(ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [image]}])["Tags"]) == 2
    ec2.delete_tags(Resources=[image], Tags=[{"Key": "Env"}])
    ec2.delete_tags(Resources=[snap])
    assert [(t["ResourceId"], t["Key"]) for t in ec2.describe_tags()["Tags"]] == [(image, "Owner")]


def test_tagging_fails_whole_when_one_resource_is_missing(ec2: Any, tmp_path: Path) -> None:
    snap, _ = snapshot_and_image(ec2, tmp_path / "a")
    with pytest.raises(ClientError) as caught:
        ec2.create_tags(
            Resources=[snap, "ami-0123456789abcdef0"], Tags=[{"Key": "k", "Value": "v"}]
        )
    assert caught.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"
    assert ec2.describe_tags()["Tags"] == []


@pytest.mark.parametrize(
    ("tags", "code"),
    [
        ([{"Key": "aws:reserved", "Value": "x"}], "InvalidParameterValue"),
        ([{"Key": f"k{n}", "Value": "v"} for n in range(51)], "TagLimitExceeded"),
    ],
)
def test_tag_rules(ec2: Any, tmp_path: Path, tags: list[dict[str, str]], code: str) -> None:
    snap, _ = snapshot_and_image(ec2, tmp_path / "a")
    with pytest.raises(ClientError) as caught:
        ec2.create_tags(Resources=[snap], Tags=tags)
    assert caught.value.response["Error"]["Code"] == code
    assert ec2.describe_tags()["Tags"] == []


def test_accounts_see_and_touch_only_their_own_tags(ec2: Any, cloud: Cloud, tmp_path: Path) -> None:
    snap, _ = snapshot_and_image(ec2, tmp_path / "a")
    ec2.create_tags(Resources=[snap], Tags=[{"Key": "secret", "Value": "x"}])
    cloud.accounts.create("222233334444", None, "AKIATAGS", "t")
    other = amiable.Session(cloud=cloud, account="222233334444").client("ec2")
    assert other.describe_tags()["Tags"] == []
    with pytest.raises(ClientError) as caught:
        other.create_tags(Resources=[snap], Tags=[{"Key": "mine", "Value": "y"}])
    assert caught.value.response["Error"]["Code"] == "InvalidSnapshot.NotFound"


def test_migration_gives_existing_tags_their_owner(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    old = open_database(path, regional.MIGRATIONS[:2])  # a catalog written by schema 2
    with old.begin() as conn:
        conn.execute(
            regional.snapshots.insert().values(
                snapshot_id="snap-0123456789abcdef0",
                owner_id="123456789012",
                state="completed",
                progress=100,
                volume_id="vol-ffffffff",
                volume_size=1,
                description="",
                encrypted=False,
                start_time=datetime.now(UTC),
            )
        )
        conn.execute(
            text(
                "INSERT INTO tags (resource_id, key, value, resource_type) "
                "VALUES ('snap-0123456789abcdef0', 'Env', 'prod', 'snapshot')"
            )
        )
    old.dispose()
    upgraded = open_database(path, regional.MIGRATIONS)
    with upgraded.connect() as conn:
        rows = conn.execute(select(regional.tags.c.key, regional.tags.c.owner_id)).all()
        version = conn.execute(text("SELECT version FROM schema_version")).scalar()
    assert [tuple(r) for r in rows] == [("Env", "123456789012")]
    assert version == len(regional.MIGRATIONS)
