"""How the console shows values of the API's answers that are not strings: a
time (as the API writes one, in UTC), a size in GiB, an Encrypted flag. A
missing value is a dash (`image_views.NONE`)."""

from datetime import UTC, datetime
from typing import Any

from .image_views import NONE


def when(value: Any) -> str:
    """A datetime as `2026-12-06T10:00:00.000Z`; a string as it is."""
    if isinstance(value, datetime):
        at = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return str(value or NONE)


def gib(size: Any) -> str:
    return NONE if size is None else f"{size} GiB"


def encryption(encrypted: Any) -> str:
    return "Encrypted" if encrypted else "Not encrypted"
