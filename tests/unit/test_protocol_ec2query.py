"""The EC2 query protocol against botocore itself, over every EC2 operation.

Requests: botocore's EC2 serializer writes random inputs of random operations,
our parser must read back exactly those inputs. Responses: we serialize random
outputs, botocore's EC2 response parser must read back exactly those outputs.
Values are generated from the service model, so every shape EC2 uses is
exercised, not just the ones the engine implements today.
"""

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ParamValidationError
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from amiable.cloud.errors import ApiError
from amiable.protocol.ec2query import (
    parse_request,
    serialize_error,
    serialize_response,
)
from amiable.protocol.models import service_model

MODEL = service_model("ec2")
OPERATIONS = sorted(MODEL.operation_names)
MAX_DEPTH = 4
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8)


def values(
    shape: Any, depth: int = 0, millis: bool = False, required: bool = False
) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if kind == "structure":
        members = {
            name: values(member, depth + 1, millis, name in shape.required_members)
            for name, member in shape.members.items()
            if depth < MAX_DEPTH or name in shape.required_members
        }
        required = {k: v for k, v in members.items() if k in shape.required_members}
        optional = {k: v for k, v in members.items() if k not in required}
        return st.fixed_dictionaries(required, optional=optional)
    if kind == "list":
        if depth >= MAX_DEPTH:
            return st.just([])
        return st.lists(values(shape.member, depth + 1, millis), min_size=required, max_size=2)
    return scalars(kind, millis)


def scalars(kind: str, millis: bool) -> st.SearchStrategy[Any]:
    if kind == "string":
        return TEXT.map(str.strip)
    if kind == "integer":
        return st.integers(-(2**31), 2**31 - 1)
    if kind == "long":
        return st.integers(0, 2**62)
    if kind == "boolean":
        return st.booleans()
    if kind in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if kind == "timestamp":
        stamps = st.datetimes(
            min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        )
        return (
            stamps.map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
            if millis
            else stamps
        )
    if kind == "blob":
        return st.binary(max_size=8)
    raise AssertionError(f"unexpected shape type {kind}")


def without_empty(value: Any) -> Any:
    """What survives the wire: empty lists and structures are not sent."""
    if isinstance(value, dict):
        kept = {k: without_empty(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in ({}, [])}
    if isinstance(value, list):
        return [v for v in map(without_empty, value) if v not in ({}, [])]
    return value


def loses_required(shape: Any, value: Any) -> bool:
    """True when a required member is empty, so it is not sent at all."""
    if shape.type_name == "structure":
        return any(
            without_empty(value.get(name)) in (None, {}, []) for name in shape.required_members
        ) or any(loses_required(shape.members[k], v) for k, v in value.items())
    if shape.type_name == "list":
        return any(loses_required(shape.member, v) for v in value)
    return False


@st.composite
def operation_inputs(draw: st.DrawFn) -> tuple[Any, dict[str, Any]]:
    operation = MODEL.operation_model(draw(st.sampled_from(OPERATIONS)))
    shape = operation.input_shape
    return operation, (draw(values(shape)) if shape is not None else {})


@st.composite
def operation_outputs(draw: st.DrawFn) -> tuple[Any, dict[str, Any]]:
    names = [n for n in OPERATIONS if MODEL.operation_model(n).output_shape is not None]
    operation = MODEL.operation_model(draw(st.sampled_from(names)))
    return operation, draw(values(operation.output_shape, millis=True))


@settings(max_examples=400, deadline=None)
@given(operation_inputs())
def test_requests_written_by_botocore_parse_back_exactly(case: tuple[Any, dict[str, Any]]) -> None:
    operation, params = case
    try:
        request = create_serializer("ec2").serialize_to_request(params, operation)
    except ParamValidationError:
        assume(False)
    assume(operation.input_shape is None or not loses_required(operation.input_shape, params))
    body = {k: str(v) for k, v in request["body"].items()}
    assert parse_request(operation, body) == without_empty(params)


@settings(max_examples=400, deadline=None)
@given(operation_outputs())
def test_responses_we_write_are_read_back_exactly_by_botocore(
    case: tuple[Any, dict[str, Any]],
) -> None:
    operation, result = case
    xml = serialize_response(operation, result, "req-1")
    parsed = create_parser("ec2").parse(
        {"body": xml, "headers": {}, "status_code": 200}, operation.output_shape
    )
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    assert parsed == without_empty(result) or parsed == result


def test_errors_are_read_by_botocore_with_code_and_message() -> None:
    operation = MODEL.operation_model("DescribeImages")
    xml = serialize_error(ApiError("InvalidAMIID.Malformed", 'Invalid id: "ami-1" <&>'), "r-9")
    parsed = create_parser("ec2").parse(
        {"body": xml, "headers": {}, "status_code": 400}, operation.output_shape
    )
    assert parsed["Error"] == {
        "Code": "InvalidAMIID.Malformed",
        "Message": 'Invalid id: "ami-1" <&>',
    }
    assert parsed["ResponseMetadata"]["RequestId"] == "r-9"


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        (
            {"Action": "DeregisterImage"},
            "MissingParameter",
            "The request must contain the parameter ImageId",
        ),
        (
            {"Action": "DescribeImages", "MaxResults": "many"},
            "InvalidParameterValue",
            "Value (many) for parameter MaxResults is invalid. (not a valid integer)",
        ),
        (
            {"Action": "DescribeImages", "DryRun": "maybe"},
            "InvalidParameterValue",
            "Value (maybe) for parameter DryRun is invalid. (not a valid boolean)",
        ),
        (
            {"Action": "DescribeImages", "Frobnicate": "1"},
            "UnknownParameter",
            "The parameter Frobnicate is not recognized",
        ),
        (
            {"Action": "DescribeImages", "Filter.1.Nmae": "name"},
            "UnknownParameter",
            "The parameter Filter.1.Nmae is not recognized",
        ),
    ],
)
def test_bad_requests_get_ec2_error_codes(params: dict[str, str], code: str, message: str) -> None:
    operation = MODEL.operation_model(params["Action"])
    with pytest.raises(ApiError) as caught:
        parse_request(operation, params)
    assert (caught.value.code, caught.value.message) == (code, message)
