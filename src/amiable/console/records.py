"""Reading what the command-line tools keep in the state directory (a bake's
journal, the record of an audit): JSON files other processes write, read as
untrusted. A file that cannot be read, is not JSON or is of another shape
is `Malformed`, and the pages skip it: never an error page. Only the files
a folder lists are read, by the names it lists."""

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from amiable.cloud.core.home import Cloud
from amiable.tools.journal import served_by

from .auth import Visitor


class Malformed(ValueError):
    """Not a record of the expected shape."""


def listed(folder: Path) -> dict[str, Path]:
    """The JSON files of `folder` by name (without `.json`); none if it is missing."""
    try:
        return {path.stem: path for path in folder.glob("*.json") if path.is_file()}
    except OSError:
        return {}


def read(path: Path) -> dict[str, Any]:
    """The JSON object `path` holds."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise Malformed(f"{path.name}: {exc}") from exc
    return mapping(data)


def visible(data: dict[str, Any], cloud: Cloud, visitor: Visitor) -> bool:
    """Whether a record is the visitor's: their account, on a target this
    server may have served (its data home, or any endpoint)."""
    return data.get("account") == visitor.account_id and served_by(text(data, "target"), cloud.home)


def mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"not an object: {type(value).__name__}")
    return value


def text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise Malformed(f"{key}: not a string")
    return value


def optional_text(data: dict[str, Any], key: str) -> str | None:
    return None if data.get(key) is None else text(data, key)


def number(data: dict[str, Any], key: str) -> float:
    """A finite number (JSON as Python reads it also has NaN and Infinity)."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Malformed(f"{key}: not a number")
    return value


def flag(data: dict[str, Any], key: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise Malformed(f"{key}: not true or false")
    return value


def objects(value: Any) -> list[dict[str, Any]]:
    """A list of JSON objects."""
    if not isinstance(value, list):
        raise Malformed("not a list")
    return [mapping(item) for item in value]


def strings(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Malformed("not a list of strings")
    return value


def moment(value: str) -> datetime:
    """An ISO 8601 time as the tools write it (one without a zone is UTC)."""
    try:
        found = datetime.fromisoformat(value)
    except ValueError as exc:
        raise Malformed(f"{value!r}: not a time") from exc
    return found if found.tzinfo else found.replace(tzinfo=UTC)
