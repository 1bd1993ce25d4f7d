"""The rules of an image's life, without I/O: which state changes are allowed,
deregistration protection and its cooldown, deprecation bounds.

States (the `State` of the document):

| from \\ action | DisableImage | EnableImage | DeregisterImage |
|---|---|---|---|
| available | disabled | refused | gone (unless protected) |
| disabled | refused | available | gone (unless protected) |
| pending, failed | refused | refused | gone |

Deregistration protection is `enabled`, `enabled-with-cooldown`, `disabled`,
or, for 24 hours after protection with cooldown is disabled,
`disabled-until <time>`; while it is anything but `disabled` (or a
`disabled-until` time has passed) the image cannot be deregistered.
"""

from datetime import datetime, timedelta
from typing import Any

from amiable.cloud.core.clock import iso, parse_time
from amiable.cloud.core.errors import ApiError, invalid_value

TRANSITIONS = {
    ("available", "disable"): "disabled",
    ("disabled", "enable"): "available",
}
COOLDOWN = timedelta(hours=24)
_UNTIL = "disabled-until "
MAX_DEPRECATION = timedelta(days=3650)
MAX_PUBLIC_DEPRECATION = timedelta(days=730)


def transition(image: dict[str, Any], action: str) -> str:
    """The state `action` leads to, or IncorrectState."""
    new = TRANSITIONS.get((image["State"], action))
    if new is None:
        raise ApiError(
            "IncorrectState",
            f"The image {image['ImageId']} is {image['State']} and cannot be {action}d.",
        )
    return new


def deregistration_refused(image: dict[str, Any], now: datetime) -> str | None:
    """Why the image cannot be deregistered now, or None."""
    protection = image.get("DeregistrationProtection", "disabled")
    if protection.startswith(_UNTIL) and parse_time(protection[len(_UNTIL) :]) <= now:
        return None
    if protection == "disabled":
        return None
    return (
        f"Deregistration protection is enabled for {image['ImageId']} ({protection}); "
        "disable it first."
    )


def protection_enabled(with_cooldown: bool) -> str:
    return "enabled-with-cooldown" if with_cooldown else "enabled"


def protection_disabled(image: dict[str, Any], now: datetime) -> str:
    """Disabling keeps the image protected for 24 hours if it was enabled with cooldown."""
    if image.get("DeregistrationProtection") == "enabled-with-cooldown":
        return _UNTIL + iso(now + COOLDOWN)
    return "disabled"


def deprecation_time(image: dict[str, Any], deprecate_at: datetime, now: datetime) -> str:
    """DeprecateAt checked against EC2's bounds, rounded to the minute, as the
    document shows it (`YYYY-MM-DDTHH:MM:SSZ`)."""
    rounded = (deprecate_at + timedelta(seconds=30)).replace(second=0, microsecond=0)
    if rounded <= now:
        raise invalid_value("DeprecateAt", iso(deprecate_at), "it must be in the future")
    if rounded - now > MAX_DEPRECATION:
        raise invalid_value("DeprecateAt", iso(deprecate_at), "at most 10 years from now")
    created = parse_time(image["CreationDate"])
    if image.get("Public") and rounded - created > MAX_PUBLIC_DEPRECATION:
        raise invalid_value(
            "DeprecateAt", iso(deprecate_at), "at most 2 years after a public image's creation"
        )
    return rounded.strftime("%Y-%m-%dT%H:%M:%SZ")


def deprecated(image: dict[str, Any], now: datetime) -> bool:
    return "DeprecationTime" in image and parse_time(image["DeprecationTime"]) <= now
