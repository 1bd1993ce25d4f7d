"""Volumes: CreateVolume (empty or from a snapshot), DescribeVolumes,
DeleteVolume, and CreateSnapshot of a volume.

A volume is metadata plus the store snapshot its content starts from; its
data is materialized when an instance attaches it (issue 5). So creating a
volume, and snapshotting an unchanged one, cost O(1): the new snapshot shares
the store snapshot.
"""

import logging
import shutil
import tempfile
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from amiable.catalog.regional import volumes
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError, invalid_value
from amiable.cloud.core.filters import field
from amiable.cloud.core.home import Region
from amiable.cloud.core.ids import new_id, well_formed
from amiable.cloud.core.listing import filtered_page, owned_rows
from amiable.cloud.core.permissions import caller_of
from amiable.cloud.core.regions import ZONE_LETTERS
from amiable.cloud.core.tags import apply_specifications, delete_tags_of
from amiable.cloud.instances.hosting import changes_of, volume_layer

from .encryption import encrypt_into, plan, protection_of, unwrap
from .snapshots import add_snapshot, snapshot_output, unused_store_snapshot, visible_snapshot

log = logging.getLogger(__name__)
MAX_SIZE = 16384  # GiB
_TYPES = {"standard", "gp2", "gp3", "io1", "io2", "sc1", "st1"}


def check_volume_ids(ids: list[str]) -> None:
    for volume_id in ids:
        if not well_formed("vol", volume_id):
            raise ApiError("InvalidVolumeID.Malformed", f'Invalid id: "{volume_id}"')


def _not_found(volume_id: str) -> ApiError:
    return ApiError("InvalidVolume.NotFound", f"The volume '{volume_id}' does not exist.")


def attachment(row: Any, state: str = "attached") -> dict[str, Any]:
    return {
        "VolumeId": row.volume_id,
        "InstanceId": row.instance_id,
        "Device": row.device,
        "State": state,
        "AttachTime": row.create_time,
        "DeleteOnTermination": bool(row.delete_on_termination),
    }


def _output(row: Any, tags: list[dict[str, str]]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "VolumeId": row.volume_id,
        "Size": row.size,
        "SnapshotId": row.snapshot_id or "",
        "AvailabilityZone": row.availability_zone,
        "State": row.state,
        "CreateTime": row.create_time,
        "VolumeType": row.volume_type,
        "Encrypted": row.encrypted,
        "KmsKeyId": row.kms_key_id,
        "MultiAttachEnabled": False,
        "Attachments": [attachment(row)] if row.instance_id else [],
        "Tags": tags,
    }
    if row.iops is not None:
        item["Iops"] = row.iops
    if row.throughput is not None:
        item["Throughput"] = row.throughput
    return item


