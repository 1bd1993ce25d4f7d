"""A confirmed action on one resource, as the EC2 console asks before it
deletes or recovers something (Delete snapshot, Recover, ...): GET shows what
it will act on and asks; POST calls the action through the API's handler with
the resource's id, then redirects with a notice; an EC2 error comes back on
the same page, in its alert, nothing changed. No JavaScript needed."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Cloud

from .auth import Endpoint, Visitor, cloud_of, signed_in
from .calls import call
from .regions import region_of
from .render import notify, page

Facts = list[tuple[str, str]]  # (label, value), as the page shows them
FactsOf = Callable[[Cloud, Visitor, str, str], Awaitable[Facts]]  # (.., region, id)
Notice = tuple[str, tuple[str, str] | None, str]  # `render.notify`'s text, link, after
Done = Callable[[str, str], tuple[str, Notice]]  # (region, id) -> where to go, what it says


def facts_of(row: dict[str, Any], columns: Sequence[tuple[str, str]]) -> Facts:
    """A list's row as facts: each column's label and value."""
    return [(label, str(row[key])) for key, label in columns]


@dataclass(frozen=True)
class Confirmation:
    """One action on one resource: how the console words it, the EC2 action
    it calls, what the page shows and where it goes after."""

    title: str  # the heading and the button
    question: str  # `{}` is the resource's id
    active: str  # the side-nav entry it belongs to
    path_param: str  # the id's name in the route
    action: str  # the EC2 action, e.g. DeleteSnapshot
    id_param: str  # e.g. SnapshotId
    facts: FactsOf  # ApiError when there is no such resource
    done: Done
    back: Callable[[str], str]  # region -> the list (Cancel)
    danger: bool = True
    heading: str = ""  # when it is not the title ("Stop instance?")
    listed: bool = False  # the id is sent as a list of one (InstanceIds)

    def params(self, resource_id: str) -> dict[str, Any]:
        return {self.id_param: [resource_id] if self.listed else resource_id}


async def _confirm(request: Request, visitor: Visitor, spec: Confirmation) -> Response:
    region, resource_id = region_of(request), str(request.path_params[spec.path_param])
    cloud, error = cloud_of(request), None
    if request.method == "POST":
        try:
            await call(cloud, visitor, region, spec.action, spec.params(resource_id))
        except ApiError as exc:
            error = exc
        else:
            url, (text, link, after) = spec.done(region, resource_id)
            notify(request, text, link, after)
            return RedirectResponse(url, status_code=303)
    try:
        facts = await spec.facts(cloud, visitor, region, resource_id)
    except ApiError as exc:
        facts, error = [], error or exc
    return page(
        request,
        "confirm.html",
        400 if error else 200,
        title=spec.title,
        visitor=visitor,
        region=region,
        active=spec.active,
        spec=spec,
        question=spec.question.format(resource_id),
        facts=facts,
        back=spec.back(region),
        error=error,
    )


def endpoint(spec: Confirmation, name: str) -> Endpoint:
    """The route of `spec`: GET asks, POST acts (with the CSRF token)."""

    @signed_in
    async def confirm(request: Request, visitor: Visitor) -> Response:
        return await _confirm(request, visitor, spec)

    confirm.__name__ = name
    return confirm
