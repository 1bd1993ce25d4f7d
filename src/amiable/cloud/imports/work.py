"""The work of an import task, in the background: unpack the archive (if it is
one), measure the tree, snapshot it into the region's store while reporting
how far it is (`progress.py`), then write the snapshot (and the image) and the
completed task in one transaction.

Failed or cancelled, an import leaves nothing: the store's snapshot removes
its own packs when it stops early, a store snapshot written just before the
end is released, scratch space is removed, and the task ends `deleted` with
the reason. A task whose worker process died (a restart, kill -9) ends the
same way at the region's next opening (`recover_interrupted`), its unpacked
scratch removed and its store data reclaimed.
"""

import json
import logging
import math
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from amiable.catalog.regional import import_tasks
from amiable.cloud.core.background import Cancel, Cancelled
from amiable.cloud.core.home import Region
from amiable.cloud.core.ids import new_id
from amiable.cloud.core.workers import alive
from amiable.cloud.ebs.encryption import Plan, Protection
from amiable.cloud.ebs.snapshots import add_snapshot, discard_orphans, unused_store_snapshot
from amiable.cloud.images.images import insert_image, snapshot_mappings
from amiable.store import SnapshotSummary, measure_tree

from .archives import scratch_dirs, unpacked
from .progress import ARCHIVE_SHARE, CANCEL_REASON, Reporter, Step

log = logging.getLogger(__name__)

GIB = 1024**3
ROOT_DEVICE = "/dev/sda1"  # where EC2 puts an imported image's root
RUNNING = ("active", "deleting")  # deleting: cancelled, its worker winding down


def run(
    region: Region,
    task_id: str,
    source: Path,
    owner: str,
    alias: str | None,
    target: Plan,
    cancel: Cancel,
) -> None:
    summary: SnapshotSummary | None = None
    try:
        with Reporter(region, task_id, cancel) as reporter:
            summary = _convert(region, task_id, source, target.data_key, reporter)
        with region.catalog.begin() as conn:
            if _complete(conn, region, task_id, owner, alias, summary, target.protection):
                return
        outcome = f"import cancelled: {cancel.reason or CANCEL_REASON}"
    except Cancelled as exc:
        outcome = f"import cancelled: {exc}"
    except Exception as exc:  # any failure ends the task with its reason
        log.info("import %s failed: %s", task_id, exc)
        outcome = f"import failed: {exc}"
    end(region, task_id, outcome)
    # a store snapshot written just before a cancel, and what the work left
    region.release(*_unused(region, summary))


def _convert(
    region: Region, task_id: str, source: Path, key: bytes | None, reporter: Reporter
) -> SnapshotSummary:
    if source.is_dir():
        return _snapshot(region, task_id, source, key, reporter, (0, 100))
    size = source.stat().st_size if source.is_file() else None  # a named pipe has none
    reporter.begin(Step(f"unpacking {source.name}", (0, ARCHIVE_SHARE), bytes_total=size))
    scratch = region.root / "tmp"
    with unpacked(source, scratch, task_id, lambda n: reporter.advance(bytes_done=n)) as tree:
        return _snapshot(region, task_id, tree, key, reporter, (ARCHIVE_SHARE, 100))


def _snapshot(
    region: Region,
    task_id: str,
    tree: Path,
    key: bytes | None,
    reporter: Reporter,
    share: tuple[int, int],
) -> SnapshotSummary:
    reporter.begin(Step("validating", share))
    size = measure_tree(tree, on_directory=reporter.check)
    reporter.begin(
        Step(
            "converting",
            share,
            bytes_total=size.bytes,
            files_done=0,
            files_total=size.files,
        )
    )
    return region.store.snapshot(
        tree,
        key=key,
        progress=lambda p: reporter.advance(bytes_done=p.bytes_done, files_done=p.files),
        label=task_id,  # a restart finds it if the process dies before the task completes
    )


def _complete(
    conn: Connection,
    region: Region,
    task_id: str,
    owner: str,
    alias: str | None,
    summary: SnapshotSummary,
    protection: Protection | None,
) -> bool:
    """The snapshot (and for ImportImage the image) and the finished task, at
    once; False if the task was cancelled meanwhile (then nothing is written)."""
    finished = conn.execute(
        import_tasks.update()
        .where(import_tasks.c.task_id == task_id, import_tasks.c.status == "active")
        .values(status="completed", status_message=None, progress=100)
    ).rowcount
    if not finished:
        return False
    size = summary.logical_bytes
    snapshot_id = add_snapshot(
        conn,
        owner,
        volume_id="vol-ffffffff",
        size=max(1, math.ceil(size / GIB)),
        description=f"Created by AWS-VMImport service for {task_id}",
        store_snapshot=summary.id,
        protection=protection,
    )
    values: dict[str, Any] = {"snapshot_id": snapshot_id, "disk_image_size": size}
    task = conn.execute(
        select(import_tasks.c.options, import_tasks.c.description).where(
            import_tasks.c.task_id == task_id
        )
    ).one()
    if task.options is not None:
        image_id = new_id("ami")
        params = {
            **json.loads(task.options),
            "Name": task_id,
            "Description": task.description or f"Created by AWS-VMImport service for {task_id}",
            "RootDeviceName": ROOT_DEVICE,
            "VirtualizationType": "hvm",
        }
        mappings = snapshot_mappings(conn, owner, ROOT_DEVICE, snapshot_id)
        insert_image(conn, region, owner, alias, image_id, params, mappings)
        values["image_id"] = image_id
    conn.execute(import_tasks.update().where(import_tasks.c.task_id == task_id).values(**values))
    return True


def _unused(region: Region, summary: SnapshotSummary | None) -> list[str]:
    if summary is None:
        return []
    with region.catalog.connect() as conn:
        unused = unused_store_snapshot(conn, summary.id)
    return [unused] if unused else []


def end(region: Region, task_id: str, message: str) -> None:
    """A task that will not complete ends `deleted` with the reason, and its
    scratch space goes (the caller reclaims the store data it may have left)."""
    with region.catalog.begin() as conn:
        conn.execute(
            import_tasks.update()
            .where(import_tasks.c.task_id == task_id, import_tasks.c.status.in_(RUNNING))
            .values(status="deleted", status_message=message)
        )
    for leftover in scratch_dirs(region.root / "tmp", task_id):
        shutil.rmtree(leftover, ignore_errors=True)


def recover_interrupted(region: Region) -> None:
    """End the work whose worker is gone (the process stopped): pending
    snapshots are discarded, import tasks end deleted with the reason."""
    discard_orphans(region)
    with region.catalog.connect() as conn:
        running = conn.execute(
            select(import_tasks.c.task_id, import_tasks.c.status, import_tasks.c.worker).where(
                import_tasks.c.status.in_(RUNNING)
            )
        ).all()
    orphans = [(task_id, status) for task_id, status, worker in running if not alive(worker)]
    written = []
    for task_id, status in orphans:
        how = "cancelled" if status == "deleting" else "interrupted"
        end(region, task_id, f"import {how}: the server stopped before it finished")
        written += region.made_for(task_id)
    if orphans:
        region.release(*written)
