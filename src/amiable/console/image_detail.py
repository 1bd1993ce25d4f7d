"""An image's page: its facts and state, block devices, tags (added and removed
with CreateTags / DeleteTags), launch permissions (DescribeImageAttribute),
its lineage (`lineage_calls.py`, drawn by `lineage.py`) and what uses it
(`image_references.py`); a part the API refuses shows the refusal in its
place, the rest of the page still shown. While the image is pending, its
page reloads itself every few seconds (a `<meta http-equiv="refresh">`: no
script, nothing for the CSP to allow)."""

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Cloud

from .auth import Visitor, cloud_of, signed_in
from .calls import call
from .image_actions import ACTIONS
from .image_permissions import grantee_label, launch_permissions
from .image_references import used_by
from .image_views import devices_of, encryption, name_tag, one_image, tags_of, visibility
from .lineage_calls import lineage_of
from .regions import image_url, region_of
from .render import notify, page

REFRESH_SECONDS = 2  # how often a pending image's page reloads itself
T = TypeVar("T")


async def _or_refusal(part: Awaitable[T]) -> tuple[T | None, ApiError | None]:
    """A part of the page, or why the API refused it."""
    try:
        return await part, None
    except ApiError as exc:
        return None, exc


async def _permissions(cloud: Cloud, visitor: Visitor, region: str, image_id: str) -> list[str]:
    """Who may launch the image (`All accounts (public)`, account ids...); only
    the owner may ask."""
    return [grantee_label(p) for p in await launch_permissions(cloud, visitor, region, image_id)]


async def _progress(
    cloud: Cloud, visitor: Visitor, region: str, image: dict[str, Any]
) -> list[dict[str, str]]:
    """While the image is pending, where its snapshots are (each one's state
    and progress, as DescribeSnapshots says); nothing once it is not."""
    if image.get("State") != "pending":
        return []
    ids = [
        d["Ebs"]["SnapshotId"]
        for d in image.get("BlockDeviceMappings", [])
        if "SnapshotId" in d.get("Ebs", {})
    ]
    if not ids:
        return []
    found = await call(cloud, visitor, region, "DescribeSnapshots", {"SnapshotIds": ids})
    return [
        {"snapshot": s["SnapshotId"], "state": s["State"], "progress": s.get("Progress", "")}
        for s in found["Snapshots"]
    ]


async def _detail(
    request: Request, visitor: Visitor, region: str, image_id: str, error: ApiError | None
) -> Response:
    cloud = cloud_of(request)
    try:
        image = await one_image(cloud, visitor, region, image_id)
    except ApiError as exc:
        return page(
            request,
            "image.html",
            404,
            title=image_id,
            visitor=visitor,
            region=region,
            image=None,
            image_id=image_id,
            error=exc,
        )
    parts = await asyncio.gather(
        _or_refusal(_permissions(cloud, visitor, region, image_id)),
        _or_refusal(lineage_of(cloud, visitor, region, image)),
        _or_refusal(used_by(cloud, visitor, region, image_id)),
        _or_refusal(_progress(cloud, visitor, region, image)),
    )
    (permissions, hidden), (lineage, unknown), (users, unasked), (progress, _) = parts
    return page(
        request,
        "image.html",
        400 if error else 200,
        title=str(image.get("Name") or image_id),
        visitor=visitor,
        region=region,
        image=image,
        image_id=image_id,
        facts=_facts(image),
        actions=ACTIONS,
        devices=devices_of(image),
        tags=tags_of(image),
        permissions=permissions or [],
        permissions_error=hidden,
        lineage=lineage,
        lineage_error=unknown,
        progress=progress or [],
        used_by=users,
        used_by_error=unasked,
        error=error,
        refresh=REFRESH_SECONDS if image.get("State") == "pending" else None,
    )


def _facts(image: dict[str, Any]) -> list[tuple[str, str]]:
    def get(key: str) -> str:
        return str(image.get(key) or "–")

    return [
        ("AMI ID", get("ImageId")),
        ("Name", name_tag(image)),
        ("AMI name", get("Name")),
        ("State", get("State")),
        ("Owner account ID", get("OwnerId")),
        ("Description", get("Description")),
        ("Creation date", get("CreationDate")),
        ("Deprecation time", get("DeprecationTime")),
        ("Last launched time", get("LastLaunchedTime")),
        ("Visibility", visibility(image)),
        ("Encryption", encryption(image)),
        ("Architecture", get("Architecture")),
        ("Root device name", get("RootDeviceName")),
        ("Deregistration protection", get("DeregistrationProtection")),
    ]


@signed_in
async def image_page(request: Request, visitor: Visitor) -> Response:
    region = region_of(request)
    return await _detail(request, visitor, region, str(request.path_params["image_id"]), None)


@signed_in
async def add_tag(request: Request, visitor: Visitor) -> Response:
    region, image_id = region_of(request), str(request.path_params["image_id"])
    form = await request.form()
    key, value = str(form.get("key", "")).strip(), str(form.get("value", ""))
    params = {"Resources": [image_id], "Tags": [{"Key": key, "Value": value}]}
    try:
        if not key:
            raise ApiError("InvalidParameterValue", "The tag key must not be empty.")
        await call(cloud_of(request), visitor, region, "CreateTags", params)
    except ApiError as exc:
        return await _detail(request, visitor, region, image_id, exc)
    notify(request, f"Tag {key} saved.")
    return RedirectResponse(image_url(region, image_id), status_code=303)


@signed_in
async def remove_tag(request: Request, visitor: Visitor) -> Response:
    region, image_id = region_of(request), str(request.path_params["image_id"])
    key = str((await request.form()).get("key", ""))
    params = {"Resources": [image_id], "Tags": [{"Key": key}]}
    try:
        await call(cloud_of(request), visitor, region, "DeleteTags", params)
    except ApiError as exc:
        return await _detail(request, visitor, region, image_id, exc)
    notify(request, f"Tag {key} removed.")
    return RedirectResponse(image_url(region, image_id), status_code=303)
