"""The Import tasks page: the account's image and snapshot imports in the
region (DescribeImportImageTasks, DescribeImportSnapshotTasks) with their
status, progress and what they made, the page reloading itself while one is
still at work. The EC2 console has no such page (imports are started with
the API or `ami import`); it is here because imports are long."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from amiable.cloud.core.errors import ApiError

from .auth import Visitor, cloud_of, signed_in
from .calls import call
from .image_views import NONE
from .regions import region_of
from .render import page

AT_WORK = {"active", "pending"}
REFRESH_SECONDS = 2
COLUMNS = (
    ("task_id", "Import task ID"),
    ("kind", "Type"),
    ("description", "Description"),
    ("status", "Status"),
    ("progress", "Progress"),
    ("message", "Status message"),
    ("made", "Result"),
)


def _image_row(task: dict[str, Any]) -> dict[str, str]:
    return _row(task, task, "Image", str(task.get("ImageId") or ""))


def _snapshot_row(task: dict[str, Any]) -> dict[str, str]:
    detail = task.get("SnapshotTaskDetail") or {}
    return _row(task, detail, "Snapshot", str(detail.get("SnapshotId") or ""))


def _row(task: dict[str, Any], detail: dict[str, Any], kind: str, made: str) -> dict[str, str]:
    status = str(detail.get("Status") or NONE)
    progress = detail.get("Progress")
    return {
        "task_id": str(task["ImportTaskId"]),
        "kind": kind,
        "description": str(task.get("Description") or NONE),
        "status": status,
        "progress": f"{progress}%" if progress not in (None, "") else NONE,
        "message": str(detail.get("StatusMessage") or NONE),
        "made": made or NONE,
    }


@signed_in
async def imports_page(request: Request, visitor: Visitor) -> Response:
    region, cloud = region_of(request), cloud_of(request)
    rows: list[dict[str, str]] = []
    error: ApiError | None = None
    try:
        images = await call(cloud, visitor, region, "DescribeImportImageTasks", {})
        snapshots = await call(cloud, visitor, region, "DescribeImportSnapshotTasks", {})
    except ApiError as exc:
        error = exc
    else:
        rows = [_image_row(t) for t in images["ImportImageTasks"]]
        rows += [_snapshot_row(t) for t in snapshots["ImportSnapshotTasks"]]
    at_work = any(row["status"] in AT_WORK for row in rows)
    return page(
        request,
        "imports.html",
        400 if error else 200,
        title="Import tasks",
        visitor=visitor,
        region=region,
        rows=sorted(rows, key=lambda row: row["task_id"]),
        columns=COLUMNS,
        at_work=at_work,
        refresh=REFRESH_SECONDS if at_work else None,
        error=error,
    )
