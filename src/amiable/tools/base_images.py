"""Publishing a base image: a root file system imported, registered under a
name, waited for, and made public — through the EC2 API only. Public as
Amazon's public AMIs are: the image and its snapshot, so any account can
launch it and copy it."""

import platform
from pathlib import Path
from typing import Any

ROOT_DEVICE = "/dev/xvda"
WAIT = {"Delay": 0.5, "MaxAttempts": 1200}


def architecture() -> str:
    machine = platform.machine()
    return {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


def publish(ec2: Any, root: Path, name: str, description: str, public: bool = True) -> str:
    """Import `root` as a snapshot, register it as image `name`; returns its id."""
    task = ec2.import_snapshot(
        Description=description, DiskContainer={"Url": f"file://{root.absolute()}"}
    )["ImportTaskId"]
    ec2.get_waiter("snapshot_imported").wait(ImportTaskIds=[task], WaiterConfig=WAIT)
    detail = ec2.describe_import_snapshot_tasks(ImportTaskIds=[task])["ImportSnapshotTasks"][0]
    snapshot = detail["SnapshotTaskDetail"]["SnapshotId"]
    image = ec2.register_image(
        Name=name,
        Description=description,
        Architecture=architecture(),
        VirtualizationType="hvm",
        EnaSupport=True,
        BootMode="uefi-preferred",
        RootDeviceName=ROOT_DEVICE,
        BlockDeviceMappings=[{"DeviceName": ROOT_DEVICE, "Ebs": {"SnapshotId": snapshot}}],
    )["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[image], WaiterConfig=WAIT)
    if public:
        ec2.disable_image_block_public_access()
        ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"Group": "all"}]})
        ec2.modify_snapshot_attribute(  # CopyImage reads the snapshot, so it must be public too
            SnapshotId=snapshot, CreateVolumePermission={"Add": [{"Group": "all"}]}
        )
    return str(image)
