"""Run command (Systems Manager): an instance's form (Commands, Working
directory, Execution timeout) sends AWS-RunShellScript with SendCommand; the
command's page shows its status and, once it is done, its output and errors
(GetCommandInvocation), reloading itself while the command runs."""

import re
from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from amiable.cloud.core.errors import ApiError

from .auth import Visitor, cloud_of, signed_in
from .calls import call
from .instance_views import instance_url, one_instance
from .regions import region_of
from .render import page

DOCUMENT = "AWS-RunShellScript"
RUNNING = {"Pending", "InProgress", "Delayed"}
REFRESH_SECONDS = 2
COMMAND_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def command_url(region: str, instance_id: str, command_id: str) -> str:
    return f"{instance_url(region, instance_id)}/commands/{quote(command_id)}"


def _send_params(instance_id: str, form: dict[str, str]) -> dict[str, Any]:
    # a browser sends a textarea's lines with CRLF
    commands = form["commands"].replace("\r\n", "\n").strip("\n")
    parameters = {"commands": commands.split("\n") if commands else []}
    if form["workdir"]:
        parameters["workingDirectory"] = [form["workdir"]]
    if form["timeout"]:
        parameters["executionTimeout"] = [form["timeout"]]
    return {"DocumentName": DOCUMENT, "InstanceIds": [instance_id], "Parameters": parameters}


@signed_in
async def run_command(request: Request, visitor: Visitor) -> Response:
    """GET: the form; POST: SendCommand, then the command's page."""
    region, instance_id = region_of(request), str(request.path_params["instance_id"])
    cloud, error = cloud_of(request), None
    typed = {"commands": "", "workdir": "", "timeout": ""}
    if request.method == "POST":
        form = await request.form()
        typed = {name: str(form.get(name, "")) for name in typed}
        try:
            params = _send_params(instance_id, typed)
            sent = await call(cloud, visitor, region, "SendCommand", params, service="ssm")
        except ApiError as exc:
            error = exc
        else:
            url = command_url(region, instance_id, sent["Command"]["CommandId"])
            return RedirectResponse(url, status_code=303)
    try:
        instance = await one_instance(cloud, visitor, region, instance_id)
    except ApiError as exc:
        instance, error = None, error or exc
    return page(
        request,
        "run_command.html",
        400 if error else 200,
        title=f"Run command on {instance_id}",
        visitor=visitor,
        region=region,
        instance=instance,
        instance_id=instance_id,
        typed=typed,
        error=error,
    )


@signed_in
async def command_page(request: Request, visitor: Visitor) -> Response:
    region, instance_id = region_of(request), str(request.path_params["instance_id"])
    command_id = str(request.path_params["command_id"])
    if not COMMAND_ID.match(command_id):
        raise HTTPException(404, f"No command {command_id}")
    params = {"CommandId": command_id, "InstanceId": instance_id}
    found: dict[str, Any] | None = None
    error: ApiError | None = None
    try:
        found = await call(
            cloud_of(request), visitor, region, "GetCommandInvocation", params, service="ssm"
        )
    except ApiError as exc:
        error = exc
    running = found is not None and found["Status"] in RUNNING
    return page(
        request,
        "command.html",
        404 if error else 200,
        title=f"Command {command_id}",
        visitor=visitor,
        region=region,
        instance_id=instance_id,
        command_id=command_id,
        invocation=found,
        running=running,
        refresh=REFRESH_SECONDS if running else None,
        error=error,
    )
