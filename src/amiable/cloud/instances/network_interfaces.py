"""Network interfaces: DescribeNetworkInterfaces and ModifyNetworkInterfaceAttribute.

Every instance here has exactly one interface, its primary (eni-...), made by
RunInstances and deleted with the instance when it terminates; it is kept in
the instance's row (placement.py). So an account's interfaces are those of its
instances that are not terminated, each `in-use` and attached at device index
0. Changing an interface's `Groups` is changing its instance's security groups
(ModifyInstanceAttribute `Groups` does the same): it applies at once to the
host's rules and to what the metadata service shows.
"""

from typing import Any

from sqlalchemy import select

from amiable.catalog.regional import instances
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.filters import Extractor, field
from amiable.cloud.core.home import Region
from amiable.cloud.core.listing import filtered_page
from amiable.cloud.network import enforcement
from amiable.cloud.network.rows import interface_not_found, zones

from . import metadata, placement


def _attachment(name: str) -> Extractor:
    return lambda item: field(name)(item["Attachment"])


def _addresses(name: str) -> Extractor:
    return lambda item: [v for a in item["PrivateIpAddresses"] for v in field(name)(a)]


_FILTERS: dict[str, Extractor] = {
    "addresses.private-ip-address": _addresses("PrivateIpAddress"),
    "addresses.primary": _addresses("Primary"),
    "attachment.attach-time": lambda i: [
        i["Attachment"]["AttachTime"].strftime("%Y-%m-%dT%H:%M:%S.000Z")
    ],
    "attachment.attachment-id": _attachment("AttachmentId"),
    "attachment.delete-on-termination": _attachment("DeleteOnTermination"),
    "attachment.device-index": _attachment("DeviceIndex"),
    "attachment.instance-id": _attachment("InstanceId"),
    "attachment.instance-owner-id": _attachment("InstanceOwnerId"),
    "attachment.status": _attachment("Status"),
    "availability-zone": field("AvailabilityZone"),
    "availability-zone-id": field("AvailabilityZoneId"),
    "description": field("Description"),
    "group-id": lambda i: [g["GroupId"] for g in i["Groups"]],
    "group-name": lambda i: [g["GroupName"] for g in i["Groups"]],
    "interface-type": field("InterfaceType"),
    "mac-address": field("MacAddress"),
    "network-interface-id": field("NetworkInterfaceId"),
    "owner-id": field("OwnerId"),
    "private-dns-name": field("PrivateDnsName"),
    "private-ip-address": field("PrivateIpAddress"),
    "requester-managed": field("RequesterManaged"),
    "source-dest-check": field("SourceDestCheck"),
    "status": field("Status"),
    "subnet-id": field("SubnetId"),
    "vpc-id": field("VpcId"),
}


def _rows(region: Region, owner: str, wanted: list[str]) -> list[Any]:
    """The owner's instances that hold an interface (only those of `wanted` ids)."""
    query = select(instances).where(
        instances.c.owner_id == owner,
        instances.c.state != "terminated",
        instances.c.interface_id.is_not(None),
    )
    if wanted:
        query = query.where(instances.c.interface_id.in_(wanted))
    with region.catalog.connect() as conn:
        rows = list(conn.execute(query.order_by(instances.c.interface_id)).all())
    missing = sorted(set(wanted) - {row.interface_id for row in rows})
    if missing:
        raise interface_not_found(missing)
    return rows


def _shown(row: Any, groups: list[dict[str, str]], region_name: str) -> dict[str, Any]:
    (interface,) = placement.shown(row, groups, region_name)["NetworkInterfaces"]
    return {
        **interface,
        "Attachment": {
            **interface["Attachment"],
            "InstanceId": row.instance_id,
            "InstanceOwnerId": row.owner_id,
        },
        "AvailabilityZone": row.zone,
        "AvailabilityZoneId": zones(region_name)[row.zone],
        "RequesterManaged": False,
        "TagSet": [],
    }


@action("ec2", "DescribeNetworkInterfaces")
def describe_network_interfaces(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    wanted = params.get("NetworkInterfaceIds") or []
    if wanted and params.get("MaxResults") is not None:
        raise ApiError(
            "InvalidParameterCombination",
            "The parameter NetworkInterfaceIds cannot be used with the parameter MaxResults",
        )
    region: Region = ctx.cloud.region(ctx.region)
    rows = _rows(region, ctx.account_id, wanted)
    with region.catalog.connect() as conn:
        groups = placement.groups_of(conn, [row.instance_id for row in rows])
    items = [_shown(row, groups[row.instance_id], ctx.region) for row in rows]
    chosen, token = filtered_page(items, params, _FILTERS, "NetworkInterfaceId")
    return {"NetworkInterfaces": chosen, "NextToken": token}


def change_groups(region: Region, row: Any, group_ids: list[str]) -> None:
    """Give an instance's interface these security groups, in place of its own."""
    if row.state == "terminated" or row.vpc_id is None:
        raise ApiError(
            "IncorrectInstanceState",
            f"The instance '{row.instance_id}' has no network interface to change.",
        )
    with region.catalog.begin() as conn:
        placement.change_groups(conn, row, group_ids)
    enforcement.refresh(region, [row.instance_id])
    metadata.write(region, row.instance_id)


@action("ec2", "ModifyNetworkInterfaceAttribute")
def modify_network_interface_attribute(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """`Groups` of an instance's primary network interface (the only kind here)."""
    region: Region = ctx.cloud.region(ctx.region)
    interface = params["NetworkInterfaceId"]
    (row,) = _rows(region, ctx.account_id, [interface])
    if not params.get("Groups"):
        raise ApiError("Unsupported", "Only the Groups of a network interface can be changed here.")
    change_groups(region, row, params["Groups"])
    return {}
