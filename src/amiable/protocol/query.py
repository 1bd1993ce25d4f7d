"""The query protocol (STS, AutoScaling): form-encoded requests in, XML out.

Requests are read in the plain query dialect (`querystring.QUERY`: wire names
are `locationName`s, lists `Name.member.N`, maps `Name.entry.N.key`).
Responses wrap the output in the operation's result element:
`<{Action}Response xmlns=...><{Action}Result>...</{Action}Result>
<ResponseMetadata><RequestId/></ResponseMetadata></{Action}Response>`.
Errors are `<ErrorResponse><Error><Type>Sender</Type><Code/><Message/></Error>
<RequestId/></ErrorResponse>`, with the status the model gives the error
shape, else the error's own. As these services answer them: an action the
model lacks is `InvalidAction` ("Could not find operation X for version V"),
a missing required member `ValidationError`, an unknown access key
`InvalidClientTokenId`; parameters the model does not know are ignored.
"""

from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from botocore.model import OperationModel, ServiceModel, Shape

from amiable.cloud.core.errors import ApiError, null_member

from . import querystring, xmlshapes
from .http import HttpRequest, HttpResponse

XML = {"Content-Type": "text/xml"}

# SigV4 failures, named as the query services name them.
_AUTH_ERRORS = {
    "AuthFailure": (
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
        403,
    )
}


def wire_name(shape: Shape, member: str) -> str:
    """The name of a member on the wire, as botocore's query serializer writes it."""
    if shape.type_name == "list" and shape.serialization.get("flattened"):
        item = shape.member.serialization.get("name")
        if item:
            return str(item)
    return str(shape.serialization.get("name", member))


def _list_items(shape: Any) -> str | None:
    if shape.serialization.get("flattened"):
        return None
    return str(shape.member.serialization.get("name", "member"))


def _missing(path: str) -> ApiError:
    camel = ".".join(part[:1].lower() + part[1:] for part in path.split("."))
    return null_member("ValidationError", camel)


def _invalid_action(name: str, version: str) -> ApiError:
    return ApiError("InvalidAction", f"Could not find operation {name} for version {version}")


QUERY = querystring.Dialect(
    wire_name=wire_name,
    list_items=_list_items,
    missing=_missing,
    missing_action=lambda: ApiError(
        "MissingAction", "The request is missing an action or a required parameter."
    ),
    unknown_action=_invalid_action,
    strict=False,
)


class Query:
    """The protocol of one query-protocol service."""

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self.namespace = model.metadata.get("xmlNamespace", "")

    def operation(self, request: HttpRequest) -> tuple[OperationModel, dict[str, Any]]:
        """The operation a request names and its parsed input."""
        return querystring.read(self.model, request, QUERY)

    def response(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str
    ) -> HttpResponse:
        name = operation.name
        out = [xmlshapes.DECLARATION, f'<{name}Response xmlns="{self.namespace}">']
        shape = operation.output_shape
        if shape is not None:
            wrapper = shape.serialization.get("resultWrapper")
            out.append(f"<{wrapper}>" if wrapper else "")
            xmlshapes.members(shape, result, out)
            out.append(f"</{wrapper}>" if wrapper else "")
        out.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>")
        out.append(f"</{name}Response>")
        return HttpResponse(200, "".join(out).encode(), {**XML, "x-amzn-RequestId": request_id})

    def error(self, error: ApiError, request_id: str) -> HttpResponse:
        code, message, status = _AUTH_ERRORS.get(
            error.code, (error.code, error.message, error.status)
        )
        modeled = (s.metadata.get("error", {}) for s in self.model.error_shapes)
        found = next((e for e in modeled if e.get("code") == code), None)
        if found is not None:
            status = found.get("httpStatusCode", status)
        fault = "Sender" if status < 500 else "Receiver"
        body = (
            f'{xmlshapes.DECLARATION}<ErrorResponse xmlns="{self.namespace}"><Error>'
            f"<Type>{fault}</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return HttpResponse(status, body.encode(), {**XML, "x-amzn-RequestId": request_id})
