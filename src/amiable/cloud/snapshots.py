"""Snapshots: DescribeSnapshots and DeleteSnapshot (creation: imports, and
CreateSnapshot once volumes exist)."""

from typing import Any

from sqlalchemy import select

from amiable.catalog.regional import image_snapshots, snapshots

from .actions import Context, action
from .errors import ApiError
from .filters import field
from .filters import select as filter_items
from .home import Region
from .ids import well_formed
from .pages import page
from .tags import delete_tags_of, filter_names, tag_extractors, tags_of

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


def _check_ids(ids: list[str]) -> None:
    for snapshot_id in ids:
        if not well_formed("snap", snapshot_id):
            raise ApiError(
                "InvalidSnapshotID.Malformed",
                f'Invalid id: "{snapshot_id}" (expecting "snap-...")',
            )


def _not_found(snapshot_id: str) -> ApiError:
    return ApiError("InvalidSnapshot.NotFound", f"The snapshot '{snapshot_id}' does not exist.")


def _output(row: Any, tags: list[dict[str, str]]) -> dict[str, Any]:
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
    if row.state_message:
        item["StateMessage"] = row.state_message
    return item


@action("ec2", "DescribeSnapshots")
def describe_snapshots(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    wanted = params.get("SnapshotIds") or []
    _check_ids(wanted)
    owners = {ctx.account_id if o == "self" else o for o in params.get("OwnerIds") or []}
    # Until sharing exists (issue 4), an account sees its own snapshots only.
    query = select(snapshots).where(snapshots.c.owner_id == ctx.account_id)
    if wanted:
        query = query.where(snapshots.c.snapshot_id.in_(wanted))
    with region.catalog.connect() as conn:
        rows = conn.execute(query.order_by(snapshots.c.snapshot_id)).all()
        tags = tags_of(conn, [r.snapshot_id for r in rows])
    missing = sorted(set(wanted) - {r.snapshot_id for r in rows})
    if missing:
        raise _not_found(missing[0])
    items = [_output(r, tags[r.snapshot_id]) for r in rows]
    if owners:
        items = [i for i in items if i["OwnerId"] in owners]
    filters = params.get("Filters")
    chosen = filter_items(items, filters, {**_FILTERS, **tag_extractors(filter_names(filters))})
    results, token = page(chosen, "SnapshotId", params)
    return {"Snapshots": results, "NextToken": token}


@action("ec2", "DeleteSnapshot")
def delete_snapshot(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    snapshot_id = params["SnapshotId"]
    _check_ids([snapshot_id])
    delete_owned_snapshot(ctx, ctx.cloud.region(ctx.region), snapshot_id)
    return {}


def delete_owned_snapshot(ctx: Context, region: Region, snapshot_id: str) -> None:
    """Delete the caller's snapshot unless an image uses it."""
    with region.catalog.begin() as conn:
        row = conn.execute(
            select(snapshots).where(
                snapshots.c.snapshot_id == snapshot_id, snapshots.c.owner_id == ctx.account_id
            )
        ).first()
        if row is None:
            raise _not_found(snapshot_id)
        user = conn.execute(
            select(image_snapshots.c.image_id).where(image_snapshots.c.snapshot_id == snapshot_id)
        ).scalar()
        if user is not None:
            raise ApiError(
                "InvalidSnapshot.InUse",
                f"The snapshot {snapshot_id} is currently in use by {user}",
            )
        conn.execute(snapshots.delete().where(snapshots.c.snapshot_id == snapshot_id))
        delete_tags_of(conn, snapshot_id)
    if row.store_snapshot:
        region.store.delete(row.store_snapshot)  # its data goes at the store's next gc
