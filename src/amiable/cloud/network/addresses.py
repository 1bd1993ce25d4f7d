"""An instance's place in its subnet, as EC2 assigns it: a private IPv4
address (`allocate`) and a MAC address (`mac_address`); and how many
addresses a subnet has left.

AWS reserves five addresses of every subnet: the first four (network
address, VPC router, DNS, future use) and the last (broadcast). The others
are free unless an instance that is not terminated holds one (a stopped
instance keeps its address, as on EC2).
"""

import random
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from sqlalchemy import Connection, Row, func, select

from amiable.catalog.regional import instances
from amiable.cloud.core.errors import ApiError, invalid_value

from .rows import LIVE, lock

RESERVED_BELOW = 4  # the first four addresses of a block
RESERVED = RESERVED_BELOW + 1  # and the last
_RANDOM_TRIES = 32  # random picks before looking at every free address


def usable(cidr: str) -> int:
    """Addresses of a block that instances may have."""
    return IPv4Network(cidr).num_addresses - RESERVED


def in_use_counts(conn: Connection, subnet_ids: list[str]) -> dict[str, int]:
    """How many addresses instances hold, per subnet."""
    rows = conn.execute(
        select(instances.c.subnet_id, func.count())
        .where(instances.c.subnet_id.in_(subnet_ids), instances.c.private_ip.is_not(None), LIVE)
        .group_by(instances.c.subnet_id)
    )
    return {subnet_id: count for subnet_id, count in rows}


def _in_use(conn: Connection, subnet_id: str) -> set[str]:
    rows = conn.execute(
        select(instances.c.private_ip).where(
            instances.c.subnet_id == subnet_id, instances.c.private_ip.is_not(None), LIVE
        )
    )
    return set(rows.scalars())


def _reserved(network: IPv4Network, address: IPv4Address) -> bool:
    offset = int(address) - int(network.network_address)
    return offset < RESERVED_BELOW or address == network.broadcast_address


def allocate(
    conn: Connection,
    subnet: Row[Any],
    wanted: str | None,
    taken_on_host: Callable[[str], bool],
) -> str:
    """A private address in `subnet` for a new instance: `wanted` (RunInstances'
    PrivateIpAddress) if it is free, else a free one chosen at random.

    Free means: inside the subnet, not reserved, not held by an instance of
    the subnet that is not terminated, and not `taken_on_host` (another
    instance on this host, of any account, VPC or data directory, holds it
    now: the caller knows). Call it in the transaction that writes the
    instance's row: it takes the catalog's write lock first, so two launches
    never get the same address."""
    lock(conn, subnet.owner_id)
    network = IPv4Network(subnet.cidr_block)
    used = _in_use(conn, subnet.subnet_id)

    def busy(address: str) -> bool:
        return address in used or taken_on_host(address)

    if wanted is not None:
        return _checked(network, wanted, busy)
    return _random_free(network, subnet.subnet_id, busy)


def _checked(network: IPv4Network, wanted: str, busy: Callable[[str], bool]) -> str:
    try:
        address = IPv4Address(wanted)
    except ValueError as exc:
        raise invalid_value("PrivateIpAddress", wanted) from exc
    if address not in network:
        raise ApiError(
            "InvalidParameterValue", "Address does not fall within the subnet's address range"
        )
    if _reserved(network, address):
        raise ApiError("InvalidParameterValue", "Address is in subnet's reserved address range")
    if busy(str(address)):
        raise ApiError("InvalidIPAddress.InUse", f"Address {address} is in use.")
    return str(address)


def _random_free(network: IPv4Network, subnet_id: str, busy: Callable[[str], bool]) -> str:
    first = int(network.network_address) + RESERVED_BELOW
    last = int(network.broadcast_address) - 1
    for _ in range(_RANDOM_TRIES):
        candidate = str(IPv4Address(random.randint(first, last)))
        if not busy(candidate):
            return candidate
    free = [str(IPv4Address(n)) for n in range(first, last + 1)]
    free = [address for address in free if not busy(address)]
    if not free:
        raise ApiError(
            "InsufficientFreeAddressesInSubnet",
            f"There are not enough free addresses in subnet '{subnet_id}' to satisfy the "
            "requested number of instances.",
        )
    return random.choice(free)


def mac_address() -> str:
    """A random MAC address as EC2's look: unicast and locally administered (the
    first octet's two low bits are 10, as in EC2's 02:, 06:, 0a:, 12:...)."""
    first = random.randrange(256) & 0xFC | 0x02
    rest = [random.randrange(256) for _ in range(5)]
    return ":".join(f"{octet:02x}" for octet in [first, *rest])
