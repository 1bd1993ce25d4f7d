"""Subnets: CreateSubnet, DeleteSubnet, DescribeSubnets, ModifySubnetAttribute,
and `launch_subnet`, the subnet RunInstances launches into.

A subnet is a block of its VPC's (/16 to /28) that overlaps no other subnet
of the VPC, in one availability zone; AvailableIpAddressCount is its size
less AWS's five reserved addresses and those instances hold. Subnets are
IPv4 only; of their attributes only MapPublicIpOnLaunch can change (and it
changes nothing here: instances get no public address on this host).
"""

from datetime import datetime
from ipaddress import IPv4Network
from typing import Any

from sqlalchemy import Connection, Row, exists, func, select

from amiable.catalog.regional import instances, subnets
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError, invalid_value, missing_parameter
from amiable.cloud.core.filters import Extractor, field
from amiable.cloud.core.listing import filtered_page, owned_rows
from amiable.cloud.core.tags import apply_specifications, delete_tags_of

from . import rows
from .addresses import in_use_counts, usable
from .rows import LIVE, network
from .vpcs import block

# ModifySubnetAttribute members amiable does not keep, and the value they always have
_FIXED: dict[str, Any] = {
    "AssignIpv6AddressOnCreation": False,
    "MapCustomerOwnedIpOnLaunch": False,
    "EnableDns64": False,
    "EnableResourceNameDnsARecordOnLaunch": False,
    "EnableResourceNameDnsAAAARecordOnLaunch": False,
    "PrivateDnsHostnameTypeOnLaunch": "ip-name",
}


def shown(region_name: str, row: Any, tags: list[dict[str, str]], used: int) -> dict[str, Any]:
    return {
        "SubnetId": row.subnet_id,
        "SubnetArn": f"arn:aws:ec2:{region_name}:{row.owner_id}:subnet/{row.subnet_id}",
        "VpcId": row.vpc_id,
        "OwnerId": row.owner_id,
        "State": row.state,
        "CidrBlock": row.cidr_block,
        "AvailableIpAddressCount": usable(row.cidr_block) - used,
        "AvailabilityZone": row.zone,
        "AvailabilityZoneId": rows.zones(region_name)[row.zone],
        "DefaultForAz": row.default_for_az,
        "MapPublicIpOnLaunch": row.map_public_ip,
        "MapCustomerOwnedIpOnLaunch": False,
        "AssignIpv6AddressOnCreation": False,
        "Ipv6CidrBlockAssociationSet": [],
        "Ipv6Native": False,
        "EnableDns64": False,
        "PrivateDnsNameOptionsOnLaunch": {
            "HostnameType": "ip-name",
            "EnableResourceNameDnsARecord": False,
            "EnableResourceNameDnsAAAARecord": False,
        },
        "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"},
        "Tags": tags,
    }


def _zone(conn: Connection, region_name: str, vpc_id: str, params: dict[str, Any]) -> str:
    """The zone asked by name or id; else, as AWS picks one, the zone with the
    fewest subnets of the VPC."""
    zones = rows.zones(region_name)
    name, zone_id = params.get("AvailabilityZone"), params.get("AvailabilityZoneId")
    if name is not None and zone_id is not None:
        raise ApiError(
            "InvalidParameterCombination",
            "Only one of AvailabilityZone and AvailabilityZoneId may be given.",
        )
    if name is not None:
        return _known(name, "availabilityZone", list(zones))
    if zone_id is not None:
        by_id = {v: k for k, v in zones.items()}
        return by_id[_known(zone_id, "availabilityZoneId", list(by_id))]
    counts: dict[str, int] = dict(
        conn.execute(
            select(subnets.c.zone, func.count())
            .where(subnets.c.vpc_id == vpc_id)
            .group_by(subnets.c.zone)
        ).all()
    )
    return min(zones, key=lambda zone: (counts.get(zone, 0), zone))


def _known(value: str, parameter: str, known: list[str]) -> str:
    if value not in known:
        raise ApiError(
            "InvalidParameterValue",
            f"Value ({value}) for parameter {parameter} is invalid. Subnets can currently only "
            f"be created in the following availability zones: {', '.join(known)}.",
        )
    return value


def _check_place(conn: Connection, vpc: Any, cidr: str, asked: str) -> None:
    """Inside the VPC's block, overlapping none of its subnets."""
    wanted = IPv4Network(cidr)
    if not wanted.subnet_of(IPv4Network(vpc.cidr_block)):
        raise ApiError("InvalidSubnet.Range", f"The CIDR '{asked}' is invalid.")
    others = conn.execute(select(subnets.c.cidr_block).where(subnets.c.vpc_id == vpc.vpc_id))
    if any(wanted.overlaps(IPv4Network(other)) for other in others.scalars()):
        raise ApiError(
            "InvalidSubnet.Conflict", f"The CIDR '{asked}' conflicts with another subnet"
        )


