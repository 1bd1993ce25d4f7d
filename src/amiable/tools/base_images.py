"""Publishing a base image: a root file system imported, registered under a
name, waited for, and made public — through the EC2 API only. Public as
Amazon's public AMIs are: the image and its snapshot, so any account can
launch it and copy it. The name is checked before anything is imported, and
a publication that fails or is interrupted leaves nothing behind
(`image_import`)."""

import platform
from pathlib import Path
from typing import Any

from .image_import import Interrupted, discard, import_image
from .waiting import Report, quiet, wait_for_image


def architecture() -> str:
    machine = platform.machine()
    return {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


def publish(
    ec2: Any,
    root: Path,
    name: str,
    description: str,
    report: Report = quiet,
    public: bool = True,
) -> str:
    """Import `root` as a snapshot, register it as image `name`; returns its id."""
    imported = import_image(
        ec2,
        f"file://{root.absolute()}",
        name,
        description,
        report,
        Architecture=architecture(),
        BootMode="uefi-preferred",
    )
    try:
        wait_for_image(ec2, imported.image_id, report)
        if public:
            ec2.disable_image_block_public_access()
            ec2.modify_image_attribute(
                ImageId=imported.image_id, LaunchPermission={"Add": [{"Group": "all"}]}
            )
            ec2.modify_snapshot_attribute(  # CopyImage reads the snapshot: public too
                SnapshotId=imported.snapshot_id, CreateVolumePermission={"Add": [{"Group": "all"}]}
            )
    except KeyboardInterrupt:
        discard(ec2, imported)
        raise Interrupted(f"interrupted: {imported.image_id} removed, nothing was left") from None
    except BaseException:
        discard(ec2, imported)
        raise
    return imported.image_id
