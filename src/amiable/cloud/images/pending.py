"""Images filled in the background (copies, images of instances): finishing
them — snapshots `completed` and image `available` in one transaction — or
discarding them whole when the work fails or its worker is gone."""

import json

from sqlalchemy import select

from amiable.catalog.regional import image_snapshots, images, snapshots
from amiable.cloud.core.home import Region
from amiable.cloud.core.tags import delete_tags_of
from amiable.cloud.core.workers import alive
from amiable.cloud.ebs.snapshots import unused_store_snapshot


def finish(region: Region, image_id: str, stored: dict[str, str]) -> None:
    """Complete the image's snapshots (snapshot id -> its store snapshot) and the image."""
    with region.catalog.begin() as conn:
        for snapshot_id, store_snapshot in stored.items():
            conn.execute(
                snapshots.update()
                .where(snapshots.c.snapshot_id == snapshot_id)
                .values(state="completed", progress=100, store_snapshot=store_snapshot, worker=None)
            )
        row = conn.execute(select(images.c.document).where(images.c.image_id == image_id)).one()
        document = {**json.loads(row.document), "State": "available"}
        conn.execute(
            images.update()
            .where(images.c.image_id == image_id)
            .values(state="available", document=json.dumps(document), worker=None)
        )


def discard(region: Region, image_id: str, written: tuple[str, ...] = ()) -> None:
    """Remove an image that did not finish: the image, its snapshots, their tags;
    the store snapshots it named, `written` (made for it, not named yet) or
    labelled with its snapshots' ids are released if no one else uses them,
    and what its work left is reclaimed."""
    with region.catalog.begin() as conn:
        snapshot_ids = list(
            conn.execute(
                select(image_snapshots.c.snapshot_id).where(image_snapshots.c.image_id == image_id)
            ).scalars()
        )
        stores = list(
            conn.execute(
                select(snapshots.c.store_snapshot).where(snapshots.c.snapshot_id.in_(snapshot_ids))
            ).scalars()
        )
        conn.execute(images.delete().where(images.c.image_id == image_id))
        conn.execute(snapshots.delete().where(snapshots.c.snapshot_id.in_(snapshot_ids)))
        for resource_id in (image_id, *snapshot_ids):
            delete_tags_of(conn, resource_id)
        made = {s for snapshot_id in snapshot_ids for s in region.made_for(snapshot_id)}
        named = set(stores) | set(written) | made
        unused = [s for s in (unused_store_snapshot(conn, x) for x in named) if s]
    region.release(*unused)  # and what the work wrote before it stopped


def recover_interrupted(region: Region) -> None:
    """Pending images whose worker is gone (the server stopped) are discarded."""
    with region.catalog.connect() as conn:
        pending = conn.execute(
            select(images.c.image_id, images.c.worker).where(images.c.state == "pending")
        ).all()
    for image_id, worker in pending:
        if worker is not None and not alive(worker):
            discard(region, image_id)
