"""The services served on the one endpoint, and the wire protocol of each.

A service is named by the request's SigV4 credential scope (`ec2`, `kms`,
`ssm`, `rbin`, `sts`, `autoscaling`), and speaks the protocol its botocore
model declares.
"""

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, Protocol

from botocore.model import OperationModel, ServiceModel

from amiable.cloud.core.errors import ApiError

from .awsjson import AwsJson
from .ec2query import Ec2Query
from .http import HttpRequest, HttpResponse
from .models import service_model
from .query import Query
from .restjson import RestJson

SERVED = ("ec2", "kms", "ssm", "rbin", "sts", "autoscaling")


class WireProtocol(Protocol):
    def operation(self, request: HttpRequest) -> tuple[OperationModel, dict[str, Any]]: ...

    def response(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str
    ) -> HttpResponse: ...

    def error(self, error: ApiError, request_id: str) -> HttpResponse: ...


_PROTOCOLS: dict[str, Callable[[ServiceModel], WireProtocol]] = {
    "ec2": Ec2Query,
    "query": Query,
    "json": AwsJson,
    "rest-json": RestJson,
}


@cache
def protocol_for(service: str) -> WireProtocol:
    """The protocol of a served service; EC2's for any other name, so errors stay readable."""
    model = service_model(service if service in SERVED else "ec2")
    return _PROTOCOLS[model.metadata["protocol"]](model)
