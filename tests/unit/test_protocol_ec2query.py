"""The EC2 query protocol against botocore itself, over every EC2 operation.

Requests: botocore's EC2 serializer writes random inputs of random operations,
our parser must read back exactly those inputs. Responses: we serialize random
outputs, botocore's EC2 response parser must read back exactly those outputs.
Values are generated from the service model, so every shape EC2 uses is
exercised, not just the ones the engine implements today.
"""

from typing import Any

import pytest
from botocore.exceptions import ParamValidationError
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from hypothesis import assume, given, settings

from amiable.cloud.core.errors import ApiError
from amiable.protocol.ec2query import (
    parse_request,
    serialize_error,
    serialize_response,
)
from amiable.protocol.models import service_model
from shape_values import loses_required, operation_inputs, operation_outputs, without_empty

MODEL = service_model("ec2")


@settings(max_examples=400, deadline=None)
@given(operation_inputs(MODEL))
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
@given(operation_outputs(MODEL))
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
