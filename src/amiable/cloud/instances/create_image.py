"""Images and snapshots from instances: CreateImage and CreateSnapshots.

The instance's root as it is now is its root volume's store snapshot with
the changes in its overlay's upper directory applied
(`Store.snapshot_changes`): only the upper directory is read, so the cost is
that of what changed. The volume's data key keeps it encrypted under the
same key. CreateImage stops the instance around the snapshot unless
`NoReboot` and starts it again. The new image is `pending` until the
snapshot is done, records `SourceInstanceId` and, as its parent in the
lineage, the instance's image. A capture that fails leaves no image and no
snapshot behind.

A snapshot of a running instance (`NoReboot`, CreateSnapshots) is
crash-consistent at the moment of the call, as AWS's point-in-time
snapshots are: what the instance writes after the call returns is not in
it. Its changes are read before the call returns (costing what changed);
a capture that stops the instance first runs in the background.
"""

import json
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import select

from amiable.catalog.regional import snapshots, volumes
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.flusher import Flusher
from amiable.cloud.core.home import Region
from amiable.cloud.core.ids import new_id
from amiable.cloud.core.tags import apply_specifications, tags_of
from amiable.cloud.core.workers import this_worker
from amiable.cloud.ebs.encryption import protection_of, unwrap
from amiable.cloud.ebs.snapshots import snapshot_output
from amiable.cloud.ebs.volumes import snapshot_of
from amiable.cloud.images.images import check_name, insert_image
from amiable.cloud.images.pending import discard, finish
from amiable.runtime.cache import copy_changes, drop, keep_changes
from amiable.store import measure_tree

from . import hosting
from .instances import attached_volumes, instance_rows

log = logging.getLogger(__name__)


def _root_volume(region: Region, instance: Any) -> Any:
    with region.catalog.connect() as conn:
        return conn.execute(
            select(volumes).where(volumes.c.volume_id == instance.root_volume_id)
        ).one()


def _capturable(ctx: Context, region: Region, instance_id: str) -> Any:
    (instance,) = instance_rows(ctx, region, [instance_id])
    if instance.state not in ("running", "stopped"):
        raise ApiError(
            "IncorrectInstanceState",
            f"The instance '{instance_id}' is {instance.state}; it must be running or stopped.",
        )
    return instance


