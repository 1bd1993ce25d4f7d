"""ImportSnapshot: a directory on the server's host becomes a snapshot.

The action returns at once with an `active` task; the work (a store
snapshot of the directory) runs in the background, then the snapshot appears
`completed` and the task `completed` with its `SnapshotId`, which botocore's
`snapshot_imported` waiter waits for. A task whose worker process died (a
restart) ends `deleted` with a status message, never active forever.
"""

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import select

from amiable.catalog.regional import import_tasks, snapshots

from .actions import Context, action
from .errors import ApiError, missing_parameter
from .filters import select as filter_items
from .home import Region
from .ids import new_id
from .pages import page
from .tags import apply_specifications, filter_names, tag_extractors, tags_of
from .workers import alive, this_worker

GIB = 1024**3


def source_directory(url: str) -> Path:
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise ApiError(
            "InvalidParameter",
            f"amiable imports file:// URLs of the server's host only, not {url}",
        )
    path = Path(unquote(parts.path))
    if not path.is_dir():
        raise ApiError("InvalidParameter", f"{url} is not a directory on the server's host")
    return path


@action("ec2", "ImportSnapshot")
def import_snapshot(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    container = params.get("DiskContainer") or {}
    url = container.get("Url")
    if not url:
        raise missing_parameter("DiskContainer.Url")
    source = source_directory(url)
    region: Region = ctx.cloud.region(ctx.region)
    task_id = new_id("import-snap")
    description = params.get("Description") or container.get("Description") or ""
    with region.catalog.begin() as conn:
        conn.execute(
            import_tasks.insert().values(
                task_id=task_id,
                owner_id=ctx.account_id,
                kind="snapshot",
                status="active",
                status_message="pending",
                progress=0,
                url=url,
                format=container.get("Format") or "directory",
                description=description,
                created=datetime.now(UTC),
                worker=this_worker(),
            )
        )
        tags = apply_specifications(
            conn, params.get("TagSpecifications"), "import-snapshot-task", task_id, ctx.account_id
        )
    ctx.cloud.background(_run, region, task_id, source, ctx.account_id)
    return {
        "ImportTaskId": task_id,
        "Description": description,
        "SnapshotTaskDetail": _detail(_task_row(region, task_id)),
        "Tags": tags,
    }


def _run(region: Region, task_id: str, source: Path, owner: str) -> None:
    try:
        summary = region.store.snapshot(source)
    except Exception as exc:  # any failure ends the task with its reason
        with region.catalog.begin() as conn:
            conn.execute(
                import_tasks.update()
                .where(import_tasks.c.task_id == task_id)
                .values(status="deleted", status_message=f"import failed: {exc}")
            )
        return
    snapshot_id = new_id("snap")
    with region.catalog.begin() as conn:
        conn.execute(
            snapshots.insert().values(
                snapshot_id=snapshot_id,
                owner_id=owner,
                state="completed",
                progress=100,
                volume_id="vol-ffffffff",
                volume_size=max(1, math.ceil(summary.logical_bytes / GIB)),
                description=f"Created by AWS-VMImport service for {task_id}",
                encrypted=False,
                start_time=datetime.now(UTC),
                store_snapshot=summary.id,
            )
        )
        conn.execute(
            import_tasks.update()
            .where(import_tasks.c.task_id == task_id)
            .values(
                status="completed",
                status_message=None,
                progress=100,
                snapshot_id=snapshot_id,
                disk_image_size=summary.logical_bytes,
            )
        )


def recover_interrupted(region: Region) -> None:
    """End the work whose worker is gone (the process stopped): import tasks
    and snapshot copies."""
    with region.catalog.begin() as conn:
        pending = conn.execute(
            select(snapshots.c.snapshot_id, snapshots.c.worker).where(
                snapshots.c.state == "pending"
            )
        ).all()
        for snapshot_id, worker in pending:
            if not alive(worker):
                conn.execute(
                    snapshots.update()
                    .where(snapshots.c.snapshot_id == snapshot_id)
                    .values(
                        state="error",
                        state_message="copy interrupted: the server stopped before it finished",
                    )
                )
        rows = conn.execute(
            select(import_tasks.c.task_id, import_tasks.c.worker).where(
                import_tasks.c.status == "active"
            )
        ).all()
        for task_id, worker in rows:
            if not alive(worker):
                conn.execute(
                    import_tasks.update()
                    .where(import_tasks.c.task_id == task_id)
                    .values(
                        status="deleted",
                        status_message="import interrupted: the server stopped before it finished",
                    )
                )


def _task_row(region: Region, task_id: str) -> Any:
    with region.catalog.connect() as conn:
        return conn.execute(select(import_tasks).where(import_tasks.c.task_id == task_id)).one()


def _detail(row: Any) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "Description": row.description,
        "Format": row.format,
        "Progress": str(row.progress),
        "Status": row.status,
        "Url": row.url,
        "Encrypted": False,
    }
    if row.status_message:
        detail["StatusMessage"] = row.status_message
    if row.snapshot_id:
        detail["SnapshotId"] = row.snapshot_id
    if row.disk_image_size is not None:
        detail["DiskImageSize"] = float(row.disk_image_size)
    return detail


_TASK_FILTERS = {"task-state": lambda item: [item["SnapshotTaskDetail"]["Status"]]}


@action("ec2", "DescribeImportSnapshotTasks")
def describe_import_snapshot_tasks(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    query = select(import_tasks).where(import_tasks.c.owner_id == ctx.account_id)
    wanted = params.get("ImportTaskIds")
    if wanted:
        query = query.where(import_tasks.c.task_id.in_(wanted))
    with region.catalog.connect() as conn:
        rows = conn.execute(query.order_by(import_tasks.c.task_id)).all()
        tags = tags_of(conn, [r.task_id for r in rows])
    items = [
        {
            "ImportTaskId": r.task_id,
            "Description": r.description,
            "SnapshotTaskDetail": _detail(r),
            "Tags": tags[r.task_id],
        }
        for r in rows
    ]
    filters = params.get("Filters")
    extractors = {**_TASK_FILTERS, **tag_extractors(filter_names(filters))}
    chosen = filter_items(items, filters, extractors)
    results, token = page(chosen, "ImportTaskId", params, limits=(1, 1000))
    return {"ImportSnapshotTasks": results, "NextToken": token}
