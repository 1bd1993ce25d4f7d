"""The AMI actions, each a confirmation page that works without JavaScript
(GET shows it, POST does it): Deregister AMI (optionally deleting its
snapshots), Deprecate (EnableImageDeprecation at a date and time, UTC) and
Cancel deprecation (DisableImageDeprecation)."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from amiable.cloud.core.errors import ApiError, invalid_value

from .auth import Visitor, cloud_of, signed_in
from .calls import call
from .image_views import one_image
from .regions import images_url, region_of
from .render import notify, page

Act = Callable[[str, FormData], Awaitable[str]]  # (image id, form) -> the notice


def _deprecate_at(form: FormData) -> datetime:
    day, at = str(form.get("date", "")), str(form.get("time", "") or "00:00")
    try:
        return datetime.strptime(f"{day} {at}", "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    except ValueError:
        raise invalid_value("DeprecateAt", f"{day} {at}", "a date and a time (UTC)") from None


async def _confirm(
    request: Request, visitor: Visitor, template: str, act: Act, done_url: Callable[[str], str]
) -> Response:
    """GET: the confirmation page; POST: `act`, then back to `done_url`."""
    region, image_id = region_of(request), str(request.path_params["image_id"])
    error: ApiError | None = None
    if request.method == "POST":
        try:
            notice = await act(image_id, await request.form())
        except ApiError as exc:
            error = exc
        else:
            notify(request, notice)
            return RedirectResponse(done_url(image_id), status_code=303)
    try:
        image: dict[str, Any] | None = await one_image(cloud_of(request), visitor, region, image_id)
    except ApiError as exc:
        image, error = None, error or exc
    return page(
        request,
        template,
        400 if error else 200,
        title=image_id,
        visitor=visitor,
        region=region,
        image=image,
        image_id=image_id,
        error=error,
        today=datetime.now(UTC).strftime("%Y-%m-%d"),
    )


@signed_in
async def deregister(request: Request, visitor: Visitor) -> Response:
    region = region_of(request)

    async def act(image_id: str, form: FormData) -> str:
        with_snapshots = form.get("delete_snapshots") == "on"
        params = {"ImageId": image_id, "DeleteAssociatedSnapshots": with_snapshots}
        done = await call(cloud_of(request), visitor, region, "DeregisterImage", params)
        kept = [
            r["SnapshotId"]
            for r in done.get("DeleteSnapshotResults", [])
            if r["ReturnCode"] != "success"
        ]
        notice = f"Deregistered {image_id}."
        if kept:
            notice += " Snapshots not deleted: " + ", ".join(kept) + "."
        return notice

    return await _confirm(request, visitor, "deregister.html", act, lambda _: images_url(region))


@signed_in
async def deprecate(request: Request, visitor: Visitor) -> Response:
    region = region_of(request)

    async def act(image_id: str, form: FormData) -> str:
        params = {"ImageId": image_id, "DeprecateAt": _deprecate_at(form)}
        await call(cloud_of(request), visitor, region, "EnableImageDeprecation", params)
        return f"Deprecation time set for {image_id}."

    return await _confirm(
        request, visitor, "deprecate.html", act, lambda i: f"{images_url(region)}/{quote(i)}"
    )


@signed_in
async def cancel_deprecation(request: Request, visitor: Visitor) -> Response:
    region = region_of(request)

    async def act(image_id: str, form: FormData) -> str:
        params = {"ImageId": image_id}
        await call(cloud_of(request), visitor, region, "DisableImageDeprecation", params)
        return f"Deprecation cancelled for {image_id}."

    return await _confirm(
        request,
        visitor,
        "cancel_deprecation.html",
        act,
        lambda i: f"{images_url(region)}/{quote(i)}",
    )
