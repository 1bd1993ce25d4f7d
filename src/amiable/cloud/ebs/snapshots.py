"""Snapshots: DescribeSnapshots, DeleteSnapshot and CopySnapshot (creation:
imports, and CreateSnapshot once volumes exist).

An account sees and uses its own snapshots and those whose
createVolumePermission reaches it (`snapshot_permissions`); public ones
unless their owner blocks all public sharing. A copy that fails, or is cut
short by a restart, leaves nothing: no snapshot, and its store data is
reclaimed.
"""

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, select

from amiable.catalog.regional import image_snapshots, permissions, snapshots, volumes
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.filters import field
from amiable.cloud.core.home import Region
from amiable.cloud.core.ids import new_id, well_formed
from amiable.cloud.core.listing import filtered_page, visible_rows
from amiable.cloud.core.permissions import (
    Caller,
    caller_of,
    clear,
    granted_ids,
    is_account_id,
    outside_bin,
    visible,
)
from amiable.cloud.core.tags import apply_specifications, delete_tags_of
from amiable.cloud.core.workers import alive, this_worker
from amiable.cloud.images.public_access import owners_blocking_all_snapshot_sharing
from amiable.cloud.rbin.rules import bin_retention

from .encryption import Protection, encrypt_into, key_problem, plan, protection_of
from .lock_rules import refuse_if_locked

log = logging.getLogger(__name__)

_FILTERS = {
    "snapshot-id": field("SnapshotId"),
    "owner-id": field("OwnerId"),
    "status": field("State"),
    "progress": field("Progress"),
    "volume-id": field("VolumeId"),
    "volume-size": field("VolumeSize"),
    "description": field("Description"),
    "encrypted": field("Encrypted"),
    "storage-tier": field("StorageTier"),
    "start-time": lambda item: [item["StartTime"].strftime("%Y-%m-%dT%H:%M:%S.000Z")],
}


def add_snapshot(
    conn: Connection,
    owner: str,
    *,
    volume_id: str,
    size: int,
    description: str,
    store_snapshot: str | None,
    pending_worker: str | None = None,
    protection: Protection | None = None,
) -> str:
    """Write a new snapshot row: completed, or pending while `pending_worker` fills it;
    encrypted when `protection` says with which key."""
    snapshot_id = new_id("snap")
    conn.execute(
        snapshots.insert().values(
            snapshot_id=snapshot_id,
            owner_id=owner,
            state="pending" if pending_worker else "completed",
            progress=0 if pending_worker else 100,
            volume_id=volume_id,
            volume_size=size,
            description=description,
            encrypted=protection is not None,
            kms_key_id=protection.kms_key_id if protection else None,
            data_key=protection.data_key if protection else None,
            start_time=datetime.now(UTC),
            store_snapshot=store_snapshot,
            worker=pending_worker,
        )
    )
    return snapshot_id


def owned_snapshot(conn: Connection, owner: str, snapshot_id: str) -> Any:
    """The owner's snapshot row (not in the Recycle Bin), or InvalidSnapshot.NotFound."""
    row = conn.execute(
        select(snapshots).where(
            snapshots.c.snapshot_id == snapshot_id,
            snapshots.c.owner_id == owner,
            outside_bin(snapshots),
        )
    ).first()
    if row is None:
        raise _not_found(snapshot_id)
    return row


def visible_snapshot(conn: Connection, caller: Caller, snapshot_id: str) -> Any:
    """A snapshot the caller owns or may create volumes from, or InvalidSnapshot.NotFound."""
    row = conn.execute(
        select(snapshots).where(snapshots.c.snapshot_id == snapshot_id, snapshot_visibility(caller))
    ).first()
    if row is None:
        raise _not_found(snapshot_id)
    return row


def snapshot_visibility(caller: Caller) -> ColumnElement[bool]:
    return visible(snapshots, "snapshot_id", caller, owners_blocking_all_snapshot_sharing())


def check_ids(ids: list[str]) -> None:
    for snapshot_id in ids:
        if not well_formed("snap", snapshot_id):
            raise ApiError(
                "InvalidSnapshotID.Malformed",
                f'Invalid id: "{snapshot_id}" (expecting "snap-...")',
            )


def _not_found(snapshot_id: str) -> ApiError:
    return ApiError("InvalidSnapshot.NotFound", f"The snapshot '{snapshot_id}' does not exist.")


