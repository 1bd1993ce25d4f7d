"""The JSON (KMS, SSM) and REST-JSON (Recycle Bin) protocols against botocore.

As for EC2: botocore's serializers write random inputs of every operation and
we must read them back exactly; we write random outputs and botocore's
parsers must read them back exactly; errors reach botocore with their code,
message and status.
"""

from typing import Any

import pytest
from botocore.exceptions import ParamValidationError
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.utils import percent_encode_sequence
from hypothesis import assume, given, settings

from amiable.cloud.core.errors import ApiError
from amiable.protocol.http import HttpRequest, HttpResponse
from amiable.protocol.models import service_model
from amiable.protocol.services import protocol_for
from shape_values import SECONDS, operation_inputs, operation_outputs, per_service

SERVICES = ("kms", "ssm", "rbin")


def as_request(serialized: dict[str, Any]) -> HttpRequest:
    headers = {k.lower(): v for k, v in serialized["headers"].items()}
    body = serialized["body"]
    return HttpRequest(
        serialized["method"],
        serialized["url_path"],
        percent_encode_sequence(serialized["query_string"]),
        headers,
        body.encode() if isinstance(body, str) else body,
    )


def read_back(service: str, response: HttpResponse, shape: Any) -> dict[str, Any]:
    protocol = service_model(service).metadata["protocol"]
    return create_parser(protocol).parse(  # type: ignore[no-any-return]
        {
            "body": response.body,
            "headers": {k.lower(): v for k, v in response.headers.items()},
            "status_code": response.status,
        },
        shape,
    )


def sent_in_query_string(operation: Any, params: dict[str, Any]) -> dict[str, Any]:
    """`params` less empty query-string lists, which a query string cannot carry."""
    shape = operation.input_shape
    return {
        k: v
        for k, v in params.items()
        if not (shape.members[k].serialization.get("location") == "querystring" and v == [])
    }


@settings(max_examples=300, deadline=None)
@given(per_service(SERVICES, lambda s: operation_inputs(service_model(s), precision=SECONDS)))
def test_requests_written_by_botocore_parse_back_exactly(case: Any) -> None:
    service, (operation, params) = case
    protocol = service_model(service).metadata["protocol"]
    try:
        serialized = create_serializer(protocol).serialize_to_request(params, operation)
    except ParamValidationError:
        assume(False)
    path = serialized["url_path"]
    assume("//" not in path and (path == "/" or not path.endswith("/")))  # empty path parameter
    found, parsed = protocol_for(service).operation(as_request(serialized))
    assert found.name == operation.name
    assert parsed == sent_in_query_string(operation, params)


@settings(max_examples=300, deadline=None)
@given(per_service(SERVICES, lambda s: operation_outputs(service_model(s))))
def test_responses_we_write_are_read_back_exactly_by_botocore(case: Any) -> None:
    service, (operation, result) = case
    response = protocol_for(service).response(operation, result, "req-1")
    parsed = read_back(service, response, operation.output_shape)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    assert parsed == result


@pytest.mark.parametrize(
    ("service", "code", "status"),
    [
        ("kms", "NotFoundException", 400),
        ("rbin", "ResourceNotFoundException", 404),  # the model's status for the error
        ("rbin", "ConflictException", 409),
        ("ssm", "InvalidInstanceId", 400),
    ],
)
def test_errors_are_read_by_botocore_with_code_message_and_status(
    service: str, code: str, status: int
) -> None:
    response = protocol_for(service).error(ApiError(code, 'No "such" thing <&>'), "r-9")
    parsed = read_back(service, response, None)
    assert response.status == status
    assert parsed["Error"] == {"Code": code, "Message": 'No "such" thing <&>'}
    assert parsed["ResponseMetadata"]["RequestId"] == "r-9"


def test_signature_failures_are_named_as_json_services_name_them() -> None:
    response = protocol_for("kms").error(ApiError("AuthFailure", "bad key", 401), "r-1")
    assert (response.status, read_back("kms", response, None)["Error"]["Code"]) == (
        400,
        "UnrecognizedClientException",
    )


def json_request(target: str, body: bytes) -> HttpRequest:
    return HttpRequest("POST", "/", "", {"x-amz-target": target}, body)


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (
            json_request("TrentService.DescribeKey", b"{}"),
            "ValidationException",
            "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: "
            "Member must not be null",
        ),
        (
            json_request("TrentService.DescribeKey", b'{"KeyId": 7}'),
            "SerializationException",
            "Unexpected JSON value 7 at 'keyId'",
        ),
        (
            json_request("TrentService.CreateKey", b'{"KeySpec": "RSA_1"}'),
            "ValidationException",
            "1 validation error detected: Value 'RSA_1' at 'keySpec' failed to satisfy "
            "constraint: Member must satisfy enum value set: [",
        ),
        (
            json_request("TrentService.ListKeys", b"{not json"),
            "SerializationException",
            "The request body is not valid JSON",
        ),
        (
            json_request("TrentService.Frobnicate", b"{}"),
            "UnknownOperationException",
            "Unknown operation TrentService.Frobnicate",
        ),
        (
            HttpRequest("PUT", "/rules", "", {}, b""),
            "UnknownOperationException",
            "No operation at PUT /rules",
        ),
        (
            HttpRequest("POST", "/rules", "", {}, b'{"ResourceType": "EBS_SNAPSHOT"}'),
            "ValidationException",
            "1 validation error detected: Value null at 'retentionPeriod' failed to satisfy "
            "constraint: Member must not be null",
        ),
    ],
)
def test_bad_requests_get_the_services_error_codes(
    request_: HttpRequest, code: str, message: str
) -> None:
    service = "rbin" if request_.path.startswith("/rules") else "kms"
    with pytest.raises(ApiError) as caught:
        protocol_for(service).operation(request_)
    assert caught.value.code == code
    assert caught.value.message.startswith(message)


def test_unknown_json_members_are_ignored_as_aws_does() -> None:
    operation, parsed = protocol_for("kms").operation(
        json_request("TrentService.DescribeKey", b'{"KeyId": "alias/x", "Later": 1}')
    )
    assert (operation.name, parsed) == ("DescribeKey", {"KeyId": "alias/x"})


def test_rest_routes_take_path_parameters_percent_decoded() -> None:
    arn = "arn:aws:rbin:us-east-1:000000000000:rule/abc"
    path = "/tags/" + arn.replace(":", "%3A").replace("/", "%2F")
    operation, parsed = protocol_for("rbin").operation(
        HttpRequest("DELETE", path, "tagKeys=a&tagKeys=b%20c", {}, b"")
    )
    assert operation.name == "UntagResource"
    assert parsed == {"ResourceArn": arn, "TagKeys": ["a", "b c"]}
