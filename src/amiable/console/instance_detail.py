"""An instance's page: its details, tags and console output (GetConsoleOutput,
decoded from base64 and shown as text), with the instance's Actions."""

from starlette.requests import Request
from starlette.responses import Response

from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Cloud

from .auth import Visitor, cloud_of, signed_in
from .calls import call
from .instance_views import decoded, facts_of, one_instance, tags_of
from .instances import ACTIONS
from .regions import region_of
from .render import page


async def _console_output(
    cloud: Cloud, visitor: Visitor, region: str, instance_id: str
) -> tuple[str, ApiError | None]:
    try:
        found = await call(cloud, visitor, region, "GetConsoleOutput", {"InstanceId": instance_id})
    except ApiError as exc:
        return "", exc
    return decoded(found.get("Output")), None


@signed_in
async def instance_page(request: Request, visitor: Visitor) -> Response:
    region, instance_id = region_of(request), str(request.path_params["instance_id"])
    cloud = cloud_of(request)
    try:
        instance = await one_instance(cloud, visitor, region, instance_id)
    except ApiError as exc:
        return page(
            request,
            "instance.html",
            404,
            title=instance_id,
            visitor=visitor,
            region=region,
            instance=None,
            instance_id=instance_id,
            error=exc,
        )
    output, output_error = await _console_output(cloud, visitor, region, instance_id)
    return page(
        request,
        "instance.html",
        title=instance_id,
        visitor=visitor,
        region=region,
        instance=instance,
        instance_id=instance_id,
        actions=ACTIONS,
        facts=facts_of(instance),
        tags=tags_of(instance),
        output=output,
        output_error=output_error,
    )
