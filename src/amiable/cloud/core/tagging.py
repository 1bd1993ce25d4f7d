"""CreateTags, DeleteTags and DescribeTags over every taggable resource.

The resource type follows from the id's prefix; a resource must exist and
belong to the caller, or the whole call fails and nothing is tagged. Whoever
shows tags elsewhere (an instance's metadata) learns of changes through
`on_change`.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, Table, bindparam, select

from amiable.catalog.regional import (
    image_usage_reports,
    images,
    import_tasks,
    instances,
    key_pairs,
    launch_templates,
    security_group_rules,
    security_groups,
    snapshots,
    subnets,
    tags,
    volumes,
    vpcs,
)

from .actions import Context, action
from .errors import ApiError
from .filters import Extractor, field
from .filters import select as filter_items
from .home import Region
from .pages import page
from .permissions import outside_bin
from .tags import put_tags


def _owned(table: Table, column: str) -> Select[Any]:
    """Whether the caller owns the resource: built once per kind."""
    id_column = table.c[column]
    return select(id_column).where(
        id_column == bindparam("id"), table.c.owner_id == bindparam("owner"), outside_bin(table)
    )


def _unexpired(table: Table, column: str) -> Select[Any]:
    """Whether the caller owns the resource and it has not expired (at `now`)."""
    return _owned(table, column).where(table.c.expires > bindparam("now"))


# id prefix -> (resource type, ownership query, not-found error code)
_KINDS: dict[str, tuple[str, Select[Any], str]] = {
    "ami": ("image", _owned(images, "image_id"), "InvalidAMIID.NotFound"),
    "snap": ("snapshot", _owned(snapshots, "snapshot_id"), "InvalidSnapshot.NotFound"),
    "import-snap": ("import-snapshot-task", _owned(import_tasks, "task_id"), "InvalidID"),
    "import-ami": ("import-image-task", _owned(import_tasks, "task_id"), "InvalidID"),
    "vol": ("volume", _owned(volumes, "volume_id"), "InvalidVolume.NotFound"),
    "lt": (
        "launch-template",
        _owned(launch_templates, "template_id"),
        "InvalidLaunchTemplateId.NotFound",
    ),
    "i": ("instance", _owned(instances, "instance_id"), "InvalidInstanceID.NotFound"),
    "key": ("key-pair", _owned(key_pairs, "key_pair_id"), "InvalidKeyPairId.NotFound"),
    "vpc": ("vpc", _owned(vpcs, "vpc_id"), "InvalidVpcID.NotFound"),
    "subnet": ("subnet", _owned(subnets, "subnet_id"), "InvalidSubnetID.NotFound"),
    "sg": ("security-group", _owned(security_groups, "group_id"), "InvalidGroup.NotFound"),
    "sgr": (
        "security-group-rule",
        _owned(security_group_rules, "rule_id"),
        "InvalidSecurityGroupRuleId.NotFound",
    ),
    "amiur": (
        "image-usage-report",
        _unexpired(image_usage_reports, "report_id"),
        "InvalidImageUsageReportId.NotFound",
    ),
}


Listener = Callable[[Region, list[str]], None]
_LISTENERS: dict[str, list[Listener]] = {}


def on_change(resource_type: str, listener: Listener) -> None:
    """Call `listener(region, ids)` after tags of resources of this type changed."""
    _LISTENERS.setdefault(resource_type, []).append(listener)


def _changed(region: Region, changed: dict[str, str]) -> None:
    for resource_type in set(changed.values()):
        ids = [i for i, kind in changed.items() if kind == resource_type]
        for listener in _LISTENERS.get(resource_type, []):
            listener(region, ids)


def _resource_type(conn: Connection, owner: str, resource_id: str, now: datetime) -> str:
    prefix = resource_id.rsplit("-", 1)[0]
    kind = _KINDS.get(prefix)
    if kind is None:
        raise ApiError("InvalidID", f"The ID '{resource_id}' is not valid")
    resource_type, owned, code = kind
    found = conn.execute(owned, {"id": resource_id, "owner": owner, "now": now}).first()
    if found is None:
        raise ApiError(code, f"The ID '{resource_id}' does not exist")
    return resource_type


@action("ec2", "CreateTags")
def create_tags(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    new = {t["Key"]: t.get("Value", "") for t in params["Tags"]}
    now = ctx.cloud.clock.now()
    changed = {}
    with region.catalog.begin() as conn:
        for resource_id in params["Resources"]:
            kind = changed[resource_id] = _resource_type(conn, ctx.account_id, resource_id, now)
            put_tags(conn, resource_id, kind, ctx.account_id, new)
    _changed(region, changed)
    return {}


@action("ec2", "DeleteTags")
def delete_tags(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    now = ctx.cloud.clock.now()
    changed = {}
    with region.catalog.begin() as conn:
        for resource_id in params["Resources"]:
            changed[resource_id] = _resource_type(conn, ctx.account_id, resource_id, now)
            doomed = tags.delete().where(tags.c.resource_id == resource_id)
            listed = params.get("Tags")
            if listed is None:
                conn.execute(doomed)
                continue
            for tag in listed:
                one = doomed.where(tags.c.key == tag["Key"])
                if "Value" in tag:
                    one = one.where(tags.c.value == tag["Value"])
                conn.execute(one)
    _changed(region, changed)
    return {}


_FILTERS = {
    "key": field("Key"),
    "value": field("Value"),
    "resource-id": field("ResourceId"),
    "resource-type": field("ResourceType"),
}


def _value_of(key: str) -> Extractor:
    return lambda item: [item["Value"]] if item["Key"] == key else []


@action("ec2", "DescribeTags")
def describe_tags(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.connect() as conn:
        rows = conn.execute(
            select(tags.c.resource_id, tags.c.resource_type, tags.c.key, tags.c.value)
            .where(tags.c.owner_id == ctx.account_id)
            .order_by(tags.c.resource_id, tags.c.key)
        ).all()
    items = [
        {
            "ResourceId": r.resource_id,
            "ResourceType": r.resource_type,
            "Key": r.key,
            "Value": r.value,
            "Position": f"{r.resource_id}\x00{r.key}",
        }
        for r in rows
    ]
    filters = params.get("Filters") or []
    extractors: dict[str, Extractor] = dict(_FILTERS)
    for name in (f.get("Name", "") for f in filters):
        if name.startswith("tag:"):
            extractors[name] = _value_of(name[4:])
    chosen, token = page(filter_items(items, filters, extractors), "Position", params)
    return {
        "Tags": [{k: v for k, v in i.items() if k != "Position"} for i in chosen],
        "NextToken": token,
    }
