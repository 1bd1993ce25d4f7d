"""ImportSnapshot and ImportImage: a directory or a tar archive on the
server's host becomes a snapshot (and an image).

The action returns at once with an `active` task; the work (a store
snapshot of the directory) runs in the background, then the snapshot appears
`completed` and the task `completed` with its `SnapshotId`, which botocore's
`snapshot_imported` waiter waits for. A task whose worker process died (a
restart) ends `deleted` with a status message, never active forever.
"""

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import Connection, select

from amiable.catalog.regional import import_tasks, snapshots
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError, missing_parameter
from amiable.cloud.core.filters import field
from amiable.cloud.core.home import Region
from amiable.cloud.core.ids import new_id
from amiable.cloud.core.listing import filtered_page
from amiable.cloud.core.tags import apply_specifications, tags_of
from amiable.cloud.core.workers import alive, this_worker
from amiable.cloud.ebs.encryption import Plan, Protection, plan
from amiable.cloud.ebs.snapshots import add_snapshot
from amiable.cloud.images.images import insert_image, snapshot_mappings
from amiable.store import SnapshotSummary

from .archives import archive_format, unpacked

GIB = 1024**3
ROOT_DEVICE = "/dev/sda1"  # where EC2 puts an imported image's root


def import_source(url: str) -> Path:
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise ApiError(
            "InvalidParameter",
            f"amiable imports file:// URLs of the server's host only, not {url}",
        )
    path = Path(unquote(parts.path))
    if not path.is_dir() and not (path.is_file() and archive_format(path)):
        raise ApiError(
            "InvalidParameter",
            f"{url} is not a directory or a tar archive (.tar, .tar.gz, .tar.zst) "
            "on the server's host",
        )
    return path


def _begin(
    ctx: Context,
    prefix: str,
    container: dict[str, Any],
    description: str,
    tag_type: str,
    specs: list[dict[str, Any]] | None,
    encryption: dict[str, Any],
    options: dict[str, Any] | None = None,
) -> tuple[Region, str, list[dict[str, str]]]:
    """Record an active import task and start its work in the background."""
    url = container.get("Url")
    if not url:
        raise missing_parameter("DiskContainer.Url")
    source = import_source(url)
    region: Region = ctx.cloud.region(ctx.region)
    target = plan(
        ctx,
        region,
        region,
        None,
        encryption,
    )
    task_id = new_id(prefix)
    with region.catalog.begin() as conn:
        conn.execute(
            import_tasks.insert().values(
                task_id=task_id,
                owner_id=ctx.account_id,
                kind="image" if options is not None else "snapshot",
                status="active",
                status_message="pending",
                progress=0,
                url=url,
                format=container.get("Format") or "directory",
                description=description,
                created=datetime.now(UTC),
                worker=this_worker(),
                options=json.dumps(options) if options is not None else None,
                kms_key_id=target.protection.kms_key_id if target.protection else None,
            )
        )
        tags = apply_specifications(conn, specs, tag_type, task_id, ctx.account_id)
    alias = ctx.cloud.accounts.alias_of(ctx.account_id)
    ctx.cloud.background(_run, region, task_id, source, ctx.account_id, alias, target)
    return region, task_id, tags


