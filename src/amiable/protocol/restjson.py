"""The REST-JSON protocol (Recycle Bin): the operation in method and path.

Each operation's `requestUri` template (`/rules/{identifier}/lock`) becomes a
route; members located in the URI, query string and headers are read from
there, the rest from the JSON body (or the body is the `payload` member).
Responses put the status code, headers and body where the output shape says.
"""

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

from botocore.model import OperationModel, ServiceModel, Shape

from amiable.cloud.core.errors import ApiError

from . import jsonshapes
from .http import HttpRequest, HttpResponse
from .scalars import from_text, iso8601

CONTENT_TYPE = {"Content-Type": "application/json"}


class RestJson:
    """The protocol of one REST-JSON service."""

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self.routes = [_route(model.operation_model(name)) for name in model.operation_names]

    def operation(self, request: HttpRequest) -> tuple[OperationModel, dict[str, Any]]:
        """The operation a request's method and path name, and its parsed input."""
        query = parse_qs(request.query, keep_blank_values=True)
        for method, pattern, operation in self.routes:
            found = pattern.fullmatch(request.path) if method == request.method.upper() else None
            if found is not None:
                uri = {name: unquote(value) for name, value in found.groupdict().items()}
                return operation, _parse(operation, uri, query, request)
        raise ApiError(
            "UnknownOperationException", f"No operation at {request.method} {request.path}", 404
        )

    def response(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str
    ) -> HttpResponse:
        status = int(operation.http.get("responseCode", 200))
        headers = {**CONTENT_TYPE, "x-amzn-RequestId": request_id}
        shape = operation.output_shape
        if shape is None:
            return HttpResponse(status, b"", headers)
        body: dict[str, Any] = {}
        for member, member_shape in shape.members.items():
            value = result.get(member)
            location = member_shape.serialization.get("location")
            if value is None:
                continue
            if location == "statusCode":
                status = int(value)
            elif location == "header":
                headers[member_shape.serialization.get("name", member)] = _header(
                    member_shape, value
                )
            elif location is None:
                body[member] = value
        payload = shape.serialization.get("payload")
        if payload is not None:
            return HttpResponse(
                status, _payload(shape.members[payload], result.get(payload)), headers
            )
        if not body and not _body_members(shape):
            return HttpResponse(status, b"", headers)
        return HttpResponse(status, jsonshapes.dumps(jsonshapes.encode(shape, body)), headers)

    def error(self, error: ApiError, request_id: str) -> HttpResponse:
        return jsonshapes.error_response(self.model, error, request_id, dict(CONTENT_TYPE))


def _route(operation: OperationModel) -> tuple[str, re.Pattern[str], OperationModel]:
    template = operation.http["requestUri"].split("?", 1)[0]
    pattern = ""
    for literal, name in re.findall(r"([^{]*)(?:\{([^}]*)\})?", template):
        pattern += re.escape(literal)
        if name:
            greedy = name.endswith("+")
            pattern += f"(?P<{name.rstrip('+')}>{'.+' if greedy else '[^/]+'})"
    return operation.http["method"].upper(), re.compile(pattern), operation


def _parse(
    operation: OperationModel,
    uri: Mapping[str, str],
    query: Mapping[str, list[str]],
    request: HttpRequest,
) -> dict[str, Any]:
    shape = operation.input_shape
    if shape is None:
        return {}
    result: dict[str, Any] = {}
    for member, member_shape in shape.members.items():
        location = member_shape.serialization.get("location")
        name = member_shape.serialization.get("name", member)
        if location == "uri" and name in uri:
            result[member] = _text(member_shape, uri[name], name)
        elif location == "querystring" and name in query:
            values = query[name]
            if member_shape.type_name == "list":
                result[member] = [_text(member_shape.member, v, name) for v in values]
            else:
                result[member] = _text(member_shape, values[0], name)
        elif location == "header" and name.lower() in request.headers:
            result[member] = _text(member_shape, request.headers[name.lower()], name)
    payload = shape.serialization.get("payload")
    if payload is not None:
        payload_shape = shape.members[payload]
        if payload_shape.type_name in ("blob", "string"):
            if request.body:
                result[payload] = request.body
        elif request.body.strip():
            result[payload] = jsonshapes.decode(payload_shape, jsonshapes.loads(request.body), "")
    else:
        body = jsonshapes.loads(request.body)
        if not isinstance(body, dict):
            raise ApiError("SerializationException", "The request body is not a JSON object")
        result.update(jsonshapes.decode_members(shape, body, "", _body_members(shape)))
    jsonshapes.require(shape, result, "")
    return result


def _body_members(shape: Any) -> list[str]:
    return [m for m, s in shape.members.items() if "location" not in s.serialization]


def _text(shape: Shape, text: str, name: str) -> Any:
    try:
        return from_text(shape.type_name, text)
    except ValueError as exc:
        raise ApiError(
            "ValidationException", f"Value '{text}' at '{name}' is not a valid {shape.type_name}"
        ) from exc


def _header(shape: Shape, value: Any) -> str:
    if shape.type_name == "boolean":
        return "true" if value else "false"
    if shape.type_name == "timestamp":
        return iso8601(value)
    return str(value)


def _payload(shape: Shape, value: Any) -> bytes:
    if value is None:
        return b""
    if shape.type_name in ("blob", "string"):
        return value.encode() if isinstance(value, str) else bytes(value)
    return jsonshapes.dumps(jsonshapes.encode(shape, value))