def _specs(params: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [s for s in params.get("TagSpecifications") or [] if s.get("ResourceType") == kind]


@action("ec2", "CreateImage")
def create_image(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    check_name(params["Name"])
    region: Region = ctx.cloud.region(ctx.region)
    instance = _capturable(ctx, region, params["InstanceId"])
    volume = _root_volume(region, instance)
    protection = protection_of(volume)
    data_key = unwrap(ctx, region, protection) if protection else None
    shown = json.loads(instance.document)
    image_id = new_id("ami")
    worker = this_worker()
    with region.catalog.begin() as conn:
        description = f"Created by CreateImage({instance.instance_id}) for {image_id}"
        snapshot_id = snapshot_of(conn, ctx.account_id, volume, description, None, worker)
        mapping = {
            "DeviceName": instance.root_device,
            "Ebs": {
                "SnapshotId": snapshot_id,
                "VolumeSize": volume.size,
                "VolumeType": volume.volume_type,
                "DeleteOnTermination": True,
                "Encrypted": protection is not None,
                **({"KmsKeyId": protection.kms_key_id} if protection else {}),
            },
        }
        insert_image(
            conn,
            region,
            ctx.account_id,
            ctx.cloud.accounts.alias_of(ctx.account_id),
            image_id,
            {
                **shown,
                "Name": params["Name"],
                "Description": params.get("Description", ""),
                "RootDeviceName": instance.root_device,
            },
            [mapping],
            extra={
                "State": "pending",
                "SourceInstanceId": instance.instance_id,
                "SourceImageId": instance.image_id,
                "SourceImageRegion": region.name,
            },
            worker=worker,
        )
        apply_specifications(conn, _specs(params, "image"), "image", image_id, ctx.account_id)
        apply_specifications(
            conn, _specs(params, "snapshot"), "snapshot", snapshot_id, ctx.account_id
        )
    layer = hosting.layer_of(region, volume.store_snapshot, data_key)
    live = params.get("NoReboot") and instance.state == "running"
    (hosting.at_once if live else hosting.in_background)(
        region,
        instance.instance_id,
        _capture_image,
        image_id,
        snapshot_id,
        (layer, volume.store_snapshot, data_key, attached_volumes(ctx, region, instance)),
        not params.get("NoReboot"),
    )
    return {"ImageId": image_id}


def _capture(
    region: Region, snapshot_id: str, instance_id: str, parent: str, data_key: bytes | None
) -> str:
    """A store snapshot of the instance's root as it is now: its image's snapshot
    with the instance's changes (its overlay's upper directory) applied. The
    changes are copied first and snapshotted from the copy, which the host's
    cache keeps as the new snapshot's layer over `parent`. The snapshot's
    Progress follows the bytes of the changes stored."""
    cache, upper = region.root / "cache", hosting.sandbox(region, instance_id).upper
    copy = copy_changes(cache, upper)
    if copy is None:
        return _store_changes(region, snapshot_id, upper, parent, data_key)
    try:
        stored = _store_changes(region, snapshot_id, copy / "tree", parent, data_key)
        keep_changes(cache, copy, stored, parent)
        return stored
    finally:
        drop(copy)  # kept already, or not to be kept


def _store_changes(
    region: Region, snapshot_id: str, upper: Path, parent: str, data_key: bytes | None
) -> str:
    total = measure_tree(upper).bytes

    def write(percent: int) -> None:
        with region.catalog.begin() as conn:
            conn.execute(
                snapshots.update()
                .where(snapshots.c.snapshot_id == snapshot_id)
                .values(progress=percent)
            )

    with Flusher(f"progress-{snapshot_id}", write) as flusher:
        return region.store.snapshot_changes(
            upper,
            parent=parent,
            key=data_key,
            progress=lambda p: flusher.offer(min(99, p.bytes_done * 100 // max(1, total))),
            label=snapshot_id,  # a restart finds it if the process dies before the end
        ).id


def _capture_image(
    region: Region,
    instance_id: str,
    image_id: str,
    snapshot_id: str,
    source: tuple[Any, str, bytes | None, Any],
    reboot: bool,
) -> None:
    """Under the instance's lock: stop a running instance (unless NoReboot, or
    another transition has it), snapshot its root, boot it again."""
    layer, parent, data_key, mounts = source
    stopped = reboot and hosting.claim(region, instance_id, "running", None)
    stored: tuple[str, ...] = ()
    try:
        if stopped:
            hosting.sandbox(region, instance_id).stop()
        stored = (_capture(region, snapshot_id, instance_id, parent, data_key),)
        finish(region, image_id, {snapshot_id: stored[0]})
    except Exception:
        log.exception("CreateImage %s failed", image_id)
        discard(region, image_id, stored)
    finally:
        if stopped:
            hosting.boot_again(region, instance_id, layer, mounts)


@action("ec2", "CreateSnapshots")
def create_snapshots(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Crash-consistent snapshots of the instance's volumes (its root here)."""
    specification = params["InstanceSpecification"]
    region: Region = ctx.cloud.region(ctx.region)
    instance = _capturable(ctx, region, specification["InstanceId"])
    if specification.get("ExcludeBootVolume"):
        return {"Snapshots": []}
    volume = _root_volume(region, instance)
    protection = protection_of(volume)
    data_key = unwrap(ctx, region, protection) if protection else None
    with region.catalog.begin() as conn:
        snapshot_id = snapshot_of(
            conn, ctx.account_id, volume, params.get("Description", ""), None, this_worker()
        )
        tags = [{"Key": k, "Value": v} for k, v in _copied_tags(conn, params, volume).items()]
        if tags:
            apply_specifications(
                conn,
                [{"ResourceType": "snapshot", "Tags": tags}],
                "snapshot",
                snapshot_id,
                ctx.account_id,
            )
        apply_specifications(
            conn, _specs(params, "snapshot"), "snapshot", snapshot_id, ctx.account_id
        )
        row = conn.execute(select(snapshots).where(snapshots.c.snapshot_id == snapshot_id)).one()
        shown = snapshot_output(row, tags_of(conn, [snapshot_id])[snapshot_id])
    (hosting.at_once if instance.state == "running" else hosting.in_background)(
        region,
        instance.instance_id,
        _capture_snapshot,
        snapshot_id,
        volume.store_snapshot,
        data_key,
    )
    return {"Snapshots": [shown]}


def _copied_tags(conn: Any, params: dict[str, Any], volume: Any) -> dict[str, str]:
    if params.get("CopyTagsFromSource") != "volume":
        return {}
    return {t["Key"]: t["Value"] for t in tags_of(conn, [volume.volume_id])[volume.volume_id]}


def _capture_snapshot(
    region: Region, instance_id: str, snapshot_id: str, parent: str, data_key: bytes | None
) -> None:
    try:
        stored = _capture(region, snapshot_id, instance_id, parent, data_key)
    except Exception as exc:
        values: dict[str, Any] = {"state": "error", "state_message": f"snapshot failed: {exc}"}
    else:
        values = {"state": "completed", "progress": 100, "store_snapshot": stored}
    with region.catalog.begin() as conn:
        conn.execute(
            snapshots.update()
            .where(snapshots.c.snapshot_id == snapshot_id)
            .values(**values, worker=None)
        )