@action("ec2", "CreateSubnet")
def create_subnet(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("Ipv6CidrBlock") or params.get("Ipv6Native") or params.get("Ipv4IpamPoolId"):
        raise ApiError("InvalidParameterValue", "amiable's subnets have one IPv4 block.")
    if "CidrBlock" not in params:
        raise missing_parameter("cidrBlock")
    cidr = block(params["CidrBlock"], "cidrBlock", "InvalidSubnet.Range")
    region = network(ctx)
    with region.catalog.begin() as conn:
        rows.lock(conn, ctx.account_id)  # one new subnet at a time
        vpc = rows.vpc_of(conn, ctx.account_id, params["VpcId"])
        _check_place(conn, vpc, cidr, params["CidrBlock"])
        zone = _zone(conn, region.name, vpc.vpc_id, params)
        subnet_id = rows.new_subnet(
            conn, ctx.account_id, vpc.vpc_id, cidr, zone, ctx.cloud.clock.now()
        )
        tags = apply_specifications(
            conn, params.get("TagSpecifications"), "subnet", subnet_id, ctx.account_id
        )
        row = rows.subnet_of(conn, ctx.account_id, subnet_id)
    return {"Subnet": shown(region.name, row, tags, 0)}


@action("ec2", "DeleteSubnet")
def delete_subnet(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Refused while instances that are not terminated are in it."""
    subnet_id = params["SubnetId"]
    region = network(ctx)
    with region.catalog.begin() as conn:
        rows.lock(conn, ctx.account_id)
        rows.subnet_of(conn, ctx.account_id, subnet_id)
        if conn.execute(select(exists().where(instances.c.subnet_id == subnet_id, LIVE))).scalar():
            raise ApiError(
                "DependencyViolation",
                f"The subnet '{subnet_id}' has dependencies and cannot be deleted.",
            )
        conn.execute(subnets.delete().where(subnets.c.subnet_id == subnet_id))
        delete_tags_of(conn, subnet_id)
    return {}


def _aliases(extractor: Extractor, *names: str) -> dict[str, Extractor]:
    return dict.fromkeys(names, extractor)


_FILTERS: dict[str, Extractor] = {
    **_aliases(field("AvailabilityZone"), "availability-zone", "availabilityZone"),
    **_aliases(field("AvailabilityZoneId"), "availability-zone-id", "availabilityZoneId"),
    **_aliases(field("CidrBlock"), "cidr-block", "cidr", "cidrBlock"),
    **_aliases(field("DefaultForAz"), "default-for-az", "defaultForAz"),
    "available-ip-address-count": field("AvailableIpAddressCount"),
    "ipv6-native": field("Ipv6Native"),
    "map-public-ip-on-launch": field("MapPublicIpOnLaunch"),
    "owner-id": field("OwnerId"),
    "state": field("State"),
    "subnet-arn": field("SubnetArn"),
    "subnet-id": field("SubnetId"),
    "vpc-id": field("VpcId"),
}


@action("ec2", "DescribeSubnets")
def describe_subnets(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region = network(ctx)
    found, tags = owned_rows(
        region,
        subnets,
        "subnet_id",
        ctx.account_id,
        params.get("SubnetIds") or [],
        rows.subnet_not_found,
    )
    with region.catalog.connect() as conn:
        used = in_use_counts(conn, [row.subnet_id for row in found])
    items = [
        shown(region.name, row, tags[row.subnet_id], used.get(row.subnet_id, 0)) for row in found
    ]
    chosen, token = filtered_page(items, params, _FILTERS, "SubnetId")
    return {"Subnets": chosen, "NextToken": token}


def _value(given: Any) -> Any:
    """An attribute's value: AttributeBooleanValue's `Value`, or the value itself."""
    return given.get("Value") if isinstance(given, dict) else given


@action("ec2", "ModifySubnetAttribute")
def modify_subnet_attribute(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """MapPublicIpOnLaunch (kept and shown, though no instance gets a public
    address here); the other attributes only as the values they always have."""
    for member, always in _FIXED.items():
        if member in params and _value(params[member]) != always:
            raise invalid_value(member, _value(params[member]), "not supported by amiable")
    region = network(ctx)
    with region.catalog.begin() as conn:
        row = rows.subnet_of(conn, ctx.account_id, params["SubnetId"])
        if "MapPublicIpOnLaunch" in params:
            conn.execute(
                subnets.update()
                .where(subnets.c.subnet_id == row.subnet_id)
                .values(map_public_ip=bool(params["MapPublicIpOnLaunch"].get("Value")))
            )
    return {}


def launch_subnet(
    conn: Connection,
    account_id: str,
    region_name: str,
    subnet_id: str | None,
    zone: str | None,
    now: datetime,
) -> Row[Any]:
    """The subnet RunInstances launches into, as EC2 chooses it: `subnet_id`
    if given (the caller's, in `zone` if that is given too); else the default
    subnet of `zone` (or of the first zone) in the default VPC, which this
    makes if it is the account's first use of the network in the region.
    Without a default VPC, a subnet must be given (VPCIdNotSpecified)."""
    if subnet_id is not None:
        row = rows.subnet_of(conn, account_id, subnet_id)
        if zone is not None and zone != row.zone:
            raise ApiError(
                "InvalidParameterValue",
                f"Value ({zone}) for parameter availabilityZone is invalid. "
                f"Subnet '{row.subnet_id}' is in the availability zone {row.zone}",
            )
        return row
    vpc = rows.ensure_default_vpc(conn, account_id, region_name, now)
    if vpc is None:
        raise rows.no_default_vpc()
    return _default_subnet(conn, vpc.vpc_id, zone)


def _default_subnet(conn: Connection, vpc_id: str, zone: str | None) -> Row[Any]:
    query = select(subnets).where(subnets.c.vpc_id == vpc_id, subnets.c.default_for_az.is_(True))
    if zone is not None:
        query = query.where(subnets.c.zone == zone)
    row = conn.execute(query.order_by(subnets.c.zone)).first()
    if row is not None:
        return row
    if zone is not None:
        raise ApiError("MissingInput", f"No default subnet for availability zone: '{zone}'.")
    raise ApiError(
        "MissingInput", f"No subnets found for the default VPC '{vpc_id}'. Please specify a subnet."
    )
