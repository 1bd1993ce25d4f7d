"""The EC2 query protocol: form-encoded requests in, XML responses out.

Parsing inverts botocore's EC2 serializer: a member's wire name is its
`queryName`, else its capitalised `locationName`, else its member name; list
elements are numbered from 1 (`Filter.1.Value.2`). Serializing mirrors
botocore's EC2 response parser: elements are named by `locationName`, list
elements by the member's `locationName` (`item`). Inputs and outputs are
plain dicts keyed by the model's member names, the same shape boto3 users
write and read.
"""

import base64
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from botocore.model import (
    OperationModel,
    OperationNotFoundError,
    ServiceModel,
    Shape,
    StructureShape,
)

from amiable.cloud.core.errors import ApiError, invalid_value, missing_parameter

from .http import HttpRequest, HttpResponse
from .scalars import from_text, iso8601

Tree = dict[str, Any]
XML = {"Content-Type": "text/xml;charset=UTF-8"}


class Ec2Query:
    """The protocol of one query-protocol service (EC2)."""

    def __init__(self, model: ServiceModel) -> None:
        self.model = model

    def operation(self, request: HttpRequest) -> tuple[OperationModel, dict[str, Any]]:
        """The operation a request names and its parsed input."""
        params = dict(parse_qsl(request.query, keep_blank_values=True))
        params.update(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))
        name = params.get("Action")
        if not name:
            raise missing_parameter("Action")
        try:
            operation = self.model.operation_model(name)
        except OperationNotFoundError as exc:
            raise ApiError(
                "InvalidAction", f"The action {name} is not valid for this web service."
            ) from exc
        return operation, parse_request(operation, params)

    def response(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str
    ) -> HttpResponse:
        return HttpResponse(200, serialize_response(operation, result, request_id), dict(XML))

    def error(self, error: ApiError, request_id: str) -> HttpResponse:
        return HttpResponse(error.status, serialize_error(error, request_id), dict(XML))


# -- requests --


def parse_request(operation: OperationModel, params: Mapping[str, str]) -> dict[str, Any]:
    """The operation's input as a dict; MissingParameter / InvalidParameterValue /
    UnknownParameter for what does not fit the model."""
    shape = operation.input_shape
    tree = _nest({k: v for k, v in params.items() if k not in ("Action", "Version")})
    if shape is None:
        return {}
    return _structure(shape, tree, "")


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
        node[leaf] = value
    return root


def wire_name(shape: Shape, member: str) -> str:
    """The name of a member on the wire, as botocore's EC2 serializer writes it."""
    serialization = shape.serialization
    if "queryName" in serialization:
        return str(serialization["queryName"])
    if "name" in serialization:
        name = str(serialization["name"])
        return name[0].upper() + name[1:]
    return member


def _structure(shape: StructureShape, node: Any, path: str) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise invalid_value(path, node, "expected a structure")
    members = _wire_members(shape)
    unknown = sorted(key for key in node if key not in members)
    if unknown:
        raise ApiError("UnknownParameter", f"The parameter {path + unknown[0]} is not recognized")
    result: dict[str, Any] = {}
    for key, value in node.items():
        member, member_shape = members[key]
        result[member] = _value(member_shape, value, path + key)
    for member in shape.required_members:
        if member not in result:
            raise missing_parameter(path + wire_name(shape.members[member], member))
    return result


@cache
def _wire_members(shape: StructureShape) -> dict[str, tuple[str, Shape]]:
    """Wire name -> (member name, member shape); shapes are cached per service model."""
    return {wire_name(s, m): (m, s) for m, s in shape.members.items()}


def _value(shape: Shape, node: Any, path: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _structure(shape, node, path + ".")
    if kind == "list":
        if not isinstance(node, dict) or not all(k.isdigit() for k in node):
            raise invalid_value(path, node, "expected a list")
        member = shape.member
        return [_value(member, node[k], f"{path}.{k}") for k in sorted(node, key=int)]
    if not isinstance(node, str):
        raise invalid_value(path, "...", "expected a single value")
    try:
        return from_text(kind, node)
    except ValueError as exc:
        raise invalid_value(path, node, f"not a valid {kind}") from exc


# -- responses --


def serialize_response(
    operation: OperationModel, result: Mapping[str, Any], request_id: str
) -> bytes:
    name = operation.name
    namespace = operation.service_model.metadata.get("xmlNamespace", "").rstrip("/") + "/"
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<{name}Response xmlns="{namespace}"><requestId>{request_id}</requestId>',
    ]
    if operation.output_shape is not None:
        _members(operation.output_shape, result, out)
    out.append(f"</{name}Response>")
    return "".join(out).encode()


def serialize_error(error: ApiError, request_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Response><Errors><Error><Code>{escape(error.code)}</Code>"
        f"<Message>{escape(error.message)}</Message></Error></Errors>"
        f"<RequestID>{request_id}</RequestID></Response>"
    ).encode()


def _members(shape: StructureShape, value: Mapping[str, Any], out: list[str]) -> None:
    for member, member_shape in shape.members.items():
        item = value.get(member)
        if item is not None:
            _element(member_shape.serialization.get("name", member), member_shape, item, out)


def _element(tag: str, shape: Shape, value: Any, out: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        out.append(f"<{tag}>")
        _members(shape, value, out)
        out.append(f"</{tag}>")
    elif kind == "list":
        member = shape.member
        item_tag = member.serialization.get("name", "member")
        out.append(f"<{tag}>")
        for item in value:
            _element(item_tag, member, item, out)
        out.append(f"</{tag}>")
    else:
        out.append(f"<{tag}>{_text(kind, value)}</{tag}>")


def _text(kind: str, value: Any) -> str:
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp" and isinstance(value, datetime):
        return iso8601(value)
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else value
        return base64.b64encode(raw).decode("ascii")
    return escape(str(value))
