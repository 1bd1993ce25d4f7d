"""The AMI actions that change one image in place, each a confirmation page
(image_forms): Deregister AMI (optionally with its snapshots), Deprecate
(EnableImageDeprecation at a date and time, UTC), Cancel deprecation, Disable
AMI, Enable AMI, and Manage AMI deregistration protection."""

from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from amiable.cloud.core.errors import invalid_value
from amiable.cloud.images.rules import deregistration_refused

from .auth import Visitor, cloud_of, signed_in
from .calls import call
from .image_forms import Done, image_form
from .regions import image_url, images_url, region_of

# the Actions of an image, in the EC2 console's words: (path, label)
ACTIONS = (
    ("launch", "Launch instance from AMI"),
    ("copy", "Copy AMI"),
    ("permissions", "Edit AMI permissions"),
    ("deregister", "Deregister AMI"),
    ("deprecate", "Deprecate"),
    ("cancel-deprecation", "Cancel deprecation"),
    ("disable", "Disable AMI"),
    ("enable", "Enable AMI"),
    ("protection", "Manage AMI deregistration protection"),
)


def _deprecate_at(form: FormData) -> datetime:
    day, at = str(form.get("date", "")), str(form.get("time", "") or "00:00")
    try:
        return datetime.strptime(f"{day} {at}", "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    except ValueError:
        raise invalid_value("DeprecateAt", f"{day} {at}", "a date and a time (UTC)") from None


@signed_in
async def deregister(request: Request, visitor: Visitor) -> Response:
    region = region_of(request)

    async def act(image_id: str, form: FormData) -> Done:
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
        return Done(notice, images_url(region))

    async def protection(image: dict[str, Any]) -> dict[str, Any]:
        return {"refused": deregistration_refused(image, datetime.now(UTC))}

    return await image_form(request, visitor, "deregister.html", act, protection)


async def _on_image(
    request: Request, visitor: Visitor, template: str, action: str, notice: str, **params: object
) -> Response:
    """A confirmation whose POST is `action` on the image, then back to its page."""
    region = region_of(request)

    async def act(image_id: str, form: FormData) -> Done:
        await call(cloud_of(request), visitor, region, action, {"ImageId": image_id, **params})
        return Done(notice.format(image_id=image_id), image_url(region, image_id))

    return await image_form(request, visitor, template, act)


@signed_in
async def deprecate(request: Request, visitor: Visitor) -> Response:
    region = region_of(request)

    async def act(image_id: str, form: FormData) -> Done:
        params = {"ImageId": image_id, "DeprecateAt": _deprecate_at(form)}
        await call(cloud_of(request), visitor, region, "EnableImageDeprecation", params)
        return Done(f"Deprecation time set for {image_id}.", image_url(region, image_id))

    return await image_form(request, visitor, "deprecate.html", act)


@signed_in
async def cancel_deprecation(request: Request, visitor: Visitor) -> Response:
    return await _on_image(
        request,
        visitor,
        "cancel_deprecation.html",
        "DisableImageDeprecation",
        "Deprecation cancelled for {image_id}.",
    )


@signed_in
async def disable(request: Request, visitor: Visitor) -> Response:
    return await _on_image(request, visitor, "disable.html", "DisableImage", "Disabled {image_id}.")


@signed_in
async def enable(request: Request, visitor: Visitor) -> Response:
    return await _on_image(request, visitor, "enable.html", "EnableImage", "Enabled {image_id}.")


@signed_in
async def protection(request: Request, visitor: Visitor) -> Response:
    """Manage AMI deregistration protection: on (optionally with the 24-hour
    cooldown after it is turned off) or off."""
    region = region_of(request)

    async def act(image_id: str, form: FormData) -> Done:
        cloud, chosen = cloud_of(request), form.get("protection")
        if chosen == "enable":
            params = {"ImageId": image_id, "WithCooldown": form.get("cooldown") == "on"}
            await call(cloud, visitor, region, "EnableImageDeregistrationProtection", params)
            notice = f"Deregistration protection enabled for {image_id}."
        elif chosen == "disable":
            params = {"ImageId": image_id}
            await call(cloud, visitor, region, "DisableImageDeregistrationProtection", params)
            notice = f"Deregistration protection disabled for {image_id}."
        else:
            raise invalid_value("DeregistrationProtection", str(chosen), "enable or disable")
        return Done(notice, image_url(region, image_id))

    return await image_form(request, visitor, "protection.html", act)
