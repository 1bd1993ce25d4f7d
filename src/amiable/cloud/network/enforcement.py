"""Security groups as the host enforces them: an instance's link (address,
subnet, VPC) and its groups' rules turned into the runtime's `Link`, and which
running instances' host rules must be rewritten when a group's rules or
members change.

A rule whose source is another group admits the addresses of that group's
instances that are on the host now; a group with none admits nobody. IPv6
rules are kept and shown but have nothing to act on: instances have no IPv6
address.
"""

import ipaddress
from collections.abc import Iterable
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
    return Link(
        address=row.private_ip,
        prefix=block.prefixlen,
        gateway=str(block.network_address + 1),  # the VPC router's address, as on AWS
        mac=row.mac,
        network=row.vpc_id,
        private_range=vpc.cidr_block,
        inbound=tuple(inbound),
        outbound=tuple(outbound),
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
        peers = _peers(conn, rule)
        if peers:
            (outbound if rule.egress else inbound).append(_allow(rule, peers))
    return inbound, outbound


def _peers(conn: Connection, rule: Any) -> tuple[str, ...]:
    if rule.cidr_ipv4:
        return (rule.cidr_ipv4,)
    if rule.referenced_group_id:
        return tuple(sorted(addresses_in(conn, rule.referenced_group_id)))
    return ()  # IPv6 or a prefix list: nothing here to admit


def addresses_in(conn: Connection, group_id: str) -> set[str]:
    """The addresses of a group's instances that may be running."""
    found = conn.execute(
        select(instances.c.private_ip)
        .join(instance_groups, instance_groups.c.instance_id == instances.c.instance_id)
        .where(
            instance_groups.c.group_id == group_id,
            instances.c.state.in_(ON_HOST),
            instances.c.private_ip.is_not(None),
        )
    ).all()
    return {r.private_ip for r in found}


def _allow(rule: Any, peers: tuple[str, ...]) -> Allow:
    protocol = _PROTOCOLS.get(rule.protocol, rule.protocol)
    if protocol in ("all",) or rule.from_port is None:
        return Allow(protocol, peers=peers)
    if protocol in ("tcp", "udp") and rule.from_port == -1:
        return Allow(protocol, peers=peers)
    return Allow(protocol, rule.from_port, rule.to_port, peers=peers)


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


def members_changed(region: Region, group_ids: Iterable[str]) -> None:
    """Instances joined or left these groups (launched, stopped, moved): the
    running instances whose rules name one of them as a source follow."""
    wanted = list(group_ids)
    with region.catalog.connect() as conn:
        referring = select(security_group_rules.c.group_id).where(
            security_group_rules.c.referenced_group_id.in_(wanted)
        )
        rows = conn.execute(
            select(instances.c.instance_id)
            .join(instance_groups, instance_groups.c.instance_id == instances.c.instance_id)
            .where(instance_groups.c.group_id.in_(referring), instances.c.state.in_(ON_HOST))
            .distinct()
        ).all()
    refresh(region, [r.instance_id for r in rows])


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
