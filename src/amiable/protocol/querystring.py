"""Form-encoded requests read by shape, in both query dialects.

The query protocol (STS, AutoScaling) and EC2's variant of it carry an
operation and its input as `Action=...&Version=...&Name.Sub=...`, in the
query string or a form body. They differ in how members are named and how
lists are numbered, which a `Dialect` says:

* EC2: a member's wire name is its `queryName`, else its capitalised
  `locationName`, else its member name; list elements are `Name.1`, `Name.2`.
* query: the wire name is the `locationName`, else the member name; list
  elements are `Name.member.1` (the list member's `locationName` instead of
  `member` when it has one; `Name.1` in a flattened list, named by its
  member's `locationName`), maps `Name.entry.1.key` / `Name.entry.1.value`;
  an empty list is sent as `Name=`.

Parsing inverts botocore's serializers; inputs come out as plain dicts keyed
by the model's member names. What does not fit the model is an error in the
dialect's terms (EC2's `MissingParameter` / `UnknownParameter`, the query
services' `ValidationError`); a value that does not convert is
`InvalidParameterValue` in both.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qsl

from botocore.model import OperationModel, OperationNotFoundError, ServiceModel, Shape

from amiable.cloud.core.errors import ApiError, invalid_value

from .http import HttpRequest
from .scalars import from_text

Tree = dict[str, Any]


@dataclass(frozen=True, eq=False)  # hashed by identity: a cache key on every structure
class Dialect:
    wire_name: Callable[[Shape, str], str]
    list_items: Callable[[Shape], str | None]  # the segment before a list's numbers, if any
    missing: Callable[[str], ApiError]  # a required member, by its wire path, was not sent
    missing_action: Callable[[], ApiError]
    unknown_action: Callable[[str, str], ApiError]  # (action, version) the model lacks
    strict: bool  # parameters the model does not know are errors (else ignored)


def read(
    model: ServiceModel, request: HttpRequest, dialect: Dialect
) -> tuple[OperationModel, dict[str, Any]]:
    """The operation a request names and its input."""
    params = dict(parse_qsl(request.query, keep_blank_values=True))
    params.update(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))
    name = params.get("Action")
    if not name:
        raise dialect.missing_action()
    try:
        operation = model.operation_model(name)
    except OperationNotFoundError as exc:
        raise dialect.unknown_action(name, params.get("Version", "")) from exc
    return operation, parse(operation, params, dialect)


def parse(operation: OperationModel, params: Mapping[str, str], dialect: Dialect) -> dict[str, Any]:
    """The operation's input read from its form fields."""
    shape = operation.input_shape
    if shape is None:
        return {}
    tree = _nest({k: v for k, v in params.items() if k not in ("Action", "Version")})
    return _structure(shape, tree, "", dialect)


def _nest(params: Mapping[str, str]) -> Tree:
    """`{"Filter.1.Name": "x"}` -> `{"Filter": {"1": {"Name": "x"}}}`."""
    root: Tree = {}
    for key, value in params.items():
        node = root
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise invalid_value(key, value, "conflicts with another parameter")
            node = child
        if isinstance(node.get(leaf), dict):
            raise invalid_value(key, value, "conflicts with another parameter")
        node[leaf] = value
    return root


def _structure(shape: Any, node: Any, path: str, dialect: Dialect) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise invalid_value(path.rstrip("."), node, "expected a structure")
    members = _wire_members(shape, dialect)
    unknown = sorted(key for key in node if key not in members)
    if unknown and dialect.strict:
        raise ApiError("UnknownParameter", f"The parameter {path + unknown[0]} is not recognized")
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in members:
            member, member_shape = members[key]
            result[member] = _value(member_shape, value, path + key, dialect)
    for member in shape.required_members:
        if member not in result:
            raise dialect.missing(path + dialect.wire_name(shape.members[member], member))
    return result


@cache
def _wire_members(shape: Any, dialect: Dialect) -> dict[str, tuple[str, Shape]]:
    """Wire name -> (member name, member shape); shapes are cached per service model."""
    return {dialect.wire_name(s, m): (m, s) for m, s in shape.members.items()}


def _value(shape: Any, node: Any, path: str, dialect: Dialect) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _structure(shape, node, path + ".", dialect)
    if kind in ("list", "map"):
        return _collection(shape, node, path, dialect)
    if not isinstance(node, str):
        raise invalid_value(path, "...", "expected a single value")
    try:
        return from_text(kind, node)
    except ValueError as exc:
        raise invalid_value(path, node, f"not a valid {kind}") from exc


def _collection(shape: Any, node: Any, path: str, dialect: Dialect) -> Any:
    if node == "":  # the query protocol's empty list
        return [] if shape.type_name == "list" else {}
    segment = _items_segment(shape, dialect)
    if segment is not None:
        if not isinstance(node, dict) or set(node) != {segment}:
            raise invalid_value(path, "...", f"expected {path}.{segment}.N")
        node, path = node[segment], f"{path}.{segment}"
    if not isinstance(node, dict) or not all(k.isdigit() for k in node):
        raise invalid_value(path, "...", f"expected {path}.N")
    numbers = sorted(node, key=int)
    if shape.type_name == "list":
        return [_value(shape.member, node[n], f"{path}.{n}", dialect) for n in numbers]
    return dict(_entry(shape, node[n], f"{path}.{n}", dialect) for n in numbers)


def _items_segment(shape: Any, dialect: Dialect) -> str | None:
    if shape.type_name == "list":
        return dialect.list_items(shape)
    return None if shape.serialization.get("flattened") else "entry"


def _entry(shape: Any, node: Any, path: str, dialect: Dialect) -> tuple[Any, Any]:
    key_name = dialect.wire_name(shape.key, "key")
    value_name = dialect.wire_name(shape.value, "value")
    if not isinstance(node, dict) or key_name not in node or value_name not in node:
        raise invalid_value(path, "...", f"expected {path}.{key_name} and {path}.{value_name}")
    return (
        _value(shape.key, node[key_name], f"{path}.{key_name}", dialect),
        _value(shape.value, node[value_name], f"{path}.{value_name}", dialect),
    )
