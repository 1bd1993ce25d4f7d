"""XML bodies by shape, shared by the EC2 and query protocols.

Mirrors botocore's XML response parsers: an element is named by its
member's `locationName`, else the member name; list elements by the list
member's `locationName`, else `member` (a flattened list repeats its
elements in place, named by the list member's `locationName`); map entries
are `<entry><key/><value/></entry>`. Booleans are `true`/`false`,
timestamps ISO 8601 with milliseconds and `Z`, blobs base64. Text is
escaped; `None` members are left out.
"""

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from .scalars import iso8601

DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def members(shape: Any, value: Mapping[str, Any], out: list[str]) -> None:
    """The elements of a structure's members, appended to `out`."""
    for member, member_shape in shape.members.items():
        item = value.get(member)
        if item is not None:
            _element(member_shape.serialization.get("name", member), member_shape, item, out)


def _element(tag: str, shape: Any, value: Any, out: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        out.append(f"<{tag}>")
        members(shape, value, out)
        out.append(f"</{tag}>")
    elif kind == "list":
        _list(tag, shape, value, out)
    elif kind == "map":
        _map(tag, shape, value, out)
    else:
        out.append(f"<{tag}>{_text(kind, value)}</{tag}>")


def _list(tag: str, shape: Any, value: Any, out: list[str]) -> None:
    member = shape.member
    if shape.serialization.get("flattened"):
        for item in value:
            _element(member.serialization.get("name", tag), member, item, out)
        return
    out.append(f"<{tag}>")
    for item in value:
        _element(member.serialization.get("name", "member"), member, item, out)
    out.append(f"</{tag}>")


def _map(tag: str, shape: Any, value: Mapping[Any, Any], out: list[str]) -> None:
    key_tag = shape.key.serialization.get("name", "key")
    value_tag = shape.value.serialization.get("name", "value")
    flattened = shape.serialization.get("flattened")
    if not flattened:
        out.append(f"<{tag}>")
    for key, item in value.items():
        out.append(f"<{tag}>" if flattened else "<entry>")
        _element(key_tag, shape.key, key, out)
        _element(value_tag, shape.value, item, out)
        out.append(f"</{tag}>" if flattened else "</entry>")
    if not flattened:
        out.append(f"</{tag}>")


def _text(kind: str, value: Any) -> str:
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp" and isinstance(value, datetime):
        return iso8601(value)
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else value
        return base64.b64encode(raw).decode("ascii")
    return escape(str(value))
