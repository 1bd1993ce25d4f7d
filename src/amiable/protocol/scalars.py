"""Scalar values written as text (query strings, form fields, headers), by shape type."""

import base64
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any


def from_text(kind: str, text: str) -> Any:
    """`text` read as a value of the shape type `kind`; ValueError when it is not one."""
    if kind in ("integer", "long"):
        return int(text)
    if kind in ("float", "double"):
        return float(text)
    if kind == "boolean":
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise ValueError(text)
        return lowered == "true"
    if kind == "timestamp":
        return timestamp(text)
    if kind == "blob":
        return base64.b64decode(text, validate=True)
    return text


def timestamp(value: str | float) -> datetime:
    """An ISO 8601, RFC 822 or epoch-seconds timestamp as an aware datetime."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except ValueError:
            stamp = parsedate_to_datetime(value)  # raises ValueError when not a date either
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def iso8601(stamp: datetime) -> str:
    """Millisecond precision, `Z` for UTC: how AWS writes timestamps as text."""
    stamp = stamp.astimezone(UTC) if stamp.tzinfo else stamp
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
