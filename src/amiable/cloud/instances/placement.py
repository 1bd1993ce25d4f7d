"""Where a launched instance sits on the network, as RunInstances decides it:
its subnet (the one asked for, or the default subnet of its zone), its
security groups (asked for by id or name, or the VPC's `default`), a private
address per instance, a MAC and a network interface id, and its key pair.

The primary network interface can be given either at the top level
(`SubnetId`, `SecurityGroupIds`, `SecurityGroups`, `PrivateIpAddress`) or as
`NetworkInterfaces[DeviceIndex=0]`, not both, as on EC2. An address is never
one that a running instance of this host holds, whatever its account, VPC or
data directory (`runtime.network.address_held`).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from amiable.catalog.regional import instance_groups
from amiable.catalog.regional import security_groups as group_rows
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.ids import new_id
from amiable.cloud.network import addresses, key_pairs, security_groups, subnets
from amiable.runtime.network import address_held

_TOP_LEVEL = ("SubnetId", "SecurityGroupIds", "SecurityGroups", "PrivateIpAddress")


@dataclass(frozen=True)
class Interface:
    subnet_id: str | None
    group_ids: list[str]
    group_names: list[str]
    private_ip: str | None


@dataclass(frozen=True)
class Placement:
    subnet: Any
    groups: list[Any]
    key: Any | None  # the key pair's row
    private_ip: str | None  # asked for (one instance only)


def primary_interface(params: dict[str, Any]) -> Interface:
    """What the request says of the primary network interface."""
    asked = [i for i in params.get("NetworkInterfaces") or [] if i.get("DeviceIndex", 0) == 0]
    if not asked:
        return Interface(
            params.get("SubnetId") or None,  # EC2 takes "" for absent (Packer sends it)
            [g for g in params.get("SecurityGroupIds") or [] if g],
            [g for g in params.get("SecurityGroups") or [] if g],
            params.get("PrivateIpAddress") or None,
        )
    if any(params.get(k) for k in _TOP_LEVEL):  # set, not merely ""
        raise ApiError(
            "InvalidParameterCombination",
            "Network interfaces and an instance-level security groups may not be specified "
            "on the same request",
        )
    if len(params["NetworkInterfaces"]) > 1 or asked[0].get("NetworkInterfaceId"):
        raise ApiError(
            "Unsupported", "Only one new network interface (DeviceIndex 0) is supported here."
        )
    primary = asked[0]
    return Interface(
        primary.get("SubnetId") or None,
        [g for g in primary.get("Groups") or [] if g],
        [],
        primary.get("PrivateIpAddress") or None,
    )


def place(
    conn: Connection,
    account_id: str,
    region_name: str,
    params: dict[str, Any],
    zone: str | None,
    count: int,
    now: datetime,
) -> Placement:
    """The network placement shared by the instances of one RunInstances call."""
    interface = primary_interface(params)
    if interface.private_ip and count > 1:
        raise ApiError(
            "InvalidParameterCombination",
            "Cannot specify a private IP address when launching more than one instance.",
        )
    subnet = subnets.launch_subnet(conn, account_id, region_name, interface.subnet_id, zone, now)
    groups = security_groups.launch_groups(
        conn,
        account_id,
        subnet.vpc_id,
        interface.group_ids,
        interface.group_names,
        subnet_id=subnet.subnet_id,
    )
    key = (
        key_pairs.key_for_launch(conn, account_id, params["KeyName"])
        if params.get("KeyName")
        else None
    )
    return Placement(subnet, groups, key, interface.private_ip)


def attach(conn: Connection, placement: Placement, instance_id: str) -> dict[str, Any]:
    """One instance's own part: an address, a MAC, an interface id, its groups;
    the columns of its row."""
    address = addresses.allocate(conn, placement.subnet, placement.private_ip, address_held)
    for group in placement.groups:
        conn.execute(
            instance_groups.insert().values(instance_id=instance_id, group_id=group.group_id)
        )
    return {
        "subnet_id": placement.subnet.subnet_id,
        "vpc_id": placement.subnet.vpc_id,
        "private_ip": address,
        "mac": addresses.mac_address(),
        "interface_id": new_id("eni"),
        "key_name": placement.key.key_name if placement.key else None,
        "public_key": placement.key.public_key if placement.key else None,
    }


def private_dns_name(region_name: str, address: str) -> str:
    """EC2's IP-based name: ip-172-31-5-10.ec2.internal in us-east-1,
    ip-172-31-5-10.eu-west-1.compute.internal elsewhere."""
    name = "ip-" + address.replace(".", "-")
    if region_name == "us-east-1":
        return f"{name}.ec2.internal"
    return f"{name}.{region_name}.compute.internal"


def groups_of(conn: Connection, instance_ids: list[str]) -> dict[str, list[dict[str, str]]]:
    """Each instance's security groups, as DescribeInstances lists them."""
    found: dict[str, list[dict[str, str]]] = {i: [] for i in instance_ids}
    rows = conn.execute(
        select(instance_groups.c.instance_id, group_rows.c.group_id, group_rows.c.group_name)
        .join(group_rows, group_rows.c.group_id == instance_groups.c.group_id)
        .where(instance_groups.c.instance_id.in_(instance_ids))
        .order_by(group_rows.c.group_name)
    ).all()
    for row in rows:
        found[row.instance_id].append({"GroupName": row.group_name, "GroupId": row.group_id})
    return found


