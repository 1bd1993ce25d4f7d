"""JSON bodies by shape, shared by the JSON and REST-JSON protocols.

Decoding is the server-side validation those services do: a missing
required member is a `ValidationException`, a value of the wrong JSON type a
`SerializationException`, a string outside its enum a `ValidationException`;
members the model does not know are ignored, as AWS's JSON services do.
Timestamps travel as epoch seconds, blobs as base64. Errors are
`{"__type": code, "message": ...}` with the status the model gives the error
shape.
"""

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.model import ServiceModel, Shape

from amiable.cloud.core.errors import ApiError, null_member

from .http import HttpResponse
from .scalars import timestamp

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "structure": (dict,),
    "map": (dict,),
    "list": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "timestamp": (int, float, str),
    "blob": (str,),
}

# SigV4 failures, named as the JSON services name them.
_AUTH_ERRORS = {
    "AuthFailure": ("UnrecognizedClientException", 400),
    "SignatureDoesNotMatch": ("InvalidSignatureException", 400),
    "RequestExpired": ("InvalidSignatureException", 400),
}


def decode(shape: Shape, value: Any, path: str) -> Any:
    """A JSON value as the Python value of `shape` (datetimes, bytes, dicts)."""
    kind = shape.type_name
    if getattr(shape, "is_document_type", False):
        return value
    if not _has_json_type(kind, value):
        raise ApiError(
            "SerializationException", f"Unexpected JSON value {json.dumps(value)} at '{path}'"
        )
    if kind == "structure":
        return _structure(shape, value, path)
    if kind == "list":
        return [decode(shape.member, item, f"{path}.{i + 1}") for i, item in enumerate(value)]
    if kind == "map":
        return {key: decode(shape.value, item, f"{path}.{key}") for key, item in value.items()}
    if kind == "timestamp":
        try:
            return timestamp(value)
        except (ValueError, OverflowError) as exc:
            raise ApiError("SerializationException", f"Invalid timestamp at '{path}'") from exc
    if kind == "blob":
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise ApiError("SerializationException", f"Invalid base64 at '{path}'") from exc
    enum = getattr(shape, "enum", None)
    if kind == "string" and enum and value not in enum:
        raise ApiError(
            "ValidationException",
            f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(enum)}]",
        )
    return value


def _has_json_type(kind: str, value: Any) -> bool:
    if isinstance(value, bool):  # a bool is an int to Python, not to JSON
        return kind == "boolean"
    return isinstance(value, _JSON_TYPES.get(kind, (object,)))


def _structure(shape: Any, value: Mapping[str, Any], path: str) -> dict[str, Any]:
    result = decode_members(shape, value, path, shape.members)
    require(shape, result, path)
    return result


def decode_members(
    shape: Any, value: Mapping[str, Any], path: str, members: Iterable[str]
) -> dict[str, Any]:
    """The named members of structure `shape` found in the JSON object `value`."""
    result: dict[str, Any] = {}
    prefix = f"{path}." if path else ""
    for member in members:
        member_shape = shape.members[member]
        key = member_shape.serialization.get("name", member)
        if value.get(key) is not None:
            result[member] = decode(member_shape, value[key], prefix + _lower_first(key))
    return result


def require(shape: Any, result: Mapping[str, Any], path: str) -> None:
    """ValidationException when a required member of `shape` is missing from `result`."""
    prefix = f"{path}." if path else ""
    for member in shape.required_members:
        if member not in result:
            raise null_member("ValidationException", prefix + _lower_first(member))


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def encode(shape: Shape, value: Any) -> Any:
    """A Python value of `shape` as a JSON value; `None` members are left out."""
    kind = shape.type_name
    if kind == "structure" and not getattr(shape, "is_document_type", False):
        return {
            member_shape.serialization.get("name", member): encode(member_shape, value[member])
            for member, member_shape in shape.members.items()
            if value.get(member) is not None
        }
    if kind == "list":
        return [encode(shape.member, item) for item in value]
    if kind == "map":
        return {key: encode(shape.value, item) for key, item in value.items()}
    if kind == "timestamp" and isinstance(value, datetime):  # naive means UTC, as stored
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else value
        return base64.b64encode(raw).decode("ascii")
    return value


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def loads(body: bytes) -> Any:
    """The request body as JSON (`{}` when empty); SerializationException when not JSON."""
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError("SerializationException", "The request body is not valid JSON") from exc


def error_response(
    model: ServiceModel, error: ApiError, request_id: str, headers: dict[str, str]
) -> HttpResponse:
    code, status = _AUTH_ERRORS.get(error.code, (error.code, error.status))
    shape = next((s for s in model.error_shapes if s.name == code), None)
    if shape is not None:
        status = shape.metadata.get("error", {}).get("httpStatusCode", status)
    body = dumps({"__type": code, "message": error.message})
    return HttpResponse(
        status, body, {**headers, "x-amzn-RequestId": request_id, "x-amzn-ErrorType": code}
    )
