"""The CSRF token: one random value per session, put in every form as the
hidden field `csrf_token` and required back on every POST."""

import hmac
import secrets

from starlette.requests import Request

FIELD = "csrf_token"
SESSION_KEY = "csrf"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(request: Request) -> str:
    """The session's token (a fresh session gets one, e.g. for the sign-in form)."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str):
        token = request.session[SESSION_KEY] = new_token()
    return token


async def csrf_valid(request: Request) -> bool:
    """Whether the POSTed form carries the session's token."""
    expected = request.session.get(SESSION_KEY)
    given = (await request.form()).get(FIELD)
    if not isinstance(expected, str) or not isinstance(given, str):
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
