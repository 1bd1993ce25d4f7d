"""Calling the API's handlers as the signed-in account: the same code, checks
and EC2 errors as a boto3 call, in a worker thread (handlers are synchronous).
Each call is logged on `amiable.requests` as the gateway logs a request
(who, where, what, outcome, time; never a parameter)."""

import logging
import time
import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool

from amiable.cloud.core.actions import Context, handler_for
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Cloud

from .auth import Visitor

log = logging.getLogger(__name__)
requests_log = logging.getLogger("amiable.requests")


async def call(
    cloud: Cloud,
    visitor: Visitor,
    region: str,
    action: str,
    params: dict[str, Any],
    service: str = "ec2",
) -> dict[str, Any]:
    """What `service:action` answers the visitor in `region`; ApiError as the API
    would answer it (an unexpected failure is EC2's InternalError, logged)."""
    handler = handler_for(service, action)
    if handler is None:
        raise ApiError("Unsupported", f"The action {action} is not supported by amiable yet.")
    ctx = Context(cloud, visitor.account_id, region, str(uuid.uuid4()))
    started, outcome = time.monotonic(), "200"
    try:
        return await run_in_threadpool(handler, ctx, params)
    except ApiError as exc:
        outcome = f"{exc.status} {exc.code}"
        raise
    except Exception:
        log.exception("console request %s failed", ctx.request_id)
        outcome = "500 InternalError"
        raise ApiError("InternalError", "An internal error has occurred", 500) from None
    finally:
        ms = (time.monotonic() - started) * 1000
        requests_log.info(
            "%s %s %s:%s %s %.1f ms (console)",
            visitor.account_id,
            region,
            service,
            action,
            outcome,
            ms,
        )
