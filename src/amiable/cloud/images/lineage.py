"""Where images come from and what uses them: GetImageAncestry and
DescribeImageReferences.

An image's parent is its `SourceImageId` in `SourceImageRegion` (copies, and
images created from instances). The ancestry follows parents across regions
for as long as the caller can see them; a parent deregistered or not shared
with the caller ends the chain (the last entry still names it). References
are launch template versions naming the image (instances come with issue 5).
"""

import json
from typing import Any

from sqlalchemy import select

from amiable.catalog.regional import launch_template_versions, launch_templates
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.clock import parse_time
from amiable.cloud.core.errors import ApiError, invalid_value
from amiable.cloud.core.home import Region
from amiable.cloud.core.pages import page
from amiable.cloud.core.permissions import Caller, caller_of
from amiable.cloud.instances.launch_templates import template_arn

from .images import check_image_ids, visible_image

MAX_DEPTH = 100  # a chain longer than this is cut (it cannot loop: ids are never reused)
RESOURCE_TYPES = ("ec2:Instance", "ec2:LaunchTemplate")


def ancestry(ctx: Context, caller: Caller, image_id: str, region_name: str) -> list[dict[str, Any]]:
    """The chain from the image to its root, as GetImageAncestry lists it."""
    entries: list[dict[str, Any]] = []
    while image_id and len(entries) < MAX_DEPTH:
        region: Region = ctx.cloud.region(region_name)
        with region.catalog.connect() as conn:
            try:
                row = visible_image(conn, caller, image_id)
            except ApiError:
                if not entries:
                    raise
                break
        image = json.loads(row.document)
        entry = {"ImageId": image_id, "CreationDate": parse_time(image["CreationDate"])}
        if image.get("ImageOwnerAlias"):
            entry["ImageOwnerAlias"] = image["ImageOwnerAlias"]
        if image.get("SourceImageId"):
            entry["SourceImageId"] = image["SourceImageId"]
            entry["SourceImageRegion"] = image.get("SourceImageRegion", region_name)
        entries.append(entry)
        image_id = image.get("SourceImageId", "")
        region_name = image.get("SourceImageRegion", region_name)
    return entries


@action("ec2", "GetImageAncestry")
def get_image_ancestry(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    check_image_ids([params["ImageId"]])
    entries = ancestry(ctx, caller_of(ctx), params["ImageId"], ctx.region)
    return {"ImageAncestryEntries": entries}


def _resource_types(params: dict[str, Any]) -> dict[str, int | None]:
    """Resource type -> launch template version depth (None: every version)."""
    if params.get("IncludeAllResourceTypes"):
        return {"ec2:Instance": None, "ec2:LaunchTemplate": 20}
    wanted = params.get("ResourceTypes")
    if not wanted:
        raise ApiError(
            "MissingParameter", "The request must contain ResourceTypes or IncludeAllResourceTypes"
        )
    chosen: dict[str, int | None] = {}
    for item in wanted:
        kind = item.get("ResourceType")
        if kind not in RESOURCE_TYPES:
            raise invalid_value("ResourceType", kind, "ec2:Instance or ec2:LaunchTemplate")
        depth: int | None = 20 if kind == "ec2:LaunchTemplate" else None
        for option in item.get("ResourceTypeOptions", []):
            if option.get("OptionName") == "version-depth" and option.get("OptionValues"):
                depth = int(option["OptionValues"][0])
        chosen[kind] = depth
    return chosen


@action("ec2", "DescribeImageReferences")
def describe_image_references(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    wanted = params["ImageIds"]
    check_image_ids(wanted)
    kinds = _resource_types(params)
    region: Region = ctx.cloud.region(ctx.region)
    caller = caller_of(ctx)
    references: list[dict[str, Any]] = []
    with region.catalog.connect() as conn:
        for image_id in wanted:
            visible_image(conn, caller, image_id)
        if "ec2:LaunchTemplate" in kinds:
            rows = conn.execute(
                select(
                    launch_template_versions.c.template_id,
                    launch_template_versions.c.version,
                    launch_template_versions.c.image_id,
                    launch_templates.c.latest_version,
                )
                .join(launch_templates)
                .where(
                    launch_templates.c.owner_id == ctx.account_id,
                    launch_template_versions.c.image_id.in_(wanted),
                )
            ).all()
            depth = kinds["ec2:LaunchTemplate"]
            for template_id, version, image_id, latest in rows:
                if depth is None or version > latest - depth:
                    arn = template_arn(region.name, ctx.account_id, template_id)
                    references.append(
                        {"ImageId": image_id, "ResourceType": "ec2:LaunchTemplate", "Arn": arn}
                    )
    unique = {(r["ImageId"], r["Arn"]): r for r in references}
    ordered = [unique[k] for k in sorted(unique)]
    results, token = page(ordered, lambda r: f"{r['ImageId']} {r['Arn']}", params, (1, 1000))
    return {"ImageReferences": results, "NextToken": token}
