"""Importing a tree as a named image through the EC2 API only: the name is
checked first (EC2's rules, and not taken among the caller's images), then
ImportSnapshot is waited for as long as it takes while its progress is
reported, then RegisterImage.

Whatever fails or is interrupted (Ctrl-C) on the way, nothing is left: a
running task is cancelled with CancelImportTask, a snapshot or an image
already made is deleted. The ImportSnapshot call carries a ClientToken, so
an interruption during the call itself still finds the task to cancel. The
same code runs against amiable in-process, `ami serve` and AWS.
"""

import uuid
from dataclasses import dataclass
from typing import Any

from .waiting import Report, cancel_import, wait_for_import

ROOT_DEVICE = "/dev/xvda"


@dataclass(frozen=True)
class Imported:
    image_id: str
    snapshot_id: str
    task_id: str


class Interrupted(Exception):
    """Ctrl-C (or SIGTERM) stopped the work; what it had made was undone."""


def check_name_rules(name: str) -> None:
    """EC2's rules for image names (InvalidAMIName.Malformed), as RegisterImage
    would apply them."""
    from botocore.exceptions import ClientError

    from amiable.cloud.core.errors import ApiError
    from amiable.cloud.images.images import check_name as name_rules

    try:
        name_rules(name)
    except ApiError as exc:
        error = {"Code": exc.code, "Message": exc.message}
        raise ClientError({"Error": error}, "RegisterImage") from None


def check_name(ec2: Any, name: str) -> None:
    """The errors RegisterImage would give `name`, before any work is done: its
    rules, and whether one of the caller's images has it."""
    from botocore.exceptions import ClientError

    check_name_rules(name)
    taken = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": [name]}])
    if taken["Images"]:
        message = f"AMI name {name} is already in use by AMI {taken['Images'][0]['ImageId']}"
        raise ClientError(
            {"Error": {"Code": "InvalidAMIName.Duplicate", "Message": message}}, "RegisterImage"
        )


def register(ec2: Any, name: str, description: str, snapshot_id: str, **image: Any) -> str:
    """RegisterImage with the snapshot as the root volume (`image`: Architecture,
    BootMode... as RegisterImage takes them)."""
    return str(
        ec2.register_image(
            Name=name,
            Description=description,
            VirtualizationType="hvm",
            EnaSupport=True,
            RootDeviceName=ROOT_DEVICE,
            BlockDeviceMappings=[{"DeviceName": ROOT_DEVICE, "Ebs": {"SnapshotId": snapshot_id}}],
            **image,
        )["ImageId"]
    )


@dataclass
class _Made:
    """What the import has made so far, to undo."""

    url: str
    description: str
    token: str
    name: str
    task_id: str | None = None
    snapshot_id: str | None = None
    image_id: str | None = None

    def start(self, ec2: Any) -> str:
        return str(
            ec2.import_snapshot(
                Description=self.description,
                DiskContainer={"Url": self.url},
                ClientToken=self.token,
            )["ImportTaskId"]
        )


def import_image(
    ec2: Any, url: str, name: str, description: str, report: Report, **image: Any
) -> Imported:
    """Import `url` (a `file://` URL of the server's host for amiable) as image
    `name`; Interrupted on Ctrl-C, after undoing what was made."""
    check_name(ec2, name)
    made = _Made(url, description, uuid.uuid4().hex, name)
    try:
        made.task_id = made.start(ec2)
        made.snapshot_id = str(wait_for_import(ec2, made.task_id, report)["SnapshotId"])
        made.image_id = register(ec2, name, description, made.snapshot_id, **image)
    except KeyboardInterrupt:
        if made.task_id is None:  # the call may have reached the server before Ctrl-C
            made.task_id = made.start(ec2)  # the same ClientToken: the same task
        _undo(ec2, made, "interrupted")
        raise Interrupted(_what(made)) from None
    except BaseException:
        _undo(ec2, made, "the import failed")
        raise
    return Imported(made.image_id, made.snapshot_id, made.task_id)


def discard(ec2: Any, imported: Imported) -> None:
    """Deregister an imported image and delete its snapshot (a step after the
    import failed)."""
    _undo(
        ec2,
        _Made("", "", "", "", imported.task_id, imported.snapshot_id, imported.image_id),
        "a later step failed",
    )


def _undo(ec2: Any, made: _Made, reason: str) -> None:
    if made.task_id is not None and made.snapshot_id is None:
        made.snapshot_id = cancel_import(ec2, made.task_id, reason).get("SnapshotId")
    if made.image_id is None and made.snapshot_id is not None and made.name:
        made.image_id = _registered(ec2, made.name, made.snapshot_id)
    if made.image_id is not None:
        ec2.deregister_image(ImageId=made.image_id)
    if made.snapshot_id is not None:
        ec2.delete_snapshot(SnapshotId=made.snapshot_id)


def _registered(ec2: Any, name: str, snapshot_id: str) -> str | None:
    """The image an interrupted RegisterImage may have made from the snapshot."""
    found = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": [name]}])
    for image in found["Images"]:
        mappings = image.get("BlockDeviceMappings", [])
        if any(m.get("Ebs", {}).get("SnapshotId") == snapshot_id for m in mappings):
            return str(image["ImageId"])
    return None


def _what(made: _Made) -> str:
    return f"interrupted: {made.task_id or 'the import'} cancelled, nothing was left"