def snapshot_output(
    row: Any, tags: list[dict[str, str]], problem: str | None = None
) -> dict[str, Any]:
    """The Snapshot shape; `problem` (why its data cannot be read) becomes its StateMessage."""
    item = {
        "SnapshotId": row.snapshot_id,
        "OwnerId": row.owner_id,
        "State": row.state,
        "Progress": f"{row.progress}%",
        "VolumeId": row.volume_id,
        "VolumeSize": row.volume_size,
        "Description": row.description,
        "Encrypted": row.encrypted,
        "StartTime": row.start_time,
        "StorageTier": "standard",
        "Tags": tags,
    }
    if row.kms_key_id:
        item["KmsKeyId"] = row.kms_key_id
    if row.state_message or problem:
        item["StateMessage"] = problem or row.state_message
    return item


@action("ec2", "DescribeSnapshots")
def describe_snapshots(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    wanted = params.get("SnapshotIds") or []
    check_ids(wanted)
    owners = {ctx.account_id if o == "self" else o for o in params.get("OwnerIds") or []}
    caller = caller_of(ctx)
    rows, tags = visible_rows(
        region,
        snapshots,
        "snapshot_id",
        caller.account_id,
        snapshot_visibility(caller),
        wanted,
        lambda m: _not_found(m[0]),
    )
    if owners:
        rows = [r for r in rows if r.owner_id in owners]
    restorable_by = params.get("RestorableByUserIds")
    if restorable_by:
        with region.catalog.connect() as conn:
            chosen = _restorable_ids(conn, caller, restorable_by, [r.snapshot_id for r in rows])
        rows = [r for r in rows if r.snapshot_id in chosen]
    now = ctx.cloud.clock.now()
    one_per_key = {r.kms_key_id: r for r in rows if r.kms_key_id}  # one look per KMS key
    problems = {key: key_problem(region, protection_of(r), now) for key, r in one_per_key.items()}
    items = [snapshot_output(r, tags[r.snapshot_id], problems.get(r.kms_key_id)) for r in rows]
    results, token = filtered_page(items, params, _FILTERS, "SnapshotId")
    return {"Snapshots": results, "NextToken": token}


def _restorable_ids(conn: Connection, caller: Caller, users: list[str], ids: list[str]) -> set[str]:
    """RestorableByUserIds: `all` (public), `self` or an account id (its own
    snapshots and those shared with it)."""
    chosen: set[str] = set()
    for user in users:
        account = caller.account_id if user == "self" else user
        if user == "all":
            reaching = and_(permissions.c.kind == "group", permissions.c.value == "all")
        elif is_account_id(account):
            reaching = and_(permissions.c.kind == "user", permissions.c.value == account)
            owned = select(snapshots.c.snapshot_id).where(
                snapshots.c.owner_id == account, snapshots.c.snapshot_id.in_(ids)
            )
            chosen.update(conn.execute(owned).scalars())
        else:
            raise ApiError("InvalidUserID.Malformed", f'Invalid user id: "{user}"')
        query = granted_ids(reaching).where(permissions.c.resource_id.in_(ids))
        chosen.update(conn.execute(query).scalars())
    return chosen


@action("ec2", "DeleteSnapshot")
def delete_snapshot(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    snapshot_id = params["SnapshotId"]
    check_ids([snapshot_id])
    delete_owned_snapshot(ctx, ctx.cloud.region(ctx.region), snapshot_id)
    return {}


def delete_owned_snapshot(ctx: Context, region: Region, snapshot_id: str) -> None:
    """Delete the caller's snapshot unless an image uses it or a lock holds it;
    a Recycle Bin rule may keep it in the bin instead."""
    now = ctx.cloud.clock.now()
    with region.catalog.begin() as conn:
        row = owned_snapshot(conn, ctx.account_id, snapshot_id)
        refuse_if_locked(conn, snapshot_id, now)
        user = conn.execute(
            select(image_snapshots.c.image_id).where(image_snapshots.c.snapshot_id == snapshot_id)
        ).scalar()
        if user is not None:
            raise ApiError(
                "InvalidSnapshot.InUse",
                f"The snapshot {snapshot_id} is currently in use by {user}",
            )
        binned = bin_retention(conn, ctx.account_id, "EBS_SNAPSHOT", snapshot_id, now)
        if binned:  # kept whole in the Recycle Bin
            conn.execute(
                snapshots.update().where(snapshots.c.snapshot_id == snapshot_id).values(**binned)
            )
            return
        conn.execute(snapshots.delete().where(snapshots.c.snapshot_id == snapshot_id))
        delete_tags_of(conn, snapshot_id)
        clear(conn, snapshot_id)
        unused = unused_store_snapshot(conn, row.store_snapshot)
    if unused:
        region.release(unused)  # its data is reclaimed as soon as the store is idle


def unused_store_snapshot(conn: Connection, store_snapshot: str | None) -> str | None:
    """The store snapshot, if no snapshot or volume uses it any more (copies in
    one region and volumes share their origin's store snapshot)."""
    if store_snapshot is None:
        return None
    for table in (snapshots, volumes):
        used = select(table.c.owner_id).where(table.c.store_snapshot == store_snapshot)
        if conn.execute(used).first():
            return None
    return store_snapshot


@action("ec2", "CopySnapshot")
def copy_snapshot(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Called in the destination region; the data moves in the background,
    only the objects the destination store lacks (or, when unencrypted data is
    to be encrypted, a new encrypted store snapshot is written)."""
    source_id = params["SourceSnapshotId"]
    check_ids([source_id])
    source: Region = ctx.cloud.region(params["SourceRegion"])
    destination: Region = ctx.cloud.region(ctx.region)
    with source.catalog.connect() as conn:
        row = visible_snapshot(conn, caller_of(ctx), source_id)
    if row.state != "completed":
        raise ApiError("IncorrectState", f"Snapshot '{source_id}' is not in the completed state.")
    target = plan(
        ctx,
        destination,
        source,
        protection_of(row),
        params,
    )
    description = params.get("Description") or f"[Copied {source_id} from {source.name}]"
    with destination.catalog.begin() as conn:
        snapshot_id = add_snapshot(
            conn,
            ctx.account_id,
            volume_id="vol-ffffffff",
            size=row.volume_size,
            description=description,
            # named now so a discarded copy knows what to free (a new encrypted
            # store snapshot is named when it exists)
            store_snapshot=None if target.data_key else row.store_snapshot,
            pending_worker=this_worker(),
            protection=target.protection,
        )
        tags = apply_specifications(
            conn, params.get("TagSpecifications"), "snapshot", snapshot_id, ctx.account_id
        )
    ctx.cloud.background(
        _copy, source, destination, row.store_snapshot, snapshot_id, target.data_key
    )
    return {"SnapshotId": snapshot_id, "Tags": tags}


def move_data(
    source: Region, destination: Region, store_snapshot: str, data_key: bytes | None
) -> str:
    """The store snapshot holding a copy's data in `destination`: the same one,
    copied over if the regions differ, or a new one encrypted with `data_key`."""
    if data_key is not None:
        return encrypt_into(source, store_snapshot, destination, data_key)
    if source is not destination:
        source.store.copy(store_snapshot, destination.store)
    return store_snapshot


def _copy(
    source: Region,
    destination: Region,
    store_snapshot: str,
    snapshot_id: str,
    data_key: bytes | None,
) -> None:
    try:
        moved = move_data(source, destination, store_snapshot, data_key)
    except Exception:
        log.exception("copying %s failed", snapshot_id)
        discard_snapshot(destination, snapshot_id)
        return
    with destination.catalog.begin() as conn:
        conn.execute(
            snapshots.update()
            .where(snapshots.c.snapshot_id == snapshot_id)
            .values(state="completed", progress=100, store_snapshot=moved, worker=None)
        )


def discard_snapshot(region: Region, snapshot_id: str) -> None:
    """A snapshot that did not finish leaves nothing: its row and tags go, and
    its store data (named, or labelled with its id) if nothing else uses it."""
    with region.catalog.begin() as conn:
        store_snapshot = conn.execute(
            select(snapshots.c.store_snapshot).where(snapshots.c.snapshot_id == snapshot_id)
        ).scalar()
        conn.execute(snapshots.delete().where(snapshots.c.snapshot_id == snapshot_id))
        delete_tags_of(conn, snapshot_id)
        made = {store_snapshot, *region.made_for(snapshot_id)}
        unused = [s for s in (unused_store_snapshot(conn, x) for x in made) if s]
    region.release(*unused)  # and what the work wrote before it stopped


def discard_orphans(region: Region) -> None:
    """Pending snapshots whose worker is gone (copies, snapshots of instances cut
    short by a restart) are discarded."""
    with region.catalog.connect() as conn:
        pending = conn.execute(
            select(snapshots.c.snapshot_id, snapshots.c.worker).where(
                snapshots.c.state == "pending"
            )
        ).all()
    for snapshot_id, worker in pending:
        if not alive(worker):
            discard_snapshot(region, snapshot_id)
