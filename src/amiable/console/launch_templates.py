"""The Launch templates page: the account's launch templates in the region
(DescribeLaunchTemplates), paged on the server; how a template is shown."""

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from .auth import Visitor, signed_in
from .image_views import NONE
from .list_page import Row, each, list_page
from .list_query import ListQuery
from .regions import region_of
from .shown import when

COLUMNS = (
    ("template_id", "Launch template ID"),
    ("name", "Launch template name"),
    ("default", "Default version"),
    ("latest", "Latest version"),
    ("created", "Create time"),
    ("created_by", "Created by"),
)


def launch_templates_url(region: str) -> str:
    return f"/console/{quote(region)}/launch-templates"


def row_of(template: dict[str, Any]) -> Row:
    """The columns of the Launch templates table, as the EC2 console has them."""
    return {
        "template_id": str(template["LaunchTemplateId"]),
        "name": str(template.get("LaunchTemplateName") or NONE),
        "default": str(template.get("DefaultVersionNumber", NONE)),
        "latest": str(template.get("LatestVersionNumber", NONE)),
        "created": when(template.get("CreateTime")),
        "created_by": str(template.get("CreatedBy") or NONE),
    }


@signed_in
async def launch_templates_page(request: Request, visitor: Visitor) -> Response:
    query = ListQuery.of(request.query_params)
    return await list_page(
        request,
        visitor,
        template="launch_templates.html",
        title="Launch templates",
        action="DescribeLaunchTemplates",
        params=query.page_params(),
        rows=each("LaunchTemplates", row_of),
        query=query,
        list_url=launch_templates_url(region_of(request)),
        columns=COLUMNS,
    )
