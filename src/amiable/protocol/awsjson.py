"""The AWS JSON protocol (KMS, SSM): the operation in `X-Amz-Target`, JSON both ways."""

from collections.abc import Mapping
from typing import Any

from botocore.model import OperationModel, OperationNotFoundError, ServiceModel

from amiable.cloud.core.errors import ApiError

from . import jsonshapes
from .http import HttpRequest, HttpResponse


class AwsJson:
    """The protocol of one JSON-protocol service."""

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self.prefix = model.metadata["targetPrefix"] + "."
        self.content_type = f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.0')}"

    def operation(self, request: HttpRequest) -> tuple[OperationModel, dict[str, Any]]:
        """The operation a request names and its parsed input."""
        target = request.headers.get("x-amz-target", "")
        name = target[len(self.prefix) :] if target.startswith(self.prefix) else ""
        try:
            operation = self.model.operation_model(name)
        except OperationNotFoundError as exc:
            raise ApiError("UnknownOperationException", f"Unknown operation {target}") from exc
        body = jsonshapes.loads(request.body)
        shape = operation.input_shape
        return operation, (jsonshapes.decode(shape, body, "") if shape is not None else {})

    def response(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str
    ) -> HttpResponse:
        shape = operation.output_shape
        body = jsonshapes.encode(shape, result) if shape is not None else {}
        headers = {"Content-Type": self.content_type, "x-amzn-RequestId": request_id}
        return HttpResponse(200, jsonshapes.dumps(body), headers)

    def error(self, error: ApiError, request_id: str) -> HttpResponse:
        headers = {"Content-Type": self.content_type}
        return jsonshapes.error_response(self.model, error, request_id, headers)
