"""One request in, one response out: authenticate, route, parse, act, serialize.

Transport-agnostic: the HTTP server (`server/app.py`) and in-process boto3
clients (`amiable.session`) both hand their requests here, so the two ways in
behave identically. The service comes from the SigV4 scope and answers in
its own protocol (EC2 query, JSON or REST-JSON), errors included.
"""

import logging
import uuid

from amiable.cloud.core.actions import Context, handler_for
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Cloud
from amiable.protocol.http import HttpRequest, HttpResponse
from amiable.protocol.services import SERVED, WireProtocol, protocol_for

from .sigv4 import claimed_service, verify

log = logging.getLogger(__name__)


class Gateway:
    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        protocol = protocol_for(claimed_service(request))
        try:
            signed = verify(request, self._secret)
            if signed.service not in SERVED:
                raise ApiError("InvalidAction", f"The service {signed.service} is not served here")
            found = self.cloud.accounts.by_key(signed.access_key)
            assert found is not None  # verify() succeeded, so the key exists
            ctx = Context(self.cloud, found[0], signed.region, request_id)
            return self._act(ctx, signed.service, protocol, request)
        except ApiError as exc:
            return protocol.error(exc, request_id)
        except Exception:
            log.exception("request %s failed", request_id)
            error = ApiError("InternalError", "An internal error has occurred", 500)
            return protocol.error(error, request_id)

    def _secret(self, access_key: str) -> str | None:
        found = self.cloud.accounts.by_key(access_key)
        return found[1] if found else None

    def _act(
        self, ctx: Context, service: str, protocol: WireProtocol, request: HttpRequest
    ) -> HttpResponse:
        operation, parsed = protocol.operation(request)
        handler = handler_for(service, operation.name)
        if handler is None:
            raise ApiError(
                "Unsupported", f"The action {operation.name} is not supported by amiable yet."
            )
        if parsed.pop("DryRun", False):
            raise ApiError(
                "DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412
            )
        result = handler(ctx, parsed)
        return protocol.response(operation, result, ctx.request_id)
