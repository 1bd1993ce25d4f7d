"""The Instances page: the account's instances in the region (DescribeInstances)
and the Actions of a selected instance (Instance state, Image and templates)."""

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from amiable.cloud.core.errors import ApiError

from .auth import Visitor, cloud_of, signed_in
from .calls import call
from .instance_views import INSTANCE_ID, instances_in, instances_url, row_of
from .regions import region_of
from .render import notify, page

ACTIONS = ("start", "stop", "reboot", "terminate", "create-image")


@signed_in
async def instances_page(request: Request, visitor: Visitor) -> Response:
    region = region_of(request)
    error: ApiError | None = None
    try:
        found = await call(cloud_of(request), visitor, region, "DescribeInstances", {})
    except ApiError as exc:
        found, error = {}, exc
    return page(
        request,
        "instances.html",
        400 if error else 200,
        title="Instances",
        visitor=visitor,
        region=region,
        rows=[row_of(instance) for instance in instances_in(found)],
        error=error,
    )


@signed_in
async def instance_action(request: Request, visitor: Visitor) -> Response:
    """The Actions buttons of the Instances table: the chosen action's page for
    the selected instance."""
    region = region_of(request)
    instance_id = request.query_params.get("instance_id", "")
    chosen = request.query_params.get("action", "")
    if not INSTANCE_ID.match(instance_id) or chosen not in ACTIONS:
        notify(request, "Select an instance first.")
        return RedirectResponse(instances_url(region), status_code=303)
    target = f"{instances_url(region)}/{quote(instance_id)}/{chosen}"
    return RedirectResponse(target, status_code=303)
