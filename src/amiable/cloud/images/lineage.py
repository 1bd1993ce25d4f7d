"""Where images come from and what uses them: GetImageAncestry and
DescribeImageReferences.

An image's parent is its `SourceImageId` in `SourceImageRegion` (copies, and
images created from instances). The ancestry follows parents across regions
for as long as the caller can see them; a parent deregistered or not shared
with the caller ends the chain (the last entry still names it).

References are the caller's own resources in the region that name an image:
instances launched from it (`ec2:Instance`, in the states the `state-name`
option lists, all by default; terminated ones for as long as
DescribeInstances lists them), launch templates naming it in one of their
newest versions (`ec2:LaunchTemplate`, `version-depth` of them, 10 by
default), and String parameters whose latest value is its id
(`ssm:Parameter`, data type `text` or `aws:ec2:image`). amiable has no
Image Builder, so its recipe types are accepted and never reference
anything. `IncludeAllResourceTypes` checks every type with its defaults; a
type also listed in `ResourceTypes` takes the options given there.
"""

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, select

from amiable.catalog.regional import (
    instances,
    launch_template_versions,
    launch_templates,
    ssm_parameter_versions,
)
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.clock import parse_time
from amiable.cloud.core.errors import ApiError, invalid_value
from amiable.cloud.core.home import Region
from amiable.cloud.core.pages import page
from amiable.cloud.core.permissions import Caller, caller_of
from amiable.cloud.instances import hosting
from amiable.cloud.instances.instances import TERMINATED_VISIBLE
from amiable.cloud.instances.launch_templates import template_arn
from amiable.cloud.ssm import records
from amiable.cloud.ssm.naming import parameter_arn

from .images import check_image_ids, visible_image, visible_images

MAX_DEPTH = 100  # a chain longer than this is cut (it cannot loop: ids are never reused)
INSTANCE_STATES = ("pending", "running", "shutting-down", "terminated", "stopping", "stopped")
DEFAULT_VERSION_DEPTH = 10  # DescribeImageReferences' (usage reports default to 20)
MAX_VERSION_DEPTH = 10000
PARAMETER_DATA_TYPES = ("text", "aws:ec2:image")
# resource type -> (its option's name, the option's default); recipes take none
_DEFAULTS: dict[str, tuple[str | None, Any]] = {
    "ec2:Instance": ("state-name", INSTANCE_STATES),
    "ec2:LaunchTemplate": ("version-depth", DEFAULT_VERSION_DEPTH),
    "ssm:Parameter": (None, None),
    "imagebuilder:ImageRecipe": (None, None),
    "imagebuilder:ContainerRecipe": (None, None),
}
RESOURCE_TYPES = tuple(_DEFAULTS)


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


def version_depth(values: list[str]) -> int:
    """A `version-depth` option's one value: a whole number of versions, 1 to 10000."""
    text = values[0] if len(values) == 1 else ",".join(values)
    if not (len(values) == 1 and text.isdigit() and 1 <= int(text) <= MAX_VERSION_DEPTH):
        raise invalid_value("version-depth", text, f"an integer from 1 to {MAX_VERSION_DEPTH}")
    return int(text)


def _states(values: list[str]) -> tuple[str, ...]:
    for value in values or [""]:
        if value not in INSTANCE_STATES:
            raise invalid_value("state-name", value, " | ".join(INSTANCE_STATES))
    return tuple(values)


def _option(kind: str, options: list[dict[str, Any]]) -> Any:
    """What a resource type's `ResourceTypeOptions` ask (its default without any)."""
    name, chosen = _DEFAULTS[kind]
    for option in options:
        given = option.get("OptionName")
        if given != name:
            why = f"{kind} takes the option {name}" if name else f"{kind} takes no options"
            raise invalid_value("OptionName", given, why)
        values = list(option.get("OptionValues") or [])
        chosen = _states(values) if name == "state-name" else version_depth(values)
    return chosen


def _resource_types(params: dict[str, Any]) -> dict[str, Any]:
    """Resource type -> its option: instance states, launch template version depth, or None."""
    everything = bool(params.get("IncludeAllResourceTypes"))
    wanted = params.get("ResourceTypes") or []
    if not everything and not wanted:
        raise ApiError(
            "MissingParameter", "The request must contain ResourceTypes or IncludeAllResourceTypes"
        )
    chosen = {kind: default for kind, (_, default) in _DEFAULTS.items()} if everything else {}
    for item in wanted:
        kind = item.get("ResourceType")
        if kind not in _DEFAULTS:
            raise invalid_value("ResourceType", kind, " | ".join(RESOURCE_TYPES))
        chosen[kind] = _option(kind, item.get("ResourceTypeOptions") or [])
    return chosen


