"""VPCs: CreateVpc, DeleteVpc, DescribeVpcs, DescribeVpcAttribute,
ModifyVpcAttribute and CreateDefaultVpc.

A VPC is an IPv4 block (/16 to /28) with its own `default` security group;
the default VPC is made on the account's first use (see `rows`). Every VPC
shows the account's default DHCP options (one `dopt-` id per account and
region, as AWS gives each account) and one CIDR block association; IPv6
blocks, IPAM pools and encryption controls are refused.
"""

import hashlib
from ipaddress import IPv4Network
from typing import Any

from sqlalchemy import Connection, exists, select

from amiable.catalog.regional import instances, security_groups, subnets, vpcs
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError, invalid_value
from amiable.cloud.core.filters import field
from amiable.cloud.core.listing import filtered_page, owned_rows
from amiable.cloud.core.tags import apply_specifications, delete_tags_of

from . import rows
from .rows import LIVE, network

PREFIXES = (16, 28)  # the sizes a VPC's or subnet's block may have
_TENANCIES = ("default", "dedicated")
_UNSUPPORTED = (
    "AmazonProvidedIpv6CidrBlock",
    "Ipv6CidrBlock",
    "Ipv6Pool",
    "Ipv4IpamPoolId",
    "Ipv6IpamPoolId",
    "VpcEncryptionControl",
)
# attribute name -> (output member, catalog column or None: always false here)
_ATTRIBUTES = {
    "enableDnsSupport": ("EnableDnsSupport", "dns_support"),
    "enableDnsHostnames": ("EnableDnsHostnames", "dns_hostnames"),
    "enableNetworkAddressUsageMetrics": ("EnableNetworkAddressUsageMetrics", None),
}


def block(value: str, parameter: str, out_of_range: str) -> str:
    """A CIDR block as EC2 takes it: IPv4, /16 to /28, in canonical form
    (100.68.0.18/18 becomes 100.68.0.0/18); `out_of_range` is the error code
    for a size outside those."""
    try:
        network_block = IPv4Network(value, strict=False)
    except ValueError as exc:
        raise ApiError(
            "InvalidParameterValue",
            f"Value ({value}) for parameter {parameter} is invalid. "
            "This is not a valid CIDR block.",
        ) from exc
    low, high = PREFIXES
    if not low <= network_block.prefixlen <= high:
        raise ApiError(out_of_range, f"The CIDR '{value}' is invalid.")
    return str(network_block)


def _derived_id(prefix: str, *parts: str) -> str:
    """A stable id for what amiable does not keep apart (associations, DHCP options)."""
    return f"{prefix}-{hashlib.sha256(':'.join(parts).encode()).hexdigest()[:17]}"


def shown(region_name: str, row: Any, tags: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "VpcId": row.vpc_id,
        "OwnerId": row.owner_id,
        "State": row.state,
        "CidrBlock": row.cidr_block,
        "DhcpOptionsId": _derived_id("dopt", region_name, row.owner_id),
        "InstanceTenancy": row.instance_tenancy,
        "IsDefault": row.is_default,
        "CidrBlockAssociationSet": [
            {
                "AssociationId": _derived_id("vpc-cidr-assoc", row.vpc_id),
                "CidrBlock": row.cidr_block,
                "CidrBlockState": {"State": "associated"},
            }
        ],
        "Ipv6CidrBlockAssociationSet": [],
        "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"},
        "Tags": tags,
    }


def _created(region_name: str, row: Any, tags: list[dict[str, str]]) -> dict[str, Any]:
    """What a create action answers: the VPC still `pending`, as on AWS."""
    return {"Vpc": {**shown(region_name, row, tags), "State": "pending"}}


