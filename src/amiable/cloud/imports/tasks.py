"""ImportSnapshot, ImportImage, their Describe actions and CancelImportTask:
a directory or a tar archive on the server's host becomes a snapshot (and an
image).

The action returns at once with an `active` task; the work (`work.py`) runs
in the background and the task shows how far it is (`Progress`,
`StatusMessage`), then the snapshot appears `completed` and the task
`completed` with its `SnapshotId`. CancelImportTask stops a running task
(`deleting`, then `deleted` once its work has stopped and removed what it
wrote); so does the end of the process that runs it, and a task whose worker
died ends `deleted` with a status message at the next start, never active
forever. `ClientToken` makes a retried call answer with the first task.
"""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import select

from amiable.catalog.regional import import_tasks
from amiable.cloud.core import client_tokens
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.background import Cancel
from amiable.cloud.core.errors import ApiError, missing_parameter
from amiable.cloud.core.filters import field
from amiable.cloud.core.home import Region
from amiable.cloud.core.ids import new_id
from amiable.cloud.core.listing import filtered_page
from amiable.cloud.core.tags import apply_specifications, tags_of
from amiable.cloud.core.workers import alive, this_worker
from amiable.cloud.ebs.encryption import plan

from . import work
from .archives import archive_format
from .progress import CANCEL_REASON


def import_source(url: str) -> Path:
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise ApiError(
            "InvalidParameter",
            f"amiable imports file:// URLs of the server's host only, not {url}",
        )
    path = Path(unquote(parts.path))
    archive = (path.is_file() or path.is_fifo()) and archive_format(path)
    if not path.is_dir() and not archive:
        raise ApiError(
            "InvalidParameter",
            f"{url} is not a directory or a tar archive (.tar, .tar.gz, .tar.zst) "
            "on the server's host",
        )
    return path


def _begin(
    ctx: Context,
    action_name: str,
    container: dict[str, Any],
    description: str,
    tag_type: str,
    params: dict[str, Any],
    options: dict[str, Any] | None = None,
) -> tuple[Region, Any, list[dict[str, str]] | None]:
    """Record an active import task and start its work in the background (or,
    for a retried ClientToken, find the first call's task: then no tags); the
    task's row as it was before its work began (the answer shows it starting,
    however fast the work is)."""
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.connect() as conn:
        earlier = client_tokens.earlier_answer(conn, ctx.account_id, action_name, params)
    if earlier is not None:
        return region, _task_row(region, earlier["ImportTaskId"]), None
    url = container.get("Url")
    if not url:
        raise missing_parameter("DiskContainer.Url")
    source = import_source(url)
    target = plan(ctx, region, region, None, params)
    task_id = new_id("import-ami" if options is not None else "import-snap")
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
        tags = apply_specifications(
            conn, params.get("TagSpecifications"), tag_type, task_id, ctx.account_id
        )
        client_tokens.remember(conn, ctx.account_id, action_name, params, {"ImportTaskId": task_id})
    row = _task_row(region, task_id)
    alias = ctx.cloud.accounts.alias_of(ctx.account_id)
    cancel = Cancel()
    ctx.cloud.cancellable(
        task_id, cancel, work.run, region, task_id, source, ctx.account_id, alias, target, cancel
    )
    return region, row, tags


@action("ec2", "ImportSnapshot")
def import_snapshot(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    container = params.get("DiskContainer") or {}
    description = params.get("Description") or container.get("Description") or ""
    region, row, tags = _begin(
        ctx, "ImportSnapshot", container, description, "import-snapshot-task", params
    )
    with region.catalog.connect() as conn:
        shown = tags if tags is not None else tags_of(conn, [row.task_id])[row.task_id]
    return {
        "ImportTaskId": row.task_id,
        "Description": row.description,
        "SnapshotTaskDetail": _detail(row),
        "Tags": shown,
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
    region, row, tags = _begin(
        ctx,
        "ImportImage",
        containers[0] if containers else {},
        description,
        "import-image-task",
        params,
        options,
    )
    with region.catalog.connect() as conn:
        shown = tags if tags is not None else tags_of(conn, [row.task_id])[row.task_id]
    return {**_image_task(row), "Tags": shown}


@action("ec2", "CancelImportTask")
def cancel_import_task(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """An active task becomes `deleting` until its work has stopped (at once
    when no live process works on it), then `deleted`."""
    task_id = params.get("ImportTaskId")
    if not task_id:
        raise missing_parameter("ImportTaskId")
    reason = params.get("CancelReason") or CANCEL_REASON
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.begin() as conn:
        row = conn.execute(
            select(import_tasks).where(
                import_tasks.c.task_id == task_id, import_tasks.c.owner_id == ctx.account_id
            )
        ).first()
        if row is None:
            raise ApiError(
                "InvalidConversionTaskId", f"The import task ID '{task_id}' does not exist."
            )
        if row.status not in work.RUNNING:
            raise ApiError(
                "IncorrectState",
                f"The import task {task_id} is {row.status} and cannot be cancelled.",
            )
        conn.execute(
            import_tasks.update()
            .where(import_tasks.c.task_id == task_id, import_tasks.c.status == "active")
            .values(status="deleting", status_message=f"cancelling: {reason}")
        )
    if not ctx.cloud.cancel_work(task_id, reason) and (
        row.worker == this_worker() or not alive(row.worker)
    ):
        work.end(region, task_id, f"import cancelled: {reason}")  # no one works on it
        region.reclaim()
    return {"ImportTaskId": task_id, "PreviousState": row.status, "State": "deleting"}


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
        "DeviceName": work.ROOT_DEVICE,
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
