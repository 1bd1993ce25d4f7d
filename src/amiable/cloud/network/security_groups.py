"""Security groups: CreateSecurityGroup, DeleteSecurityGroup,
DescribeSecurityGroups, and `launch_groups`, the groups RunInstances gives an
instance. Their rules are in `security_group_rules`.

A group belongs to one VPC (the default VPC when CreateSecurityGroup names
none); its name is unique in the VPC, whatever its case. A new group lets
all traffic out to anywhere and none in; every VPC has a `default` group that
cannot be deleted. A group cannot be deleted while an instance that is not
terminated has it, or while another group's rule names it.
"""

import re
from typing import Any

from sqlalchemy import Connection, Row, exists, func, select

from amiable.catalog.regional import instance_groups, instances, security_group_rules
from amiable.catalog.regional import security_groups as groups
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError, missing_parameter
from amiable.cloud.core.filters import Extractor, field
from amiable.cloud.core.ids import well_formed
from amiable.cloud.core.listing import filtered_page
from amiable.cloud.core.tags import apply_specifications, tags_of

from . import rows
from .rows import LIVE, network
from .security_group_rules import Rule, permissions, rule_rows

MAX_PER_INTERFACE = 5  # groups an instance's network interface may have, as on AWS
_TEXT = re.compile(r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{1,255}")


def arn(region_name: str, owner: str, group_id: str) -> str:
    return f"arn:aws:ec2:{region_name}:{owner}:security-group/{group_id}"


def _check_text(parameter: str, value: str) -> None:
    if not value:
        raise missing_parameter(parameter)
    if not _TEXT.fullmatch(value):
        raise ApiError(
            "InvalidParameterValue",
            f"Value ({value}) for parameter {parameter} is invalid. Valid values are 1 to 255 "
            "characters of a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*",
        )


def _check_name(name: str) -> None:
    _check_text("GroupName", name)
    if name.startswith("sg-"):
        raise ApiError(
            "InvalidParameterValue",
            f"Value ({name}) for parameter GroupName is invalid. "
            "Group names may not be in the format sg-*.",
        )
    if name == rows.DEFAULT_GROUP:
        raise ApiError("InvalidGroup.Reserved", "The security group 'default' is reserved")


def _vpc_for(conn: Connection, owner: str, vpc_id: str | None) -> Row[Any]:
    if vpc_id:
        return rows.vpc_of(conn, owner, vpc_id)
    vpc = rows.default_vpc(conn, owner)
    if vpc is None:
        raise rows.no_default_vpc()
    return vpc


@action("ec2", "CreateSecurityGroup")
def create_security_group(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name, description = params["GroupName"], params["Description"]
    _check_name(name)
    _check_text("GroupDescription", description)
    region = network(ctx)
    with region.catalog.begin() as conn:
        rows.lock(conn, ctx.account_id)  # names are checked one at a time
        vpc = _vpc_for(conn, ctx.account_id, params.get("VpcId"))
        taken = conn.execute(
            select(
                exists().where(
                    groups.c.vpc_id == vpc.vpc_id, func.lower(groups.c.group_name) == name.lower()
                )
            )
        ).scalar()
        if taken:
            raise ApiError(
                "InvalidGroup.Duplicate",
                f"The security group '{name}' already exists for VPC '{vpc.vpc_id}'",
            )
        group_id = rows.new_group(conn, ctx.account_id, vpc.vpc_id, name, description)
        tags = apply_specifications(
            conn, params.get("TagSpecifications"), "security-group", group_id, ctx.account_id
        )
    return {
        "GroupId": group_id,
        "Tags": tags,
        "SecurityGroupArn": arn(region.name, ctx.account_id, group_id),
    }


def _in_use(conn: Connection, group_id: str) -> bool:
    """An instance that is not terminated has it, or another group's rule names it."""
    member = (
        select(instance_groups.c.instance_id)
        .join(instances, instances.c.instance_id == instance_groups.c.instance_id)
        .where(instance_groups.c.group_id == group_id, LIVE)
    )
    named = select(security_group_rules.c.rule_id).where(
        security_group_rules.c.referenced_group_id == group_id,
        security_group_rules.c.group_id != group_id,
    )
    return bool(conn.execute(select(exists(member) | exists(named))).scalar())


@action("ec2", "DeleteSecurityGroup")
def delete_security_group(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region = network(ctx)
    with region.catalog.begin() as conn:
        rows.lock(conn, ctx.account_id)
        group = rows.target_group(conn, ctx.account_id, params)
        if group.group_name == rows.DEFAULT_GROUP:
            raise ApiError(
                "CannotDelete",
                f'the specified group: "{group.group_id}" name: "default" cannot be deleted by a '
                "user",
            )
        if _in_use(conn, group.group_id):
            raise ApiError(
                "DependencyViolation", f"resource {group.group_id} has a dependent object"
            )
        rows.remove_group(conn, group.group_id)
    return {"Return": True, "GroupId": group.group_id}


def _shown(
    region_name: str, row: Any, rules: list[Any], tags: list[dict[str, str]]
) -> dict[str, Any]:
    def direction(egress: bool) -> list[dict[str, Any]]:
        return permissions([Rule.of(r) for r in rules if r.egress == egress], row.owner_id)

    return {
        "GroupId": row.group_id,
        "GroupName": row.group_name,
        "Description": row.description,
        "VpcId": row.vpc_id,
        "OwnerId": row.owner_id,
        "SecurityGroupArn": arn(region_name, row.owner_id, row.group_id),
        "IpPermissions": direction(False),
        "IpPermissionsEgress": direction(True),
        "Tags": tags,
    }


def _check_ids(ids: list[str]) -> None:
    for group_id in ids:
        if not well_formed("sg", group_id):
            raise ApiError(
                "InvalidGroupId.Malformed", f'Invalid id: "{group_id}" (expecting "sg-...")'
            )


def _asked(conn: Connection, owner: str, ids: list[str], names: list[str]) -> list[Row[Any]]:
    """The owner's groups (those asked by id or by name in the default VPC), by id."""
    query = select(groups).where(groups.c.owner_id == owner)
    if ids or names:
        named = [rows.group_named(conn, owner, name).group_id for name in names]
        query = query.where(groups.c.group_id.in_([*ids, *named]))
    found = list(conn.execute(query.order_by(groups.c.group_id)))
    missing = sorted(set(ids) - {row.group_id for row in found})
    if missing:
        raise rows.group_not_found(missing)
    return found


def _in_rules(key: str, values: Extractor) -> Extractor:
    """A filter over the values of one direction's permissions."""
    return lambda group: [value for p in group[key] for value in values(p)]


_PERMISSION_FILTERS: dict[str, Extractor] = {
    "protocol": lambda p: [p["IpProtocol"]],
    "from-port": lambda p: [str(p["FromPort"])] if "FromPort" in p else [],
    "to-port": lambda p: [str(p["ToPort"])] if "ToPort" in p else [],
    "cidr": lambda p: [r["CidrIp"] for r in p["IpRanges"]],
    "ipv6-cidr": lambda p: [r["CidrIpv6"] for r in p["Ipv6Ranges"]],
    "group-id": lambda p: [pair["GroupId"] for pair in p["UserIdGroupPairs"]],
    "user-id": lambda p: [pair["UserId"] for pair in p["UserIdGroupPairs"]],
    "prefix-list-id": lambda p: [x["PrefixListId"] for x in p["PrefixListIds"]],
}
_FILTERS: dict[str, Extractor] = {
    "group-id": field("GroupId"),
    "group-name": field("GroupName"),
    "description": field("Description"),
    "vpc-id": field("VpcId"),
    "owner-id": field("OwnerId"),
    **{f"ip-permission.{n}": _in_rules("IpPermissions", f) for n, f in _PERMISSION_FILTERS.items()},
    **{
        f"egress.ip-permission.{n}": _in_rules("IpPermissionsEgress", f)
        for n, f in _PERMISSION_FILTERS.items()
    },
}


@action("ec2", "DescribeSecurityGroups")
def describe_security_groups(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Groups by id, or by name in the default VPC; their rules grouped as EC2
    groups them: one permission per protocol and port range."""
    ids, names = params.get("GroupIds") or [], params.get("GroupNames") or []
    _check_ids(ids)
    region = network(ctx)
    with region.catalog.connect() as conn:
        found = _asked(conn, ctx.account_id, ids, names)
        group_ids = [row.group_id for row in found]
        rules = rule_rows(conn, group_ids)
        tags = tags_of(conn, group_ids)
    items = [
        _shown(
            region.name, row, [r for r in rules if r.group_id == row.group_id], tags[row.group_id]
        )
        for row in found
    ]
    chosen, token = filtered_page(items, params, _FILTERS, "GroupId")
    return {"SecurityGroups": chosen, "NextToken": token}


def launch_groups(
    conn: Connection,
    account_id: str,
    vpc_id: str,
    group_ids: list[str],
    group_names: list[str],
    *,
    subnet_id: str | None = None,
) -> list[Row[Any]]:
    """The groups RunInstances gives an instance launched into `vpc_id`: those
    asked by id (each the caller's, in that VPC) and by name (only in the
    default VPC, as on EC2), or the VPC's `default` group when none is asked;
    at most five. `subnet_id`, the subnet launched into, names it in the error
    for a group of another VPC, as EC2's does."""
    if group_names and not rows.vpc_of(conn, account_id, vpc_id).is_default:
        raise ApiError(
            "InvalidParameterCombination",
            "The parameter groupName cannot be used with the parameter subnet",
        )
    _check_ids(group_ids)
    chosen = [rows.group_of(conn, account_id, group_id) for group_id in group_ids]
    chosen += [rows.group_named(conn, account_id, name) for name in group_names]
    chosen = list({row.group_id: row for row in chosen}.values())
    place = f"subnet {subnet_id}" if subnet_id else f"VPC {vpc_id}"
    for row in chosen:
        if row.vpc_id != vpc_id:
            raise ApiError(
                "InvalidParameter",
                f"Security group {row.group_id} and {place} belong to different networks.",
            )
    if len(chosen) > MAX_PER_INTERFACE:
        raise ApiError(
            "SecurityGroupsPerInterfaceLimitExceeded",
            f"The maximum number of security groups per interface ({MAX_PER_INTERFACE}) has "
            "been reached.",
        )
    return chosen or [rows.default_group(conn, vpc_id)]