@action("ec2", "CreateVpc")
def create_vpc(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    for name in _UNSUPPORTED:
        if params.get(name):
            raise invalid_value(name, params[name], "amiable's VPCs have one IPv4 block")
    if "CidrBlock" not in params:
        raise ApiError(
            "MissingParameter", "Either 'cidrBlock' or 'ipv4IpamPoolId' should be provided."
        )
    cidr = block(params["CidrBlock"], "cidrBlock", "InvalidVpc.Range")
    tenancy = params.get("InstanceTenancy", "default")
    if tenancy not in _TENANCIES:
        raise ApiError("InvalidParameterValue", f"The tenancy value {tenancy} is not supported.")
    region = network(ctx)
    with region.catalog.begin() as conn:
        vpc_id = rows.new_vpc(conn, ctx.account_id, cidr, ctx.cloud.clock.now(), tenancy=tenancy)
        tags = apply_specifications(
            conn, params.get("TagSpecifications"), "vpc", vpc_id, ctx.account_id
        )
        row = rows.vpc_of(conn, ctx.account_id, vpc_id)
    return _created(region.name, row, tags)


@action("ec2", "CreateDefaultVpc")
def create_default_vpc(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region = network(ctx)
    with region.catalog.begin() as conn:
        row = rows.create_default_vpc(conn, ctx.account_id, region.name, ctx.cloud.clock.now())
    return _created(region.name, row, [])


def _has_dependencies(conn: Connection, vpc_id: str) -> bool:
    """Subnets, groups besides `default`, or instances that are not terminated."""
    return bool(
        conn.execute(
            select(
                exists().where(subnets.c.vpc_id == vpc_id)
                | exists().where(
                    security_groups.c.vpc_id == vpc_id,
                    security_groups.c.group_name != rows.DEFAULT_GROUP,
                )
                | exists().where(instances.c.vpc_id == vpc_id, LIVE)
            )
        ).scalar()
    )


@action("ec2", "DeleteVpc")
def delete_vpc(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Refused while the VPC has subnets, other groups than `default` or
    instances; the `default` group goes with it."""
    vpc_id = params["VpcId"]
    region = network(ctx)
    with region.catalog.begin() as conn:
        rows.lock(conn, ctx.account_id)
        rows.vpc_of(conn, ctx.account_id, vpc_id)
        if _has_dependencies(conn, vpc_id):
            raise ApiError(
                "DependencyViolation", f"The vpc '{vpc_id}' has dependencies and cannot be deleted."
            )
        rows.remove_group(conn, rows.default_group(conn, vpc_id).group_id)
        conn.execute(vpcs.delete().where(vpcs.c.vpc_id == vpc_id))
        delete_tags_of(conn, vpc_id)
    return {}


def _associations(name: str) -> Any:
    return lambda vpc: [a[name] for a in vpc["CidrBlockAssociationSet"]]


_FILTERS = {
    "vpc-id": field("VpcId"),
    "cidr": field("CidrBlock"),
    "cidr-block-association.cidr-block": _associations("CidrBlock"),
    "cidr-block-association.association-id": _associations("AssociationId"),
    "cidr-block-association.state": lambda vpc: [
        a["CidrBlockState"]["State"] for a in vpc["CidrBlockAssociationSet"]
    ],
    "dhcp-options-id": field("DhcpOptionsId"),
    "instance-tenancy": field("InstanceTenancy"),
    "is-default": field("IsDefault"),
    "owner-id": field("OwnerId"),
    "state": field("State"),
}


@action("ec2", "DescribeVpcs")
def describe_vpcs(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region = network(ctx)
    found, tags = owned_rows(
        region, vpcs, "vpc_id", ctx.account_id, params.get("VpcIds") or [], rows.vpc_not_found
    )
    items = [shown(region.name, row, tags[row.vpc_id]) for row in found]
    chosen, token = filtered_page(items, params, _FILTERS, "VpcId")
    return {"Vpcs": chosen, "NextToken": token}


def _attribute(name: str) -> tuple[str, str | None]:
    if name not in _ATTRIBUTES:
        raise ApiError(
            "InvalidParameterValue",
            f"Value ({name}) for parameter attribute is invalid. Unknown attribute.",
        )
    return _ATTRIBUTES[name]


@action("ec2", "DescribeVpcAttribute")
def describe_vpc_attribute(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    member, column = _attribute(params["Attribute"])
    region = network(ctx)
    with region.catalog.connect() as conn:
        row = rows.vpc_of(conn, ctx.account_id, params["VpcId"])
    value = bool(getattr(row, column)) if column else False
    return {"VpcId": row.vpc_id, member: {"Value": value}}


@action("ec2", "ModifyVpcAttribute")
def modify_vpc_attribute(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """One attribute per call, as on EC2: enableDnsSupport or enableDnsHostnames."""
    asked = [(member, column) for member, column in _ATTRIBUTES.values() if member in params]
    if len(asked) != 1:
        raise ApiError(
            "InvalidParameterCombination",
            "Exactly one of EnableDnsSupport, EnableDnsHostnames or "
            "EnableNetworkAddressUsageMetrics must be given.",
        )
    ((member, column),) = asked
    if column is None:
        raise invalid_value(member, params[member].get("Value"), "not kept by amiable")
    region = network(ctx)
    with region.catalog.begin() as conn:
        rows.vpc_of(conn, ctx.account_id, params["VpcId"])
        conn.execute(
            vpcs.update()
            .where(vpcs.c.vpc_id == params["VpcId"])
            .values({column: bool(params[member].get("Value"))})
        )
    return {}
