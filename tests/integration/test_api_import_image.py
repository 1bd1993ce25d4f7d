"""ImportImage and DescribeImportImageTasks: a directory becomes an image."""

import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

import amiable


@pytest.fixture
def ec2(tmp_path: Path) -> Any:
    return amiable.Session(home=tmp_path / "home", region="eu-west-1").client("ec2")


def finished(ec2: Any, task_id: str) -> dict[str, Any]:
    for _ in range(300):
        (task,) = ec2.describe_import_image_tasks(ImportTaskIds=[task_id])["ImportImageTasks"]
        if task["Status"] != "active":
            return dict(task)
        time.sleep(0.1)
    raise AssertionError(f"{task_id} still active")


def test_import_image_makes_a_snapshot_and_an_image(ec2: Any, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text("ID=imported\n")
    started = ec2.import_image(
        DiskContainers=[{"Url": f"file://{root}"}],
        Description="base os",
        Architecture="arm64",
        BootMode="uefi",
        TagSpecifications=[
            {"ResourceType": "import-image-task", "Tags": [{"Key": "job", "Value": "7"}]}
        ],
    )
    assert started["ImportTaskId"].startswith("import-ami-")
    assert started["Status"] == "active"
    task = finished(ec2, started["ImportTaskId"])
    assert task["Status"] == "completed"
    assert task["Tags"] == [{"Key": "job", "Value": "7"}]
    (disk,) = task["SnapshotDetails"]
    (image,) = ec2.describe_images(ImageIds=[task["ImageId"]])["Images"]
    assert image["Name"] == started["ImportTaskId"]
    assert (image["Architecture"], image["BootMode"], image["Description"]) == (
        "arm64",
        "uefi",
        "base os",
    )
    assert image["RootDeviceName"] == "/dev/sda1"
    assert image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] == disk["SnapshotId"]
    # Image imports are not snapshot imports.
    assert ec2.describe_import_snapshot_tasks()["ImportSnapshotTasks"] == []
    with pytest.raises(ClientError) as caught:
        ec2.delete_snapshot(SnapshotId=disk["SnapshotId"])
    assert caught.value.response["Error"]["Code"] == "InvalidSnapshot.InUse"


def test_import_image_refusals(ec2: Any, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pytest.raises(ClientError) as caught:
        ec2.import_image(
            DiskContainers=[
                {"Url": f"file://{tmp_path / 'a'}"},
                {"Url": f"file://{tmp_path / 'b'}"},
            ]
        )
    assert caught.value.response["Error"]["Code"] == "Unsupported"
    with pytest.raises(ClientError) as caught:
        ec2.import_image(DiskContainers=[{"Url": "https://example.invalid/disk.vmdk"}])
    assert caught.value.response["Error"]["Code"] == "InvalidParameter"
    assert ec2.describe_import_image_tasks()["ImportImageTasks"] == []
