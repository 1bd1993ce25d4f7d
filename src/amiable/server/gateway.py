"""One request in, one response out: authenticate, route, parse, act, serialize.

Transport-agnostic: the HTTP server (`server/app.py`) and in-process boto3
clients (`amiable.session`) both hand their requests here, so the two ways in
behave identically. The service comes from the SigV4 scope and answers in
its own protocol (EC2 query, JSON or REST-JSON), errors included.

Every request is logged on `amiable.requests` once answered: at INFO who
(account), where (region), what (service:Action), the HTTP status, the error
code if any and the milliseconds it took; at DEBUG also the request id, the
access key id and the client. Never a secret, a signature or a body.
"""

import logging
import time
import uuid
from dataclasses import dataclass

from amiable.cloud.core.actions import Context, handler_for
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Cloud
from amiable.protocol.http import HttpRequest, HttpResponse
from amiable.protocol.services import SERVED, WireProtocol, protocol_for

from .sigv4 import claimed_service, verify

log = logging.getLogger(__name__)
requests_log = logging.getLogger("amiable.requests")

UNKNOWN = "-"


@dataclass
class Exchange:
    """What the request log says of one request, learnt as it is handled."""

    request_id: str
    service: str
    account: str = UNKNOWN
    access_key: str = UNKNOWN
    region: str = UNKNOWN
    action: str = UNKNOWN
    error: str = ""


class Gateway:
    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def handle(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        seen = Exchange(str(uuid.uuid4()), claimed_service(request) or UNKNOWN)
        response = self._answer(request, seen)
        if requests_log.isEnabledFor(logging.INFO):
            _log(seen, request, response, (time.monotonic() - started) * 1000)
        return response

    def _answer(self, request: HttpRequest, seen: Exchange) -> HttpResponse:
        protocol = protocol_for(seen.service)
        try:
            signed = verify(request, self._secret)
            seen.access_key, seen.region = signed.access_key, signed.region
            if signed.service not in SERVED:
                raise ApiError("InvalidAction", f"The service {signed.service} is not served here")
            found = self.cloud.accounts.by_key(signed.access_key)
            assert found is not None  # verify() succeeded, so the key exists
            seen.account = found[0]
            ctx = Context(self.cloud, found[0], signed.region, seen.request_id)
            return self._act(ctx, signed.service, protocol, request, seen)
        except ApiError as exc:
            seen.error = exc.code
            return protocol.error(exc, seen.request_id)
        except Exception as exc:
            if _interrupted(exc):  # in-process, Ctrl-C landed in a handler: still a Ctrl-C
                raise KeyboardInterrupt from exc
            log.exception("request %s failed", seen.request_id)
            error = ApiError("InternalError", "An internal error has occurred", 500)
            seen.error = error.code
            return protocol.error(error, seen.request_id)

    def _secret(self, access_key: str) -> str | None:
        found = self.cloud.accounts.by_key(access_key)
        return found[1] if found else None

    def _act(
        self,
        ctx: Context,
        service: str,
        protocol: WireProtocol,
        request: HttpRequest,
        seen: Exchange,
    ) -> HttpResponse:
        operation, parsed = protocol.operation(request)
        seen.action = operation.name
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


def _log(seen: Exchange, request: HttpRequest, response: HttpResponse, ms: float) -> None:
    line = (
        f"{seen.account} {seen.region} {seen.service}:{seen.action} {response.status} {ms:.1f} ms"
    )
    if seen.error:
        line += f" {seen.error}"
    if requests_log.isEnabledFor(logging.DEBUG):
        agent = request.headers.get("user-agent", UNKNOWN).split(" ", 1)[0]
        line += f" (request {seen.request_id}, key {seen.access_key}, client {agent})"
    requests_log.info(line)


def _interrupted(exc: BaseException) -> bool:
    """Whether `exc` was raised while a KeyboardInterrupt unwound (a `finally`
    or an `except` that failed on half-done work)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False
