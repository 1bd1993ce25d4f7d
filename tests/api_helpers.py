"""Helpers for tests through real boto3 clients: a small imported snapshot, an image."""

from pathlib import Path
from typing import Any


def imported_snapshot(ec2: Any, root: Path) -> str:
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc" / "os-release").write_text("ID=amiable\n")
    task = ec2.import_snapshot(DiskContainer={"Url": f"file://{root}"})
    ec2.get_waiter("snapshot_imported").wait(
        ImportTaskIds=[task["ImportTaskId"]], WaiterConfig={"Delay": 0.2}
    )
    tasks = ec2.describe_import_snapshot_tasks(ImportTaskIds=[task["ImportTaskId"]])
    return str(tasks["ImportSnapshotTasks"][0]["SnapshotTaskDetail"]["SnapshotId"])


def register(ec2: Any, snapshot_id: str, name: str, **extra: Any) -> str:
    image = ec2.register_image(
        Name=name,
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot_id}}],
        **extra,
    )
    return str(image["ImageId"])
