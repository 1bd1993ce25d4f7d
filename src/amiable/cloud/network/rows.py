"""The network's rows, shared by its modules: the caller's VPCs, subnets and
security groups found by id (or EC2's NotFound error), new ones written with
what they start with (a VPC its `default` security group, a group its first
rules), and the default VPC made of them.

The default VPC is made on an account's first use of the network in a region,
as AWS gives every account one: 172.31.0.0/16 with DNS support and hostnames,
a /20 default subnet per availability zone (172.31.0.0/20, 172.31.16.0/20,
...) and its `default` group. It is made once: deleted, it stays deleted until
CreateDefaultVpc. A marker row in `account_settings` says it was made; two
first uses at once make one, because the marker is inserted before anything
else in the transaction that makes it, and the other insert waits for that
commit and then does nothing.

Default subnets keep MapPublicIpOnLaunch false, unlike AWS's: instances get
no public address on this host.
"""

from datetime import datetime
from ipaddress import IPv4Network
from typing import Any

from sqlalchemy import Connection, Row, Table, select
from sqlalchemy.dialects.sqlite import insert

from amiable.catalog.regional import (
    account_settings,
    instances,
    security_group_rules,
    security_groups,
    subnets,
    vpcs,
)
from amiable.cloud.core import account_settings as settings
from amiable.cloud.core.actions import Context
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Region
from amiable.cloud.core.ids import new_id
from amiable.cloud.core.regions import ZONE_LETTERS, zone_id_of
from amiable.cloud.core.tags import delete_tags_of

DEFAULT_VPC_CIDR = "172.31.0.0/16"
DEFAULT_SUBNET_PREFIX = 20
DEFAULT_GROUP = "default"
DEFAULT_GROUP_DESCRIPTION = "default VPC security group"
ANYWHERE = "0.0.0.0/0"
LIVE = instances.c.state != "terminated"  # an instance that holds its address and groups
_MADE = "network.default-vpc"  # the account's default VPC was made here (value: its id)


def _missing(code: str, one: str, many: str, ids: list[str]) -> ApiError:
    if len(ids) == 1:
        return ApiError(code, f"The {one} '{ids[0]}' does not exist")
    return ApiError(code, f"The {many} '{', '.join(ids)}' do not exist")


def vpc_not_found(ids: list[str]) -> ApiError:
    return _missing("InvalidVpcID.NotFound", "vpc ID", "vpc IDs", ids)


def subnet_not_found(ids: list[str]) -> ApiError:
    return _missing("InvalidSubnetID.NotFound", "subnet ID", "subnet IDs", ids)


def interface_not_found(ids: list[str]) -> ApiError:
    return _missing(
        "InvalidNetworkInterfaceID.NotFound", "networkInterface ID", "networkInterface IDs", ids
    )


def group_not_found(ids: list[str]) -> ApiError:
    return _missing("InvalidGroup.NotFound", "security group", "security groups", ids)


def no_default_vpc(names: bool = False) -> ApiError:
    detail = ". GroupName is only supported for EC2-Classic and default VPC." if names else ""
    return ApiError("VPCIdNotSpecified", f"No default VPC for this user{detail}")


def zones(region_name: str) -> dict[str, str]:
    """The region's availability zones, name -> id, as DescribeAvailabilityZones shows them."""
    names = [f"{region_name}{letter}" for letter in ZONE_LETTERS]
    return {name: zone_id_of(name) for name in names}


def lock(conn: Connection, owner: str) -> None:
    """Take the catalog's write lock before reading what a change depends on:
    SQLite has one writer at a time, so what the transaction reads next stays
    true until it commits (its reads before its first write lock nothing).
    The write is a no-op update of the account's network marker."""
    conn.execute(
        account_settings.update()
        .where(account_settings.c.account_id == owner, account_settings.c.name == _MADE)
        .values(value=account_settings.c.value)
    )


