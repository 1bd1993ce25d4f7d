"""The flow every AMI action page shares, so each works without JavaScript:
GET shows the image's form (a confirmation or a dialog), POST does the
action, then redirects where the action says with a notice; an EC2 error
shows the form again, as typed, with the error."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from amiable.cloud.core.errors import ApiError

from .auth import Visitor, cloud_of
from .image_views import one_image
from .regions import region_of
from .render import notify, page


@dataclass(frozen=True)
class Done:
    """What an action did: the notice, where to go next, and optionally a link
    in the notice (its URL, its text) followed by `after`."""

    notice: str
    url: str
    link: tuple[str, str] | None = None
    after: str = ""


Act = Callable[[str, FormData], Awaitable[Done]]  # (image id, form) -> what it did
Extra = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]  # image -> more for its page


async def _nothing(image: dict[str, Any]) -> dict[str, Any]:
    return {}


async def image_form(
    request: Request, visitor: Visitor, template: str, act: Act, extra: Extra = _nothing
) -> Response:
    """GET: `template` for the image in the URL; POST: `act`, then its URL."""
    region, image_id = region_of(request), str(request.path_params["image_id"])
    error: ApiError | None = None
    typed: FormData | None = None
    if request.method == "POST":
        typed = await request.form()
        try:
            done = await act(image_id, typed)
        except ApiError as exc:
            error = exc
        else:
            notify(request, done.notice, done.link, done.after)
            return RedirectResponse(done.url, status_code=303)
    image: dict[str, Any] | None = None
    more: dict[str, Any] = {}
    try:
        image = await one_image(cloud_of(request), visitor, region, image_id)
        more = await extra(image)
    except ApiError as exc:
        image, error = None, error or exc
    return page(
        request,
        template,
        400 if error else 200,
        title=image_id,
        visitor=visitor,
        region=region,
        image=image,
        image_id=image_id,
        error=error,
        typed=typed,
        today=datetime.now(UTC).strftime("%Y-%m-%d"),
        **more,
    )