def shown(row: Any, groups: list[dict[str, str]], region_name: str) -> dict[str, Any]:
    """DescribeInstances' network fields of an instance (none once it is
    terminated: its network interface is gone with it)."""
    shown: dict[str, Any] = {"PrivateDnsName": "", "SecurityGroups": groups}
    if row.key_name:
        shown["KeyName"] = row.key_name
    if row.private_ip is None or row.state == "terminated":
        return shown
    name = private_dns_name(region_name, row.private_ip)
    shown.update(
        {
            "PrivateDnsName": name,
            "PrivateIpAddress": row.private_ip,
            "SubnetId": row.subnet_id,
            "VpcId": row.vpc_id,
            "SourceDestCheck": True,
            "PrivateDnsNameOptions": {
                "HostnameType": "ip-name",
                "EnableResourceNameDnsARecord": False,
                "EnableResourceNameDnsAAAARecord": False,
            },
            "NetworkInterfaces": [
                {
                    "Attachment": {
                        "AttachTime": row.launch_time,
                        "AttachmentId": "eni-attach-" + row.interface_id.split("-", 1)[1],
                        "DeleteOnTermination": True,
                        "DeviceIndex": 0,
                        "Status": "attached",
                        "NetworkCardIndex": 0,
                    },
                    "Description": "",
                    "Groups": groups,
                    "Ipv6Addresses": [],
                    "MacAddress": row.mac,
                    "NetworkInterfaceId": row.interface_id,
                    "OwnerId": row.owner_id,
                    "PrivateDnsName": name,
                    "PrivateIpAddress": row.private_ip,
                    "PrivateIpAddresses": [
                        {
                            "Primary": True,
                            "PrivateDnsName": name,
                            "PrivateIpAddress": row.private_ip,
                        }
                    ],
                    "SourceDestCheck": True,
                    "Status": "in-use",
                    "SubnetId": row.subnet_id,
                    "VpcId": row.vpc_id,
                    "InterfaceType": "interface",
                }
            ],
        }
    )
    return shown


def change_groups(conn: Connection, row: Any, group_ids: list[str]) -> None:
    """Give an instance's network interface these security groups (checked as
    at launch: the caller's, in its VPC, at most five), in place of its own."""
    groups = security_groups.launch_groups(
        conn, row.owner_id, row.vpc_id, [g for g in group_ids if g], [], subnet_id=row.subnet_id
    )
    conn.execute(instance_groups.delete().where(instance_groups.c.instance_id == row.instance_id))
    for group in groups:
        conn.execute(
            instance_groups.insert().values(instance_id=row.instance_id, group_id=group.group_id)
        )