def _owned(conn: Connection, table: Table, column: str, owner: str, value: str) -> Row[Any] | None:
    query = select(table).where(table.c[column] == value, table.c.owner_id == owner)
    return conn.execute(query).first()


def vpc_of(conn: Connection, owner: str, vpc_id: str) -> Row[Any]:
    row = _owned(conn, vpcs, "vpc_id", owner, vpc_id)
    if row is None:
        raise vpc_not_found([vpc_id])
    return row


def subnet_of(conn: Connection, owner: str, subnet_id: str) -> Row[Any]:
    row = _owned(conn, subnets, "subnet_id", owner, subnet_id)
    if row is None:
        raise subnet_not_found([subnet_id])
    return row


def group_of(conn: Connection, owner: str, group_id: str) -> Row[Any]:
    row = _owned(conn, security_groups, "group_id", owner, group_id)
    if row is None:
        raise group_not_found([group_id])
    return row


def default_vpc(conn: Connection, owner: str) -> Row[Any] | None:
    query = select(vpcs).where(vpcs.c.owner_id == owner, vpcs.c.is_default.is_(True))
    return conn.execute(query).first()


def group_named(conn: Connection, owner: str, name: str) -> Row[Any]:
    """A group of the default VPC by name (EC2's GroupName parameters)."""
    vpc = default_vpc(conn, owner)
    if vpc is None:
        raise no_default_vpc(names=True)
    row = conn.execute(
        select(security_groups).where(
            security_groups.c.vpc_id == vpc.vpc_id, security_groups.c.group_name == name
        )
    ).first()
    if row is None:
        raise ApiError(
            "InvalidGroup.NotFound",
            f"The security group '{name}' does not exist in default VPC '{vpc.vpc_id}'",
        )
    return row


def target_group(conn: Connection, owner: str, params: dict[str, Any]) -> Row[Any]:
    """The group a request names by GroupId, or by GroupName in the default VPC."""
    if params.get("GroupId"):
        return group_of(conn, owner, params["GroupId"])
    if params.get("GroupName"):
        return group_named(conn, owner, params["GroupName"])
    raise ApiError(
        "MissingParameter", "The request must contain the parameter groupName or groupId"
    )


def default_group(conn: Connection, vpc_id: str) -> Row[Any]:
    query = select(security_groups).where(
        security_groups.c.vpc_id == vpc_id, security_groups.c.group_name == DEFAULT_GROUP
    )
    return conn.execute(query).one()


def new_vpc(
    conn: Connection,
    owner: str,
    cidr: str,
    now: datetime,
    *,
    default: bool = False,
    tenancy: str = "default",
) -> str:
    """A VPC and its `default` group; a default VPC has DNS hostnames on, as on AWS."""
    vpc_id = new_id("vpc")
    conn.execute(
        vpcs.insert().values(
            vpc_id=vpc_id,
            owner_id=owner,
            cidr_block=cidr,
            is_default=default,
            state="available",
            instance_tenancy=tenancy,
            dns_support=True,
            dns_hostnames=default,
            created=now,
        )
    )
    new_group(conn, owner, vpc_id, DEFAULT_GROUP, DEFAULT_GROUP_DESCRIPTION)
    return vpc_id


def new_subnet(
    conn: Connection,
    owner: str,
    vpc_id: str,
    cidr: str,
    zone: str,
    now: datetime,
    *,
    default_for_az: bool = False,
) -> str:
    subnet_id = new_id("subnet")
    conn.execute(
        subnets.insert().values(
            subnet_id=subnet_id,
            owner_id=owner,
            vpc_id=vpc_id,
            cidr_block=cidr,
            zone=zone,
            default_for_az=default_for_az,
            map_public_ip=False,
            state="available",
            created=now,
        )
    )
    return subnet_id


