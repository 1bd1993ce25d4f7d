"""The sign-in page (an account's access key id and secret access key) and
signing out. The secret is checked in constant time and never stored: the
session only names the account and the key."""

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .auth import SIGN_IN, Visitor, account_of, cloud_of, sign_in, sign_out, signed_in, with_csrf
from .redirects import safe_next
from .render import page

_REFUSED = "The access key ID or secret access key is not valid."


@with_csrf
async def sign_in_page(request: Request) -> Response:
    going = safe_next(request.query_params.get("next"))
    if request.method == "GET":
        return page(request, "signin.html", title="Sign in", next=going, key_id="")
    form = await request.form()
    key_id, secret = str(form.get("access_key_id", "")), str(form.get("secret_access_key", ""))
    going = safe_next(str(form.get("next", "")))
    account = await run_in_threadpool(account_of, cloud_of(request), key_id, secret)
    if account is None:
        return page(
            request,
            "signin.html",
            401,
            title="Sign in",
            next=going,
            key_id=key_id,
            failure=_REFUSED,
        )
    sign_in(request, account, key_id)
    return RedirectResponse(going, status_code=303)


@signed_in
async def sign_out_page(request: Request, visitor: Visitor) -> Response:
    sign_out(request)
    return RedirectResponse(SIGN_IN, status_code=303)
