"""The EC2 query protocol: form-encoded requests in, XML responses out.

Requests are read in EC2's dialect of the query protocol
(`querystring.EC2`: a member's wire name is its `queryName`, else its
capitalised `locationName`, else its member name; list elements are
numbered from 1, `Filter.1.Value.2`). Responses are
`<{Action}Response xmlns=...><requestId/>...</{Action}Response>` with the
output's members as `xmlshapes` writes them; errors are EC2's
`<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`.
"""

from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from botocore.model import OperationModel, ServiceModel, Shape

from amiable.cloud.core.errors import ApiError, missing_parameter

from . import querystring, xmlshapes
from .http import HttpRequest, HttpResponse

XML = {"Content-Type": "text/xml;charset=UTF-8"}


def wire_name(shape: Shape, member: str) -> str:
    """The name of a member on the wire, as botocore's EC2 serializer writes it."""
    serialization = shape.serialization
    if "queryName" in serialization:
        return str(serialization["queryName"])
    if "name" in serialization:
        name = str(serialization["name"])
        return name[0].upper() + name[1:]
    return member


def _invalid_action(name: str, _version: str) -> ApiError:
    return ApiError("InvalidAction", f"The action {name} is not valid for this web service.")


EC2 = querystring.Dialect(
    wire_name=wire_name,
    list_items=lambda _shape: None,
    missing=missing_parameter,
    missing_action=lambda: missing_parameter("Action"),
    unknown_action=_invalid_action,
    strict=True,
)


class Ec2Query:
    """The protocol of the EC2 service."""

    def __init__(self, model: ServiceModel) -> None:
        self.model = model

    def operation(self, request: HttpRequest) -> tuple[OperationModel, dict[str, Any]]:
        """The operation a request names and its parsed input."""
        return querystring.read(self.model, request, EC2)

    def response(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str
    ) -> HttpResponse:
        return HttpResponse(200, serialize_response(operation, result, request_id), dict(XML))

    def error(self, error: ApiError, request_id: str) -> HttpResponse:
        return HttpResponse(error.status, serialize_error(error, request_id), dict(XML))


def parse_request(operation: OperationModel, params: Mapping[str, str]) -> dict[str, Any]:
    """The operation's input as a dict; MissingParameter / InvalidParameterValue /
    UnknownParameter for what does not fit the model."""
    return querystring.parse(operation, params, EC2)


def serialize_response(
    operation: OperationModel, result: Mapping[str, Any], request_id: str
) -> bytes:
    name = operation.name
    namespace = operation.service_model.metadata.get("xmlNamespace", "").rstrip("/") + "/"
    out = [
        xmlshapes.DECLARATION,
        f'<{name}Response xmlns="{namespace}"><requestId>{request_id}</requestId>',
    ]
    if operation.output_shape is not None:
        xmlshapes.members(operation.output_shape, result, out)
    out.append(f"</{name}Response>")
    return "".join(out).encode()


def serialize_error(error: ApiError, request_id: str) -> bytes:
    return (
        f"{xmlshapes.DECLARATION}<Response><Errors><Error><Code>{escape(error.code)}</Code>"
        f"<Message>{escape(error.message)}</Message></Error></Errors>"
        f"<RequestID>{request_id}</RequestID></Response>"
    ).encode()