def new_group(conn: Connection, owner: str, vpc_id: str, name: str, description: str) -> str:
    """A group with its first rules: all traffic out to anywhere and, for a
    VPC's `default` group, all traffic in from its own members."""
    group_id = new_id("sg")
    conn.execute(
        security_groups.insert().values(
            group_id=group_id,
            owner_id=owner,
            vpc_id=vpc_id,
            group_name=name,
            description=description,
        )
    )
    new_rule(conn, group_id, owner, egress=True, cidr_ipv4=ANYWHERE)
    if name == DEFAULT_GROUP:
        new_rule(conn, group_id, owner, egress=False, referenced_group_id=group_id)
    return group_id


def new_rule(conn: Connection, group_id: str, owner: str, *, egress: bool, **columns: Any) -> str:
    """One rule; without `protocol` and ports it is all traffic (-1)."""
    rule_id = new_id("sgr")
    values = {"protocol": "-1", "from_port": -1, "to_port": -1, **columns}
    conn.execute(
        security_group_rules.insert().values(
            rule_id=rule_id, group_id=group_id, owner_id=owner, egress=egress, **values
        )
    )
    return rule_id


def remove_rules(conn: Connection, rule_ids: list[str]) -> None:
    for rule_id in rule_ids:
        delete_tags_of(conn, rule_id)
    conn.execute(security_group_rules.delete().where(security_group_rules.c.rule_id.in_(rule_ids)))


def remove_group(conn: Connection, group_id: str) -> None:
    """A group, its rules and their tags."""
    rule_ids = conn.execute(
        select(security_group_rules.c.rule_id).where(security_group_rules.c.group_id == group_id)
    ).scalars()
    remove_rules(conn, list(rule_ids))
    conn.execute(security_groups.delete().where(security_groups.c.group_id == group_id))
    delete_tags_of(conn, group_id)


def _make_default_vpc(conn: Connection, owner: str, region_name: str, now: datetime) -> Row[Any]:
    vpc_id = new_vpc(conn, owner, DEFAULT_VPC_CIDR, now, default=True)
    blocks = IPv4Network(DEFAULT_VPC_CIDR).subnets(new_prefix=DEFAULT_SUBNET_PREFIX)
    for zone, block in zip(zones(region_name), blocks, strict=False):
        new_subnet(conn, owner, vpc_id, str(block), zone, now, default_for_az=True)
    settings.write(conn, owner, _MADE, vpc_id)
    return vpc_of(conn, owner, vpc_id)


def ensure_default_vpc(
    conn: Connection, owner: str, region_name: str, now: datetime
) -> Row[Any] | None:
    """The account's default VPC, made in this transaction if this is the
    account's first use of the network in the region; None once deleted."""
    if not _made(conn, owner):
        marker = insert(account_settings).values(account_id=owner, name=_MADE, value="")
        if conn.execute(marker.on_conflict_do_nothing()).rowcount == 1:
            _make_default_vpc(conn, owner, region_name, now)
    return default_vpc(conn, owner)


def _made(conn: Connection, owner: str) -> bool:
    marker = select(account_settings.c.name).where(
        account_settings.c.account_id == owner, account_settings.c.name == _MADE
    )
    return conn.execute(marker).first() is not None


def network(ctx: Context) -> Region:
    """The request's region, with the caller's default VPC made if this is its
    first use of the network there: every network action starts here."""
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.connect() as conn:
        made = _made(conn, ctx.account_id)
    if not made:
        with region.catalog.begin() as conn:
            ensure_default_vpc(conn, ctx.account_id, region.name, ctx.cloud.clock.now())
    return region


def create_default_vpc(conn: Connection, owner: str, region_name: str, now: datetime) -> Row[Any]:
    """CreateDefaultVpc (after the first use made the first one): a new default
    VPC unless one exists. The lock comes first, so of two calls at once the
    second finds the first one's VPC."""
    lock(conn, owner)
    if default_vpc(conn, owner) is not None:
        raise ApiError(
            "DefaultVpcAlreadyExists",
            "A Default VPC already exists for this account in this region.",
        )
    return _make_default_vpc(conn, owner, region_name, now)
