"""One request in, one response out: authenticate, route, parse, act, serialize.

Transport-agnostic: the HTTP server (`server/app.py`) and in-process boto3
clients (`amiable.session`) both hand their requests here, so the two ways in
behave identically.
"""

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from botocore.model import OperationNotFoundError

from amiable.cloud.actions import Context, handler_for
from amiable.cloud.errors import ApiError, missing_parameter
from amiable.cloud.home import Cloud
from amiable.protocol import ec2query
from amiable.protocol.models import service_model

from .sigv4 import HttpRequest, verify

log = logging.getLogger(__name__)
XML = {"Content-Type": "text/xml;charset=UTF-8"}


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: dict(XML))


class Gateway:
    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        try:
            signed = verify(request, self._secret)
            found = self.cloud.accounts.by_key(signed.access_key)
            assert found is not None  # verify() succeeded, so the key exists
            ctx = Context(self.cloud, found[0], signed.region, request_id)
            if signed.service != "ec2":
                raise ApiError("InvalidAction", f"The service {signed.service} is not served here")
            return self._ec2(ctx, request)
        except ApiError as exc:
            return HttpResponse(exc.status, ec2query.serialize_error(exc, request_id))
        except Exception:
            log.exception("request %s failed", request_id)
            error = ApiError("InternalError", "An internal error has occurred", 500)
            return HttpResponse(500, ec2query.serialize_error(error, request_id))

    def _secret(self, access_key: str) -> str | None:
        found = self.cloud.accounts.by_key(access_key)
        return found[1] if found else None

    def _ec2(self, ctx: Context, request: HttpRequest) -> HttpResponse:
        params = dict(parse_qsl(request.query, keep_blank_values=True))
        params.update(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))
        name = params.get("Action")
        if not name:
            raise missing_parameter("Action")
        try:
            operation = service_model("ec2").operation_model(name)
        except OperationNotFoundError as exc:
            raise ApiError(
                "InvalidAction", f"The action {name} is not valid for this web service."
            ) from exc
        handler = handler_for("ec2", name)
        if handler is None:
            raise ApiError("Unsupported", f"The action {name} is not supported by amiable yet.")
        parsed: dict[str, Any] = ec2query.parse_request(operation, params)
        if parsed.pop("DryRun", False):
            raise ApiError(
                "DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412
            )
        result = handler(ctx, parsed)
        return HttpResponse(200, ec2query.serialize_response(operation, result, ctx.request_id))
