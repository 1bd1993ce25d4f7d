"""A launch template's page: its details (DescribeLaunchTemplates) and its
versions (DescribeLaunchTemplateVersions, paged on the server): version
number, description, AMI ID (linked to the image's page), instance type."""

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from amiable.cloud.core.errors import ApiError

from .auth import Visitor, cloud_of, signed_in
from .calls import call
from .confirm import facts_of
from .image_views import IMAGE_ID, NONE
from .launch_templates import COLUMNS, launch_templates_url, row_of
from .list_page import Row, each, list_page
from .list_query import ListQuery
from .regions import region_of
from .render import page
from .shown import when

VERSION_COLUMNS = (
    ("version", "Version"),
    ("description", "Version description"),
    ("image_id", "AMI ID"),
    ("instance_type", "Instance type"),
    ("created", "Create time"),
)


def version_row(version: dict[str, Any]) -> Row:
    """A version's columns; `image_link`: whether its AMI ID is an image's (not
    a `resolve:ssm:` parameter) and so has a page."""
    data = version.get("LaunchTemplateData") or {}
    number = str(version.get("VersionNumber", NONE))
    image_id = str(data.get("ImageId") or NONE)
    return {
        "version": f"{number} (Default)" if version.get("DefaultVersion") else number,
        "description": str(version.get("VersionDescription") or NONE),
        "image_id": image_id,
        "image_link": IMAGE_ID.match(image_id) is not None,
        "instance_type": str(data.get("InstanceType") or NONE),
        "created": when(version.get("CreateTime")),
    }


@signed_in
async def launch_template_page(request: Request, visitor: Visitor) -> Response:
    region, template_id = region_of(request), str(request.path_params["template_id"])
    params: dict[str, Any] = {"LaunchTemplateIds": [template_id]}
    try:
        found = await call(cloud_of(request), visitor, region, "DescribeLaunchTemplates", params)
    except ApiError as exc:
        return page(
            request,
            "launch_template.html",
            404,
            title=template_id,
            visitor=visitor,
            region=region,
            launch_template=None,
            template_id=template_id,
            error=exc,
        )
    template = row_of(found["LaunchTemplates"][0])
    query = ListQuery.of(request.query_params)
    return await list_page(
        request,
        visitor,
        template="launch_template.html",
        title=template["name"],
        action="DescribeLaunchTemplateVersions",
        params={"LaunchTemplateId": template_id, **query.page_params()},
        rows=each("LaunchTemplateVersions", version_row),
        query=query,
        list_url=f"{launch_templates_url(region)}/{quote(template_id)}",
        template_id=template_id,
        launch_template=template,
        facts=facts_of(template, COLUMNS),
        columns=VERSION_COLUMNS,
    )
