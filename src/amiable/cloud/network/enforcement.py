"""Security groups as the host enforces them: an instance's link (address,
subnet, VPC, groups) and its groups' rules turned into the runtime's `Link`,
and which running instances' host rules must be rewritten when a group's
rules change.

A rule whose source is a group names the group's set of addresses on the
host, which holds the addresses of the group's instances that are plugged in
now (they join and leave it as they start and stop), so a start or a stop
rewrites nobody else's rules. IPv6 rules are kept and shown but have nothing
to act on: instances have no IPv6 address.
"""

import ipaddress
from typing import Any

from sqlalchemy import Connection, select

from amiable.catalog.regional import (
    instance_groups,
    instances,
    security_group_rules,
    subnets,
    vpcs,
)
from amiable.cloud.core.home import Region
from amiable.runtime.network import Allow, Link
from amiable.runtime.network import refresh as refresh_link

ON_HOST = ("pending", "running", "stopping")  # states in which a sandbox may run
_PROTOCOLS = {"-1": "all", "6": "tcp", "17": "udp", "1": "icmp"}


def link_of(conn: Connection, row: Any) -> Link:
    """The runtime's view of an instance's network: its address and its rules."""
    subnet = conn.execute(select(subnets).where(subnets.c.subnet_id == row.subnet_id)).one()
    vpc = conn.execute(select(vpcs).where(vpcs.c.vpc_id == row.vpc_id)).one()
    block = ipaddress.ip_network(subnet.cidr_block)
    inbound, outbound = _allows(conn, row.instance_id)
    groups = select(instance_groups.c.group_id).where(
        instance_groups.c.instance_id == row.instance_id
    )
    return Link(
        address=row.private_ip,
        prefix=block.prefixlen,
        gateway=str(block.network_address + 1),  # the VPC router's address, as on AWS
        mac=row.mac,
        network=row.vpc_id,
        private_range=vpc.cidr_block,
        inbound=tuple(inbound),
        outbound=tuple(outbound),
        groups=tuple(sorted(r.group_id for r in conn.execute(groups))),
    )


def _allows(conn: Connection, instance_id: str) -> tuple[list[Allow], list[Allow]]:
    groups = select(instance_groups.c.group_id).where(instance_groups.c.instance_id == instance_id)
    rules = conn.execute(
        select(security_group_rules)
        .where(security_group_rules.c.group_id.in_(groups))
        .order_by(security_group_rules.c.rule_id)
    ).all()
    inbound: list[Allow] = []
    outbound: list[Allow] = []
    for rule in rules:
        if rule.cidr_ipv4 or rule.referenced_group_id:  # IPv6, prefix lists: nothing here
            (outbound if rule.egress else inbound).append(_allow(rule))
    return inbound, outbound


def _allow(rule: Any) -> Allow:
    protocol = _PROTOCOLS.get(rule.protocol, rule.protocol)
    peers = {"peers": (rule.cidr_ipv4,)} if rule.cidr_ipv4 else {"group": rule.referenced_group_id}
    if protocol == "all" or rule.from_port is None:
        return Allow(protocol, **peers)
    if protocol in ("tcp", "udp") and rule.from_port == -1:
        return Allow(protocol, **peers)
    return Allow(protocol, rule.from_port, rule.to_port, **peers)


def running_in(region: Region, vpc_id: str) -> list[str]:
    """The instances of a VPC whose sandboxes may be running."""
    with region.catalog.connect() as conn:
        rows = conn.execute(
            select(instances.c.instance_id).where(
                instances.c.vpc_id == vpc_id, instances.c.state.in_(ON_HOST)
            )
        ).all()
    return [r.instance_id for r in rows]


def changed(region: Region, vpc_id: str) -> None:
    """A security group of `vpc_id` changed: its running instances' host rules follow."""
    refresh(region, running_in(region, vpc_id))


def refresh(region: Region, instance_ids: list[str]) -> None:
    """Rewrite these instances' host rules from their groups as they are now
    (an instance not plugged in, stopped meanwhile, is left alone)."""
    for instance_id in instance_ids:
        with region.catalog.connect() as conn:
            row = conn.execute(
                select(instances).where(instances.c.instance_id == instance_id)
            ).one()
            if row.private_ip is None:
                continue
            link = link_of(conn, row)
        refresh_link(region.instance_directory(instance_id), link)
