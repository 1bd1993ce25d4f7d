"""The Recycle Bin for images and snapshots: what goes in, listing, restoring,
and purging when retention ends.

`DeregisterImage` and `DeleteSnapshot` ask `rules.bin_retention`: when a rule keeps
the resource, its row stays, marked with when it entered and when it leaves
the bin (`bin_entered`, `bin_exit`), and it disappears from everything but the
Recycle Bin actions (`permissions.outside_bin`). A binned image keeps its
snapshots in use, its name, tags and launch permissions; restoring gives it
all back. The sweeper purges what is due — rows, tags, grants, and store
snapshots no one uses, then the store's gc reclaims their objects. The bin is
rows in the catalog, so a restart loses nothing: the next sweep finds them.
The same sweep forgets the deregistered image ids that are due
(`images/deregistered.py`).
"""

import json
import logging
import threading
import weakref
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, select

from amiable.catalog.regional import images, snapshot_locks, snapshots
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Cloud, Region
from amiable.cloud.core.pages import page
from amiable.cloud.core.permissions import clear
from amiable.cloud.core.tags import delete_tags_of
from amiable.cloud.ebs.snapshots import check_ids, snapshot_output, unused_store_snapshot
from amiable.cloud.images import deregistered

log = logging.getLogger(__name__)
SWEEP_SECONDS = 60.0


def _binned(
    conn: Connection, table: Table, id_column: str, owner: str, wanted: list[str]
) -> list[Any]:
    column = table.c[id_column]
    query = select(table).where(table.c.owner_id == owner, table.c.bin_exit.is_not(None))
    if wanted:
        query = query.where(column.in_(wanted))
    return list(conn.execute(query.order_by(column)).all())


@action("ec2", "ListImagesInRecycleBin")
def list_images_in_recycle_bin(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.connect() as conn:
        rows = _binned(conn, images, "image_id", ctx.account_id, params.get("ImageIds") or [])
    items = [
        {
            "ImageId": row.image_id,
            "Name": row.name,
            "Description": _description(row),
            "RecycleBinEnterTime": row.bin_entered,
            "RecycleBinExitTime": row.bin_exit,
        }
        for row in rows
    ]
    results, token = page(items, "ImageId", params, (1, 1000))
    return {"Images": results, "NextToken": token}


def _description(row: Any) -> str:
    return str(json.loads(row.document).get("Description", ""))


@action("ec2", "ListSnapshotsInRecycleBin")
def list_snapshots_in_recycle_bin(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    wanted = params.get("SnapshotIds") or []
    check_ids(wanted)
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.connect() as conn:
        rows = _binned(conn, snapshots, "snapshot_id", ctx.account_id, wanted)
    items = [
        {
            "SnapshotId": row.snapshot_id,
            "RecycleBinEnterTime": row.bin_entered,
            "RecycleBinExitTime": row.bin_exit,
            "Description": row.description,
            "VolumeId": row.volume_id,
        }
        for row in rows
    ]
    results, token = page(items, "SnapshotId", params, (5, 1000))
    return {"Snapshots": results, "NextToken": token}


def _restore(ctx: Context, table: Table, id_column: str, resource_id: str, code: str) -> Any:
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.begin() as conn:
        found = _binned(conn, table, id_column, ctx.account_id, [resource_id])
        if not found:
            raise ApiError(code, f"The resource '{resource_id}' is not in the Recycle Bin.")
        conn.execute(
            table.update()
            .where(table.c[id_column] == resource_id)
            .values(bin_entered=None, bin_exit=None)
        )
        return conn.execute(select(table).where(table.c[id_column] == resource_id)).one()


@action("ec2", "RestoreImageFromRecycleBin")
def restore_image_from_recycle_bin(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    _restore(ctx, images, "image_id", params["ImageId"], "InvalidAMIID.NotFound")
    return {"Return": True}


@action("ec2", "RestoreSnapshotFromRecycleBin")
def restore_snapshot_from_recycle_bin(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    check_ids([params["SnapshotId"]])
    row = _restore(ctx, snapshots, "snapshot_id", params["SnapshotId"], "InvalidSnapshot.NotFound")
    shown = snapshot_output(row, [])
    keys = (
        "SnapshotId",
        "Description",
        "Encrypted",
        "OwnerId",
        "Progress",
        "StartTime",
        "State",
        "VolumeId",
        "VolumeSize",
    )
    return {k: shown[k] for k in keys}


def sweep(region: Region, now: datetime) -> int:
    """Purge what has reached its exit time (and forget deregistered image ids
    that are due); returns how many resources left the bin."""
    unused: list[str] = []
    with region.catalog.begin() as conn:
        deregistered.forget_due(conn, now)
        due_images = list(
            conn.execute(select(images.c.image_id).where(images.c.bin_exit <= now)).scalars()
        )
        for image_id in due_images:
            conn.execute(images.delete().where(images.c.image_id == image_id))
            delete_tags_of(conn, image_id)
            clear(conn, image_id)
        due_snapshots = conn.execute(
            select(snapshots.c.snapshot_id, snapshots.c.store_snapshot).where(
                snapshots.c.bin_exit <= now
            )
        ).all()
        for snapshot_id, store_snapshot in due_snapshots:
            conn.execute(snapshots.delete().where(snapshots.c.snapshot_id == snapshot_id))
            conn.execute(snapshot_locks.delete().where(snapshot_locks.c.snapshot_id == snapshot_id))
            delete_tags_of(conn, snapshot_id)
            clear(conn, snapshot_id)
            free = unused_store_snapshot(conn, store_snapshot)
            if free:
                unused.append(free)
    for store_snapshot in unused:
        region.store.delete(store_snapshot)
    if unused:
        region.store.gc()
    return len(due_images) + len(due_snapshots)


def sweep_all(cloud: Cloud) -> int:
    """One pass over every region of the data home."""
    regions_dir = cloud.home / "regions"
    names = sorted(p.name for p in regions_dir.iterdir()) if regions_dir.is_dir() else []
    now = cloud.clock.now()
    return sum(sweep(cloud.region(name), now) for name in names)


class Sweeper:
    """Sweeps the data home every `interval` seconds in a daemon thread, for as
    long as its cloud lives (it holds the cloud weakly)."""

    def __init__(self, cloud: Cloud, interval: float = SWEEP_SECONDS) -> None:
        self._cloud = weakref.ref(cloud)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="amiable-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        wait = min(self._interval, 5.0)  # the first pass soon after start: after a restart
        while not self._stop.wait(wait):
            wait = self._interval
            cloud = self._cloud()
            if cloud is None or not cloud.home.is_dir():
                return
            try:
                sweep_all(cloud)
            except Exception:  # a failed pass is retried at the next one
                log.exception("recycle bin sweep failed")
            del cloud
