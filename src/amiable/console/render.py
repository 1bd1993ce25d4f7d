"""Rendering pages: the Jinja2 templates (auto-escaping on: every user-supplied
string is shown as text), the values every page has, and one-time notices."""

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from amiable.cloud.core.regions import REGIONS

from .csrf import csrf_token

_environment = Environment(
    loader=PackageLoader("amiable.console", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates = Jinja2Templates(env=_environment)

REGION_NAMES = tuple(name for name, _ in REGIONS)
_NOTICE = "notice"


def page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    """`template` rendered with `context` and what every page shows (who is
    signed in, the region, the CSRF token, a notice left for this page)."""
    values: dict[str, Any] = {
        "visitor": None,
        "region": None,
        "error": None,
        "active": "",
        "refresh": None,
        "regions": REGION_NAMES,
        "notice": request.session.pop(_NOTICE, None),
        "csrf_token": csrf_token(request),
        **context,
    }
    return templates.TemplateResponse(request, template, values, status_code=status)


def notify(
    request: Request, text: str, link: tuple[str, str] | None = None, after: str = ""
) -> None:
    """A one-line notice shown by the next page (e.g. after a redirect): `text`,
    then optionally a link (its URL, its text) and the `after` text."""
    request.session[_NOTICE] = [text, *link, after] if link else text
