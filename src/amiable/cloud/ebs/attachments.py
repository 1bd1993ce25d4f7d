"""AttachVolume and DetachVolume.

A volume's changes live in its own writable layer (`regions/<r>/volumes/<id>/`),
so they go wherever it is attached. An extra volume appears inside the
instance at `/mnt/<device name>` (`/dev/sdf` -> `/mnt/sdf`): mounted at once in
a running instance, at its next boot in a stopped one.
"""

from typing import Any

from sqlalchemy import select

from amiable.catalog.regional import volumes
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Region
from amiable.cloud.instances import hosting
from amiable.cloud.instances.instances import instance_rows

from .encryption import protection_of, unwrap
from .volumes import attachment, owned_volume


@action("ec2", "AttachVolume")
def attach_volume(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    volume = owned_volume(region, ctx.account_id, params["VolumeId"])
    (instance,) = instance_rows(ctx, region, [params["InstanceId"]])
    device = params["Device"]
    if volume.state != "available":
        raise ApiError("VolumeInUse", f"{volume.volume_id} is already attached to an instance")
    if volume.availability_zone != instance.zone:
        raise ApiError(
            "InvalidVolume.ZoneMismatch",
            f"The volume '{volume.volume_id}' is not in the same availability zone as "
            f"instance '{instance.instance_id}'",
        )
    if instance.state not in ("running", "stopped"):
        raise ApiError(
            "IncorrectState", f"Instance '{instance.instance_id}' is not 'running' or 'stopped'."
        )
    with region.catalog.begin() as conn:
        taken = conn.execute(
            select(volumes.c.volume_id).where(
                volumes.c.instance_id == instance.instance_id, volumes.c.device == device
            )
        ).first()
        if taken is not None or device == instance.root_device:
            raise ApiError(
                "InvalidParameterValue",
                f"Invalid value '{device}' for unixDevice. Attachment point {device} is "
                "already in use",
            )
        conn.execute(
            volumes.update()
            .where(volumes.c.volume_id == volume.volume_id)
            .values(
                state="in-use",
                instance_id=instance.instance_id,
                device=device,
                delete_on_termination=False,
            )
        )
        volume = conn.execute(select(volumes).where(volumes.c.volume_id == volume.volume_id)).one()
    protection = protection_of(volume)
    key = unwrap(ctx, region, protection) if protection else None
    with hosting.locked(region, instance.instance_id):  # not while it boots or stops
        box = hosting.sandbox(region, instance.instance_id)
        if box.running():
            box.attach(hosting.volume_mount(region, volume, key))
    return attachment(volume, "attaching")


@action("ec2", "DetachVolume")
def detach_volume(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    volume = owned_volume(region, ctx.account_id, params["VolumeId"])
    if volume.instance_id is None:
        raise ApiError(
            "IncorrectState", f"Volume '{volume.volume_id}' is in the 'available' state."
        )
    if params.get("InstanceId") not in (None, volume.instance_id):
        raise ApiError(
            "InvalidAttachment.NotFound",
            f"The volume {volume.volume_id} is not attached to {params['InstanceId']}",
        )
    (instance,) = instance_rows(ctx, region, [volume.instance_id])
    if volume.device == instance.root_device and instance.state not in ("stopped", "terminated"):
        raise ApiError(
            "IncorrectState",
            f"Unable to detach root volume '{volume.volume_id}' from instance "
            f"'{instance.instance_id}'",
        )
    with hosting.locked(region, instance.instance_id):
        box = hosting.sandbox(region, instance.instance_id)
        if box.running():
            box.detach(hosting.mountpoint(volume.device))
    with region.catalog.begin() as conn:
        conn.execute(
            volumes.update()
            .where(volumes.c.volume_id == volume.volume_id)
            .values(state="available", instance_id=None, device=None)
        )
    return attachment(volume, "detaching")
