"""Finding parameters: GetParametersByPath and DescribeParameters, with
`ParameterFilters`, `MaxResults` and `NextToken`.

A path is `/` or a hierarchy without its last part; one level below it are
the parameters whose name is the path plus one part (a name without `/`
lies at `/`), `Recursive` takes every level. GetParametersByPath filters on
`Type`, `KeyId` (`Equals`, `BeginsWith`) and `Label` (`Equals`: the version
with the label is the one shown); DescribeParameters on `Name` (also
`Contains`), `Type`, `KeyId`, `Tier`, `DataType`, `tag:KEY` (`Equals`,
`BeginsWith`; no values: the key is there) and `Path` (`OneLevel`,
`Recursive`), or the deprecated `Filters`, and never shows a value. Results
come by name, 10 a page unless `MaxResults` says otherwise.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError

from . import naming, records, shapes
from .parameter_tags import tags_of
from .parameters import TIERS, TYPES, region_of

PAGE = 10
_EQUALS = ("Equals", "BeginsWith")
_KEYS = "tag:.+|Name|Type|KeyId|Path|Label|Tier|DataType"
_BY_PATH = {"Type": _EQUALS, "KeyId": _EQUALS, "Label": ("Equals",)}
_DESCRIBE = {
    "Name": ("Equals", "BeginsWith", "Contains"),
    "Type": _EQUALS,
    "KeyId": _EQUALS,
    "Path": ("OneLevel", "Recursive"),
    "Tier": _EQUALS,
    "DataType": _EQUALS,
    "tag:": _EQUALS,
}
_VALUES = {"Type": TYPES, "Tier": TIERS}
_PATH = (
    "The parameter doesn't meet the parameter name requirements. The parameter name must begin "
    'with a forward slash "/". It can\'t be prefixed with "aws" or "ssm" (case-insensitive). It '
    "must use only letters, numbers, or the following symbols: . (period), - (hyphen), "
    "_ (underscore). Special characters are not allowed. All sub-paths, if specified, must use "
    'the forward slash symbol "/". Valid example: /get/parameters2-/by1./path0_.'
)
_TESTS: dict[str, Callable[[str, str], bool]] = {
    "Equals": lambda have, want: have == want,
    "BeginsWith": lambda have, want: have.startswith(want),
    "Contains": lambda have, want: want in have,
}


@dataclass(frozen=True)
class Filter:
    key: str
    option: str
    values: tuple[str, ...]


def _path(value: str) -> str:
    """A path without its trailing `/` (`/` itself is "")."""
    base = value.strip().rstrip("/")
    if not value.strip().startswith("/") or (base and not naming.well_formed(base)):
        raise naming.validation(_PATH)
    return base


def _parent(name: str) -> str:
    return name.rsplit("/", 1)[0] if "/" in name else ""


def _below(name: str, path: str, recursive: bool) -> bool:
    if recursive:
        return not path or name.startswith(f"{path}/")
    return _parent(name) == path


def _filter(number: int, given: dict[str, Any], allowed: dict[str, tuple[str, ...]]) -> Filter:
    key = given["Key"]
    if not re.fullmatch(_KEYS, key):
        raise naming.validation(
            f"1 validation error detected: Value '{key}' at 'parameterFilters.{number}.member.key' "
            f"failed to satisfy constraint: Member must satisfy regular expression pattern: {_KEYS}"
        )
    kind = "tag:" if key.startswith("tag:") else key
    if kind not in allowed:
        raise ApiError(
            "InvalidFilterKey",
            f"The following filter key is not valid: {key}. Valid filter keys include: "
            f"[{', '.join(k + ('KEY' if k == 'tag:' else '') for k in allowed)}].",
        )
    option = given.get("Option") or ("OneLevel" if key == "Path" else "Equals")
    if option not in allowed[kind]:
        raise ApiError(
            "InvalidFilterOption",
            f"The following filter option is not valid: {option}. Valid options include: "
            f"[{', '.join(allowed[kind])}].",
        )
    values = tuple(given.get("Values") or ())
    if not values and kind != "tag:":
        raise ApiError(
            "InvalidFilterValue",
            f"The following filter values are missing : null for filter key {key}.",
        )
    for value in values:
        if key in _VALUES and value not in _VALUES[key]:
            raise ApiError(
                "InvalidFilterValue",
                f"The following filter value is not valid: {value}. Valid values include: "
                f"[{', '.join(_VALUES[key])}].",
            )
    if key == "Path":
        values = tuple(_path(v) for v in values)
    return Filter(key, option, values)


def _filters(given: list[dict[str, Any]] | None, allowed: dict[str, Any]) -> list[Filter]:
    chosen = [_filter(n, f, allowed) for n, f in enumerate(given or [], 1)]
    keys = [f.key for f in chosen]
    for key in keys:
        if keys.count(key) > 1:
            raise ApiError(
                "InvalidFilterKey",
                f"The following filter is duplicated in the request: {key}. A request can "
                "contain only one occurrence of a specific filter.",
            )
    return chosen


def _field(row: Any, tags: dict[str, str], key: str) -> str | None:
    if key.startswith("tag:"):
        return tags.get(key[4:])
    fields = {
        "Name": row.name,
        "Type": row.type,
        "KeyId": row.key_id,
        "Tier": row.tier,
        "DataType": row.data_type,
    }
    value: str | None = fields[key]
    return value


def _passes(row: Any, tags: dict[str, str], f: Filter) -> bool:
    if f.key == "Path":
        return any(_below(row.name, p, f.option == "Recursive") for p in f.values)
    have = _field(row, tags, f.key)
    if have is None:
        return False
    return not f.values or any(_TESTS[f.option](have, want) for want in f.values)


def _paged(rows: list[Any], params: dict[str, Any], limit: int) -> tuple[list[Any], str | None]:
    return records.paged(rows, lambda r: str(r.name), params, PAGE, limit)


def _labelled(conn: Connection, account_id: str, rows: list[Any], wanted: Filter) -> list[Any]:
    """For each parameter, its version with one of the wanted labels, if any."""
    labels = records.labels_of(conn, account_id)
    chosen = []
    for row in rows:
        versions = [
            v for (n, v), held in labels.items() if n == row.name and set(held) & set(wanted.values)
        ]
        if versions:
            chosen.append(records.version(conn, account_id, row.name, max(versions)))
    return chosen


@action("ssm", "GetParametersByPath")
def get_parameters_by_path(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    path = _path(params["Path"])
    recursive = bool(params.get("Recursive"))
    filters = _filters(params.get("ParameterFilters"), _BY_PATH)
    region = region_of(ctx)
    with region.catalog.begin() as conn:
        rows = [
            r
            for r in records.latest_rows(conn, ctx.account_id)
            if _below(r.name, path, recursive)
            and all(_passes(r, {}, f) for f in filters if f.key != "Label")
        ]
        for wanted in (f for f in filters if f.key == "Label"):
            rows = _labelled(conn, ctx.account_id, rows, wanted)
        chosen, token = _paged(rows, params, PAGE)
        decrypt = bool(params.get("WithDecryption"))
        shown = [shapes.parameter(ctx, conn, region, r, decrypt) for r in chosen]
    return {"Parameters": shown, "NextToken": token}


def _deprecated(params: dict[str, Any]) -> list[dict[str, Any]] | None:
    """`ParameterFilters`, or the deprecated `Filters` as such (Name: BeginsWith)."""
    if not params.get("Filters"):
        return params.get("ParameterFilters")
    if params.get("ParameterFilters"):
        raise naming.validation(
            "You can use either Filters or ParameterFilters in a single request."
        )
    return [
        {**f, "Option": "BeginsWith" if f["Key"] == "Name" else "Equals"} for f in params["Filters"]
    ]


@action("ssm", "DescribeParameters")
def describe_parameters(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    filters = _filters(_deprecated(params), _DESCRIBE)
    if params.get("Shared"):
        return {"Parameters": []}  # nothing is shared across accounts here
    region = region_of(ctx)
    with region.catalog.connect() as conn:
        tags = tags_of(conn, ctx.account_id)
        rows = [
            r
            for r in records.latest_rows(conn, ctx.account_id)
            if all(_passes(r, tags.get(r.name, {}), f) for f in filters)
        ]
    chosen, token = _paged(rows, params, 50)
    return {"Parameters": [shapes.metadata(region, r) for r in chosen], "NextToken": token}
