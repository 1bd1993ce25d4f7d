"""The query protocol (STS, AutoScaling) against botocore, over every operation.

As for EC2: botocore's query serializer writes random inputs of every
operation of both services and we must read them back exactly; we write
random outputs and botocore's query parser must read them back exactly;
errors reach botocore with their code, message, status and request id.
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
from shape_values import (
    loses_required,
    operation_inputs,
    operation_outputs,
    per_service,
    without_empty,
)

SERVICES = ("sts", "autoscaling")


def form(body: str, query: str = "") -> HttpRequest:
    headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
    return HttpRequest("POST", "/", query, headers, body.encode())


def read_back(response: HttpResponse, shape: Any) -> dict[str, Any]:
    return create_parser("query").parse(  # type: ignore[no-any-return]
        {"body": response.body, "headers": response.headers, "status_code": response.status},
        shape,
    )


@settings(max_examples=300, deadline=None)
@given(per_service(SERVICES, lambda s: operation_inputs(service_model(s))))
def test_requests_written_by_botocore_parse_back_exactly(case: Any) -> None:
    service, (operation, params) = case
    try:
        serialized = create_serializer("query").serialize_to_request(params, operation)
    except ParamValidationError:
        assume(False)
    shape = operation.input_shape
    assume(shape is None or not loses_required(shape, params, lists_sent=True))
    found, parsed = protocol_for(service).operation(
        form(percent_encode_sequence(serialized["body"]))
    )
    assert found.name == operation.name
    assert parsed == without_empty(params, lists_sent=True)


@settings(max_examples=300, deadline=None)
@given(per_service(SERVICES, lambda s: operation_outputs(service_model(s))))
def test_responses_we_write_are_read_back_exactly_by_botocore(case: Any) -> None:
    service, (operation, result) = case
    response = protocol_for(service).response(operation, result, "req-1")
    parsed = read_back(response, operation.output_shape)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    assert parsed == without_empty(result, lists_sent=True) or parsed == result


def test_operations_without_output_answer_their_request_id() -> None:
    operation = service_model("autoscaling").operation_model("DeleteTags")
    response = protocol_for("autoscaling").response(operation, {}, "req-2")
    parsed = read_back(response, None)
    assert list(parsed) == ["ResponseMetadata"]
    assert parsed["ResponseMetadata"]["RequestId"] == "req-2"


@pytest.mark.parametrize(
    ("service", "error", "code", "status"),
    [
        ("sts", ApiError("ExpiredTokenException", "old <&>"), "ExpiredTokenException", 400),
        ("sts", ApiError("IDPRejectedClaim", "no <&>"), "IDPRejectedClaim", 403),  # the model's
        ("autoscaling", ApiError("InvalidNextToken", "bad <&>"), "InvalidNextToken", 400),
        ("autoscaling", ApiError("InternalError", "oops <&>", 500), "InternalError", 500),
        ("sts", ApiError("SignatureDoesNotMatch", "sig <&>", 403), "SignatureDoesNotMatch", 403),
    ],
)
def test_errors_are_read_by_botocore_with_code_message_and_status(
    service: str, error: ApiError, code: str, status: int
) -> None:
    response = protocol_for(service).error(error, "r-9")
    parsed = read_back(response, None)
    assert response.status == status
    assert parsed["Error"] == {
        "Type": "Sender" if status < 500 else "Receiver",
        "Code": code,
        "Message": error.message,
    }
    assert parsed["ResponseMetadata"]["RequestId"] == "r-9"


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (
            form("Action=AssumeRole&Version=2011-06-15&RoleSessionName=s"),
            "ValidationError",
            "1 validation error detected: Value null at 'roleArn' failed to satisfy "
            "constraint: Member must not be null",
        ),
        (
            form("Action=GetCallerIdentityNow&Version=2011-06-15"),
            "InvalidAction",
            "Could not find operation GetCallerIdentityNow for version 2011-06-15",
        ),
        (
            form("Version=2011-06-15"),
            "MissingAction",
            "The request is missing an action or a required parameter.",
        ),
        (
            form("Action=GetSessionToken&Version=2011-06-15&DurationSeconds=long"),
            "InvalidParameterValue",
            "Value (long) for parameter DurationSeconds is invalid. (not a valid integer)",
        ),
        (
            form("Action=GetFederationToken&Name=n&PolicyArns.1.arn=x"),
            "InvalidParameterValue",
            "Value (...) for parameter PolicyArns is invalid. (expected PolicyArns.member.N)",
        ),
    ],
)
def test_bad_requests_get_the_query_services_error_codes(
    request_: HttpRequest, code: str, message: str
) -> None:
    with pytest.raises(ApiError) as caught:
        protocol_for("sts").operation(request_)
    assert (caught.value.code, caught.value.message) == (code, message)


def test_parameters_the_model_does_not_know_are_ignored() -> None:
    operation, parsed = protocol_for("autoscaling").operation(
        form(
            "Action=DescribeAutoScalingGroups&Version=2011-01-01&MaxRecords=10&Later=1",
            query="AutoScalingGroupNames.member.1=web",
        )
    )
    assert operation.name == "DescribeAutoScalingGroups"
    assert parsed == {"MaxRecords": 10, "AutoScalingGroupNames": ["web"]}


def test_unknown_keys_are_named_as_the_query_services_name_them() -> None:
    response = protocol_for("sts").error(ApiError("AuthFailure", "who?", 401), "r-1")
    assert response.status == 403
    assert read_back(response, None)["Error"] == {
        "Type": "Sender",
        "Code": "InvalidClientTokenId",
        "Message": "The security token included in the request is invalid.",
    }
