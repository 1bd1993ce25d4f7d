"""Who is signed in. The session is a signed cookie (HttpOnly, SameSite=Strict,
path /console) holding the account id, the access key id and the CSRF token,
never a secret; every request checks that the key still belongs to the
account. `signed_in` guards every page and form: signed out, a page
redirects to the sign-in page (303) keeping where it was going; a POST
without the session's CSRF token is refused (403)."""

import functools
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from amiable.cloud.core.home import Cloud

from .csrf import SESSION_KEY, csrf_valid, new_token
from .redirects import HOME
from .render import page

SESSION_COOKIE = "amiable-console"
SESSION_AGE = 12 * 60 * 60  # seconds, as the AWS console's sessions
SIGN_IN = "/console/signin"
_NO_SECRET = "\0" * 40  # compared against when the key is unknown: the same work either way


@dataclass(frozen=True)
class Visitor:
    """The signed-in account, as the session names it."""

    account_id: str
    key_id: str


Page = Callable[[Request, Visitor], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def cloud_of(request: Request) -> Cloud:
    cloud: Cloud = request.app.state.cloud
    return cloud


def account_of(cloud: Cloud, key_id: str, secret: str) -> str | None:
    """The account whose access key this is, if the secret matches."""
    found = cloud.accounts.by_key(key_id)
    expected = found[1] if found else _NO_SECRET
    matches = hmac.compare_digest(expected.encode(), secret.encode())
    return found[0] if found is not None and matches else None


def sign_in(request: Request, account_id: str, key_id: str) -> None:
    """A new session (a new CSRF token) for the account."""
    request.session.clear()
    request.session.update({"account": account_id, "key": key_id, SESSION_KEY: new_token()})


def sign_out(request: Request) -> None:
    request.session.clear()


async def visitor_of(request: Request) -> Visitor | None:
    account, key = request.session.get("account"), request.session.get("key")
    if not isinstance(account, str) or not isinstance(key, str):
        return None
    found = await run_in_threadpool(cloud_of(request).accounts.by_key, key)
    if found is None or found[0] != account:  # the key was deleted since
        return None
    return Visitor(account, key)


def forbidden(request: Request) -> Response:
    return page(request, "error.html", 403, title="Forbidden", message=_STALE_FORM)


_STALE_FORM = "The form is missing its security token or it has expired. Reload the page."


def with_csrf(endpoint: Endpoint) -> Endpoint:
    """POSTs to `endpoint` need the session's CSRF token."""

    @functools.wraps(endpoint)
    async def checked(request: Request) -> Response:
        if request.method == "POST" and not await csrf_valid(request):
            return forbidden(request)
        return await endpoint(request)

    return checked


def signed_in(endpoint: Page) -> Endpoint:
    """`endpoint` for a signed-in visitor only (and POSTs with the CSRF token)."""

    @with_csrf
    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        visitor = await visitor_of(request)
        if visitor is None:
            return to_sign_in(request)
        return await endpoint(request, visitor)

    return guarded


def to_sign_in(request: Request) -> Response:
    going = request.url.path
    if request.url.query:
        going += "?" + request.url.query
    if request.method != "GET":
        going = HOME
    return RedirectResponse(f"{SIGN_IN}?{urlencode({'next': going})}", status_code=303)