def template_references(
    conn: Connection, image_ids: list[str], depth: int, owners: ColumnElement[bool]
) -> list[tuple[str, str, str]]:
    """(owner, template id, image id) of the launch templates of `owners` that
    name an image in one of their `depth` newest versions, once per template
    and image."""
    versions = launch_template_versions
    using = select(versions.c.template_id).where(versions.c.image_id.in_(image_ids))
    rows = conn.execute(
        select(launch_templates.c.owner_id, versions.c.template_id, versions.c.image_id)
        .join(launch_templates)
        .where(owners, versions.c.template_id.in_(using))
        .order_by(versions.c.template_id, versions.c.version.desc())
    ).all()
    found: set[tuple[str, str, str]] = set()
    newer: dict[str, int] = {}
    for owner, template_id, image_id in rows:
        newer[template_id] = rank = newer.get(template_id, 0) + 1
        if rank <= depth and image_id in image_ids:
            found.add((owner, template_id, image_id))
    return sorted(found)


Found = list[dict[str, str]]


def _reference(image_id: str, kind: str, arn: str) -> dict[str, str]:
    return {"ImageId": image_id, "ResourceType": kind, "Arn": arn}


def _launch_templates(ctx: Context, region: Region, wanted: list[str], depth: int) -> Found:
    with region.catalog.connect() as conn:
        found = template_references(
            conn, wanted, depth, launch_templates.c.owner_id == ctx.account_id
        )
    return [
        _reference(image_id, "ec2:LaunchTemplate", template_arn(region.name, owner, template_id))
        for owner, template_id, image_id in found
    ]


def _listed(row: Any, now: datetime) -> bool:
    """Whether DescribeInstances still lists the instance (terminated ones for an hour)."""
    return row.state != "terminated" or row.ended is None or now - row.ended < TERMINATED_VISIBLE


def _instances(ctx: Context, region: Region, wanted: list[str], states: tuple[str, ...]) -> Found:
    with region.catalog.connect() as conn:
        rows = conn.execute(
            select(instances).where(
                instances.c.owner_id == ctx.account_id, instances.c.image_id.in_(wanted)
            )
        ).all()
    now = ctx.cloud.clock.now()
    shown = [hosting.reconcile(region, row) for row in rows]  # as DescribeInstances shows them
    return [
        _reference(
            row.image_id,
            "ec2:Instance",
            f"arn:aws:ec2:{region.name}:{row.owner_id}:instance/{row.instance_id}",
        )
        for row in shown
        if row.state in states and _listed(row, now)
    ]


def _parameters(ctx: Context, region: Region, wanted: list[str], _option: None) -> Found:
    versions = ssm_parameter_versions
    with region.catalog.connect() as conn:
        rows = conn.execute(
            records.of_latest(versions.c.name, versions.c.value).where(
                versions.c.account_id == ctx.account_id,
                versions.c.type == "String",
                versions.c.data_type.in_(PARAMETER_DATA_TYPES),
                versions.c.value.in_(wanted),
            )
        ).all()
    return [
        _reference(value, "ssm:Parameter", parameter_arn(region.name, ctx.account_id, name))
        for name, value in rows
    ]


_FINDERS: dict[str, Callable[[Context, Region, list[str], Any], Found]] = {
    "ec2:Instance": _instances,
    "ec2:LaunchTemplate": _launch_templates,
    "ssm:Parameter": _parameters,
}


@action("ec2", "DescribeImageReferences")
def describe_image_references(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    wanted = params["ImageIds"]
    check_image_ids(wanted)
    kinds = _resource_types(params)
    region: Region = ctx.cloud.region(ctx.region)
    caller = caller_of(ctx)
    with region.catalog.connect() as conn:
        visible_images(conn, caller, wanted)
    references = [
        reference
        for kind, option in kinds.items()
        if kind in _FINDERS
        for reference in _FINDERS[kind](ctx, region, wanted, option)
    ]
    unique = {(r["ImageId"], r["Arn"]): r for r in references}
    ordered = [unique[k] for k in sorted(unique)]
    results, token = page(ordered, lambda r: f"{r['ImageId']} {r['Arn']}", params, (1, 1000))
    return {"ImageReferences": results, "NextToken": token}