@action("ec2", "ImportSnapshot")
def import_snapshot(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    container = params.get("DiskContainer") or {}
    description = params.get("Description") or container.get("Description") or ""
    region, task_id, tags = _begin(
        ctx,
        "import-snap",
        container,
        description,
        "import-snapshot-task",
        params.get("TagSpecifications"),
        params,
    )
    return {
        "ImportTaskId": task_id,
        "Description": description,
        "SnapshotTaskDetail": _detail(_task_row(region, task_id)),
        "Tags": tags,
    }


@action("ec2", "ImportImage")
def import_image(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """One directory becomes a snapshot and an image named after the task."""
    containers = params.get("DiskContainers") or []
    if len(containers) > 1:
        raise ApiError("Unsupported", "amiable imports one disk (directory) per image")
    description = params.get("Description", "")
    options = {
        "Architecture": params.get("Architecture", "x86_64"),
        "Platform": params.get("Platform", "Linux"),
        **({"BootMode": params["BootMode"]} if "BootMode" in params else {}),
    }
    region, task_id, tags = _begin(
        ctx,
        "import-ami",
        containers[0] if containers else {},
        description,
        "import-image-task",
        params.get("TagSpecifications"),
        params,
        options,
    )
    return {**_image_task(_task_row(region, task_id)), "Tags": tags}


def _run(
    region: Region, task_id: str, source: Path, owner: str, alias: str | None, target: Plan
) -> None:
    try:
        if source.is_dir():
            summary = region.store.snapshot(source, key=target.data_key)
        else:
            with unpacked(source, region.root / "tmp") as tree:
                summary = region.store.snapshot(tree, key=target.data_key)
        with region.catalog.begin() as conn:
            _complete(conn, region, task_id, owner, alias, summary, target.protection)
    except Exception as exc:  # any failure ends the task with its reason
        with region.catalog.begin() as conn:
            conn.execute(
                import_tasks.update()
                .where(import_tasks.c.task_id == task_id)
                .values(status="deleted", status_message=f"import failed: {exc}")
            )


def _complete(
    conn: Connection,
    region: Region,
    task_id: str,
    owner: str,
    alias: str | None,
    summary: SnapshotSummary,
    protection: Protection | None,
) -> None:
    """The snapshot (and for ImportImage the image) and the finished task, at once."""
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
    values: dict[str, Any] = {
        "status": "completed",
        "status_message": None,
        "progress": 100,
        "snapshot_id": snapshot_id,
        "disk_image_size": size,
    }
    options = conn.execute(
        select(import_tasks.c.options).where(import_tasks.c.task_id == task_id)
    ).scalar()
    if options is not None:
        image_id = new_id("ami")
        params = {
            **json.loads(options),
            "Name": task_id,
            "Description": conn.execute(
                select(import_tasks.c.description).where(import_tasks.c.task_id == task_id)
            ).scalar()
            or f"Created by AWS-VMImport service for {task_id}",
            "RootDeviceName": ROOT_DEVICE,
            "VirtualizationType": "hvm",
        }
        mappings = snapshot_mappings(conn, owner, ROOT_DEVICE, snapshot_id)
        insert_image(conn, region, owner, alias, image_id, params, mappings)
        values["image_id"] = image_id
    conn.execute(import_tasks.update().where(import_tasks.c.task_id == task_id).values(**values))


def recover_interrupted(region: Region) -> None:
    """End the work whose worker is gone (the process stopped): snapshot
    copies end in error, import tasks end deleted, each with the reason."""
    with region.catalog.begin() as conn:
        _end_orphans(
            conn,
            snapshots.c.snapshot_id,
            snapshots.c.state == "pending",
            state="error",
            state_message="copy interrupted: the server stopped before it finished",
        )
        _end_orphans(
            conn,
            import_tasks.c.task_id,
            import_tasks.c.status == "active",
            status="deleted",
            status_message="import interrupted: the server stopped before it finished",
        )


def _end_orphans(conn: Connection, key: Any, running: Any, **values: str) -> None:
    table = key.table
    for item_id, worker in conn.execute(select(key, table.c.worker).where(running)).all():
        if not alive(worker):
            conn.execute(table.update().where(key == item_id).values(**values))


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
        "Encrypted": row.kms_key_id is not None,
    }
    if row.kms_key_id:
        detail["KmsKeyId"] = row.kms_key_id
    if row.status_message:
        detail["StatusMessage"] = row.status_message
    if row.snapshot_id:
        detail["SnapshotId"] = row.snapshot_id
    if row.disk_image_size is not None:
        detail["DiskImageSize"] = float(row.disk_image_size)
    return detail


_TASK_FILTERS = {"task-state": lambda item: [item["SnapshotTaskDetail"]["Status"]]}


def _tasks(
    ctx: Context, kind: str, params: dict[str, Any]
) -> tuple[list[Any], dict[str, list[dict[str, str]]]]:
    """The caller's import tasks of one kind (those of ImportTaskIds, or all), and their tags."""
    region: Region = ctx.cloud.region(ctx.region)
    query = select(import_tasks).where(
        import_tasks.c.owner_id == ctx.account_id, import_tasks.c.kind == kind
    )
    wanted = params.get("ImportTaskIds")
    if wanted:
        query = query.where(import_tasks.c.task_id.in_(wanted))
    with region.catalog.connect() as conn:
        rows = list(conn.execute(query.order_by(import_tasks.c.task_id)).all())
        return rows, tags_of(conn, [r.task_id for r in rows])


@action("ec2", "DescribeImportSnapshotTasks")
def describe_import_snapshot_tasks(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rows, tags = _tasks(ctx, "snapshot", params)
    items = [
        {
            "ImportTaskId": r.task_id,
            "Description": r.description,
            "SnapshotTaskDetail": _detail(r),
            "Tags": tags[r.task_id],
        }
        for r in rows
    ]
    results, token = filtered_page(items, params, _TASK_FILTERS, "ImportTaskId", (1, 1000))
    return {"ImportSnapshotTasks": results, "NextToken": token}


def _image_task(row: Any) -> dict[str, Any]:
    options = json.loads(row.options or "{}")
    snapshot: dict[str, Any] = {
        "Description": row.description,
        "DeviceName": ROOT_DEVICE,
        "Format": row.format,
        "Status": row.status,
        "Url": row.url,
    }
    if row.snapshot_id:
        snapshot["SnapshotId"] = row.snapshot_id
    if row.disk_image_size is not None:
        snapshot["DiskImageSize"] = float(row.disk_image_size)
    task: dict[str, Any] = {
        "ImportTaskId": row.task_id,
        "Architecture": options.get("Architecture"),
        "Platform": options.get("Platform"),
        "Description": row.description,
        "Progress": str(row.progress),
        "Status": row.status,
        "SnapshotDetails": [snapshot],
        "Encrypted": row.kms_key_id is not None,
    }
    if row.kms_key_id:
        task["KmsKeyId"] = row.kms_key_id
    if "BootMode" in options:
        task["BootMode"] = options["BootMode"]
    if row.status_message:
        task["StatusMessage"] = row.status_message
    if row.image_id:
        task["ImageId"] = row.image_id
    return task


@action("ec2", "DescribeImportImageTasks")
def describe_import_image_tasks(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rows, tags = _tasks(ctx, "image", params)
    items = [{**_image_task(r), "Tags": tags[r.task_id]} for r in rows]
    extractors = {"task-state": field("Status")}
    results, token = filtered_page(items, params, extractors, "ImportTaskId", (1, 1000))
    return {"ImportImageTasks": results, "NextToken": token}
