"""Lifecycle actions on images: deprecation, disabling, deregistration protection.

The rules (which changes are allowed, bounds, the cooldown) live in
`rules`; this module reads the image, applies one, and writes it back.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.home import Region
from amiable.cloud.core.permissions import caller_of

from . import rules as image_rules
from .images import owned_image, save_document
from .launch_permissions import revoke_all

Change = Callable[[dict[str, Any], datetime], None]


def _apply(ctx: Context, image_id: str, change: Change) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.begin() as conn:
        document, _ = owned_image(conn, caller_of(ctx), image_id)
        change(document, ctx.cloud.clock.now())
        save_document(conn, image_id, document)
        if document["State"] == "disabled":
            revoke_all(conn, image_id, document)
    return {"Return": True}


@action("ec2", "EnableImageDeprecation")
def enable_image_deprecation(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    def deprecate(image: dict[str, Any], now: datetime) -> None:
        image["DeprecationTime"] = image_rules.deprecation_time(image, params["DeprecateAt"], now)

    return _apply(ctx, params["ImageId"], deprecate)


@action("ec2", "DisableImageDeprecation")
def disable_image_deprecation(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return _apply(ctx, params["ImageId"], lambda image, now: image.pop("DeprecationTime", None))


@action("ec2", "DisableImage")
def disable_image(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """The image becomes `disabled` and loses every launch permission."""

    def disable(image: dict[str, Any], now: datetime) -> None:
        image["State"] = image_rules.transition(image, "disable")

    return _apply(ctx, params["ImageId"], disable)


@action("ec2", "EnableImage")
def enable_image(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Available again; the permissions it lost stay lost."""

    def enable(image: dict[str, Any], now: datetime) -> None:
        image["State"] = image_rules.transition(image, "enable")

    return _apply(ctx, params["ImageId"], enable)


@action("ec2", "EnableImageDeregistrationProtection")
def enable_image_deregistration_protection(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    protection = image_rules.protection_enabled(bool(params.get("WithCooldown")))

    def protect(image: dict[str, Any], now: datetime) -> None:
        image["DeregistrationProtection"] = protection

    _apply(ctx, params["ImageId"], protect)
    return {"Return": "true"}  # a string in EC2's model


@action("ec2", "DisableImageDeregistrationProtection")
def disable_image_deregistration_protection(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    def unprotect(image: dict[str, Any], now: datetime) -> None:
        image["DeregistrationProtection"] = image_rules.protection_disabled(image, now)

    _apply(ctx, params["ImageId"], unprotect)
    return {"Return": "true"}
