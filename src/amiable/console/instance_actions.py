"""The Instance state actions, each a confirmation page that works without
JavaScript (GET shows it, POST does it): Start instance, Stop instance,
Reboot instance and Terminate instance (Start/Stop/Reboot/TerminateInstances)."""

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from amiable.cloud.core.errors import ApiError

from .auth import Endpoint, Visitor, cloud_of, signed_in
from .calls import call
from .instance_views import instance_url, name_of, one_instance
from .regions import region_of
from .render import notify, page


@dataclass(frozen=True)
class StateChange:
    """One Instance state action: its EC2 action and how the console words it."""

    path: str
    action: str
    title: str
    question: str
    done: str
    danger: bool = False


CHANGES = {
    change.path: change
    for change in (
        StateChange(
            "start", "StartInstances", "Start instance",
            "Are you sure that you want to start instance {}?",
            "Successfully initiated starting of {}.",
        ),
        StateChange(
            "stop", "StopInstances", "Stop instance",
            "Are you sure that you want to stop instance {}? Its root volume is kept.",
            "Successfully initiated stopping of {}.",
        ),
        StateChange(
            "reboot", "RebootInstances", "Reboot instance",
            "Are you sure that you want to reboot instance {}?",
            "Successfully initiated reboot of {}.",
        ),
        StateChange(
            "terminate", "TerminateInstances", "Terminate instance",
            "Are you sure that you want to terminate instance {}? Its root volume is deleted"
            " with it; this cannot be undone.",
            "Successfully initiated termination of {}.",
            danger=True,
        ),
    )
}  # fmt: skip


async def _confirm(request: Request, visitor: Visitor, change: StateChange) -> Response:
    """GET: the confirmation page; POST: the action, then the instance's page."""
    region, instance_id = region_of(request), str(request.path_params["instance_id"])
    cloud, error = cloud_of(request), None
    if request.method == "POST":
        try:
            await call(cloud, visitor, region, change.action, {"InstanceIds": [instance_id]})
        except ApiError as exc:
            error = exc
        else:
            notify(request, change.done.format(instance_id))
            return RedirectResponse(instance_url(region, instance_id), status_code=303)
    try:
        instance = await one_instance(cloud, visitor, region, instance_id)
    except ApiError as exc:
        instance, error = None, error or exc
    return page(
        request,
        "instance_confirm.html",
        400 if error else 200,
        title=change.title,
        visitor=visitor,
        region=region,
        instance=instance,
        instance_id=instance_id,
        name=name_of(instance) if instance else "",
        change=change,
        question=change.question.format(instance_id),
        error=error,
    )


def _endpoint(path: str) -> Endpoint:
    change = CHANGES[path]

    @signed_in
    async def confirm(request: Request, visitor: Visitor) -> Response:
        return await _confirm(request, visitor, change)

    confirm.__name__ = f"{path}_instance"
    return confirm


start, stop, reboot, terminate = (_endpoint(p) for p in ("start", "stop", "reboot", "terminate"))