@action("ec2", "CreateVolume")
def create_volume(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """From a snapshot the volume shares its store snapshot (O(1)); made
    encrypted from an unencrypted one, it is `creating` while the data is
    encrypted into a new store snapshot in the background."""
    region: Region = ctx.cloud.region(ctx.region)
    zone = params.get("AvailabilityZone")
    if zone not in {f"{ctx.region}{letter}" for letter in ZONE_LETTERS}:
        raise ApiError("InvalidZone.NotFound", f"The zone '{zone}' does not exist.")
    volume_type = params.get("VolumeType", "gp2")
    if volume_type not in _TYPES:
        raise invalid_value("VolumeType", volume_type)
    snapshot_id = params.get("SnapshotId")
    origin, size, source = None, params.get("Size"), None
    if snapshot_id:
        with region.catalog.connect() as conn:
            row = visible_snapshot(conn, caller_of(ctx), snapshot_id)
        if row.state != "completed":
            raise ApiError(
                "InvalidSnapshot.NotFound", f"The snapshot '{snapshot_id}' does not exist."
            )
        origin, source = row.store_snapshot, protection_of(row)
        size = row.volume_size if size is None else size
        if size < row.volume_size:
            raise invalid_value("Size", size, f"smaller than the snapshot's {row.volume_size} GiB")
    if size is None:
        raise ApiError("MissingParameter", "The request must contain the parameter size/snapshot")
    if not 1 <= size <= MAX_SIZE:
        raise invalid_value("Size", size, f"must be 1 to {MAX_SIZE} GiB")
    target = plan(
        ctx,
        region,
        region,
        source,
        params,
        keep_source_key=True,
    )
    encrypting = origin is not None and target.data_key is not None
    volume_id = new_id("vol")
    with region.catalog.begin() as conn:
        conn.execute(
            volumes.insert().values(
                volume_id=volume_id,
                owner_id=ctx.account_id,
                state="creating" if encrypting else "available",
                size=size,
                snapshot_id=snapshot_id,
                availability_zone=zone,
                volume_type=volume_type,
                iops=params.get("Iops"),
                throughput=params.get("Throughput"),
                encrypted=target.protection is not None,
                kms_key_id=target.protection.kms_key_id if target.protection else None,
                data_key=target.protection.data_key if target.protection else None,
                create_time=datetime.now(UTC),
                store_snapshot=None if encrypting else origin,
            )
        )
        tags = apply_specifications(
            conn, params.get("TagSpecifications"), "volume", volume_id, ctx.account_id
        )
        row = conn.execute(select(volumes).where(volumes.c.volume_id == volume_id)).one()
    if encrypting:
        ctx.cloud.background(_encrypt, region, volume_id, origin, target.data_key)
    return _output(row, tags)


def _encrypt(region: Region, volume_id: str, origin: str, data_key: bytes) -> None:
    try:
        encrypted = encrypt_into(region, origin, region, data_key)
    except Exception as exc:  # the volume ends in error with its reason
        log.error("encrypting %s failed: %s", volume_id, exc)
        values: dict[str, Any] = {"state": "error"}
    else:
        values = {"state": "available", "store_snapshot": encrypted}
    with region.catalog.begin() as conn:
        conn.execute(volumes.update().where(volumes.c.volume_id == volume_id).values(**values))


_FILTERS = {
    "volume-id": field("VolumeId"),
    "size": field("Size"),
    "snapshot-id": field("SnapshotId"),
    "status": field("State"),
    "availability-zone": field("AvailabilityZone"),
    "volume-type": field("VolumeType"),
    "encrypted": field("Encrypted"),
    "multi-attach-enabled": field("MultiAttachEnabled"),
}


@action("ec2", "DescribeVolumes")
def describe_volumes(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    wanted = params.get("VolumeIds") or []
    check_volume_ids(wanted)
    rows, tags = owned_rows(
        region, volumes, "volume_id", ctx.account_id, wanted, lambda m: _not_found(m[0])
    )
    items = [_output(r, tags[r.volume_id]) for r in rows]
    results, token = filtered_page(items, params, _FILTERS, "VolumeId", limits=(5, 500))
    return {"Volumes": results, "NextToken": token}


def owned_volume(region: Region, owner: str, volume_id: str) -> Any:
    """The owner's volume row, or InvalidVolume.NotFound."""
    check_volume_ids([volume_id])
    with region.catalog.connect() as conn:
        row = conn.execute(
            select(volumes).where(volumes.c.volume_id == volume_id, volumes.c.owner_id == owner)
        ).first()
    if row is None:
        raise _not_found(volume_id)
    return row


@action("ec2", "DeleteVolume")
def delete_volume(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    row = owned_volume(region, ctx.account_id, params["VolumeId"])
    if row.state != "available":
        raise ApiError("VolumeInUse", f"Volume {row.volume_id} is currently attached")
    with region.catalog.begin() as conn:
        conn.execute(volumes.delete().where(volumes.c.volume_id == row.volume_id))
        delete_tags_of(conn, row.volume_id)
        unused = unused_store_snapshot(conn, row.store_snapshot)
    shutil.rmtree(volume_layer(region, row.volume_id), ignore_errors=True)  # its changes
    if unused:
        region.store.delete(unused)
    return {}


@action("ec2", "CreateSnapshot")
def create_snapshot(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """The snapshot shares the volume's store snapshot and protection."""
    region: Region = ctx.cloud.region(ctx.region)
    volume = owned_volume(region, ctx.account_id, params["VolumeId"])
    if volume.state not in ("available", "in-use"):
        raise ApiError("IncorrectState", f"Volume {volume.volume_id} is {volume.state}.")
    protection = protection_of(volume)
    key = unwrap(ctx, region, protection) if protection else None
    store_snapshot = volume.store_snapshot or _empty_tree(region, key)
    changes = changes_of(region, volume)
    if changes is not None:  # what the instance wrote on it
        store_snapshot = region.store.snapshot_changes(changes, parent=store_snapshot, key=key).id
    with region.catalog.begin() as conn:
        snapshot_id = snapshot_of(
            conn, ctx.account_id, volume, params.get("Description", ""), store_snapshot
        )
        row = visible_snapshot(conn, caller_of(ctx), snapshot_id)
        tags = apply_specifications(
            conn, params.get("TagSpecifications"), "snapshot", snapshot_id, ctx.account_id
        )
    return snapshot_output(row, tags)


def snapshot_of(
    conn: Connection,
    owner: str,
    volume: Any,
    description: str,
    store_snapshot: str | None,
    pending_worker: str | None = None,
) -> str:
    """A new snapshot row of a volume: its size and protection, this content."""
    return add_snapshot(
        conn,
        owner,
        volume_id=volume.volume_id,
        size=volume.size,
        description=description,
        store_snapshot=store_snapshot,
        pending_worker=pending_worker,
        protection=protection_of(volume),
    )


def _empty_tree(region: Region, data_key: bytes | None) -> str:
    """A store snapshot of an empty file system (an empty volume's content)."""
    with tempfile.TemporaryDirectory() as empty:
        return region.store.snapshot(empty, key=data_key).id
