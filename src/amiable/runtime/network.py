"""A sandbox's own network: a network namespace whose `eth0` is one end of a
veth pair, the other end on the host, and the host's rules for it (nftables).

The host routes each sandbox's address to its veth (a /32 route, as Calico
does): there is no bridge, every packet between two sandboxes crosses the
host's `forward` hook, so the rules see all of it. Inside, `eth0` has the
address with its subnet's prefix, a default route through the gateway, whose
MAC is the host end's (a permanent neighbour entry), and the host end answers
ARP for the subnet's other addresses (proxy ARP).

The rules live in one table, `inet amiable`, shared by every sandbox of the
host; each sandbox has its own chains, reached through verdict maps keyed by
its host interface, so plugging or unplugging one is a single atomic `nft`
transaction that touches no other sandbox's rules:

* `guard-N`: a packet from the sandbox with another source address is dropped
  (no spoofing another sandbox, or the metadata service's idea of who asks).
* `out-N`: its outbound rules (return when allowed, else drop); traffic to its
  own private range that is not for another sandbox never leaves the host.
* `in-N`: inbound to it, from the host or another sandbox: established
  connections, then nothing from a sandbox of another network (`net-*` sets
  of interfaces), then its inbound rules, else drop. A rule whose peers are
  a group matches the group's set of addresses (`grp-*`), which sandboxes
  join and leave as they are plugged in and out.
* `host-N`: what it may reach on the host itself: its metadata service port.
* `nat-N`: 169.254.169.254:80 is its metadata service (DNAT to the port its
  monitor listens on); 169.254.169.253:53 is the host's resolver.

Outbound traffic to the world is masqueraded. Every change runs under one
host-wide lock, and `/run/amiable/links/N.json` records each plugged sandbox
(its address and network), so an address held by a running sandbox of any
data directory is known (`address_held`). The record is written before the
rules and links and removed after them, so a plug cut short leaves a record
by which its rest is found and removed.
"""

import fcntl
import hashlib
import ipaddress
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import SandboxError
from .layout import interface_name

TABLE = "amiable"
HOST_ADDRESS = "169.254.0.1"  # the host's end of every link; metadata services listen here
HOST_MAC = "ee:ee:ee:ee:ee:ee"
METADATA_ADDRESS = "169.254.169.254"
RESOLVER_ADDRESS = "169.254.169.253"
STATE = Path("/run/amiable")
LINKS = STATE / "links"
BASE_MARK = STATE / "base-rules"  # the digest of the base rules the table has
_IP_FREEBIND = 15  # not in Python's socket module
# the verdict maps of the base chains, each to the sandbox's chain it jumps to
_MAPS = {"guard": "guard", "host": "host", "nat": "nat", "egress": "out", "ingress": "in"}


@dataclass(frozen=True)
class Allow:
    """One rule that lets traffic through: a protocol ("all", "tcp", "udp",
    "icmp" or an IP protocol number), its port range (icmp: type and code;
    None: all) and the peers it admits: CIDRs, or the sandboxes that are
    members of `group` (whichever are plugged in at the time)."""

    protocol: str
    low: int | None = None
    high: int | None = None
    peers: tuple[str, ...] = ("0.0.0.0/0",)
    group: str | None = None


@dataclass(frozen=True)
class Link:
    """Where a sandbox sits: its address in a subnet, the subnet's gateway, its
    MAC, its network (sandboxes of one network reach each other as their rules
    allow; of two networks, never), that network's private range, and its
    inbound and outbound rules, and the groups it is a member of."""

    address: str
    prefix: int
    gateway: str
    mac: str
    network: str
    private_range: str
    inbound: tuple[Allow, ...] = ()
    outbound: tuple[Allow, ...] = field(default=(Allow("all"),))
    groups: tuple[str, ...] = ()  # what rules of others may name it by (`Allow.group`)


def address_held(address: str) -> bool:
    """Whether a plugged sandbox of this host (any data directory) has `address`."""
    return any(_record(path).get("address") == address for path in _records())


def metadata_listener() -> socket.socket:
    """A socket for a sandbox's metadata service, on the host end of every link
    (bound before that address exists: IP_FREEBIND), its port for `plug`."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.IPPROTO_IP, _IP_FREEBIND, 1)
    listener.bind((HOST_ADDRESS, 0))
    listener.listen(64)
    return listener


def plug(directory: Path, link: Link, owner: str, metadata_port: int | None) -> None:
    """Give the sandbox in `directory` (not running) its namespace, link and
    rules, for the boot `owner`, its metadata service on `metadata_port` of
    the host end (None: it has none). On failure nothing of it is left."""
    name = interface_name(directory)
    with _locked():
        if _left_behind(name):  # by an earlier boot cut short
            _unplug(name)
        if address_held(link.address):
            raise SandboxError(f"{link.address} is in use by another instance on this host")
        # First: a plug cut short (kill -9) after its rules are in leaves its record,
        # by which the next plug or unplug of this sandbox finds what to remove.
        _write_record(name, link, owner)
        try:
            with _rules_for(name, link, metadata_port):  # nft works while ip does
                _links_up(name, link)
        except BaseException:
            _unplug(name)
            raise


@contextmanager
def _rules_for(name: str, link: Link, metadata_port: int | None) -> Iterator[None]:
    """The sandbox's rules, written while the body runs: in the table as it
    is when its base rules are this version's (`BASE_MARK`), else with them;
    once more with them when the first try fails (the table was removed)."""
    mark = hashlib.sha256(_base_rules().encode()).hexdigest()
    current = _text(BASE_MARK) == mark
    script = _plugged_rules(name, link, metadata_port)
    writing = _nft_start(script if current else _base_rules() + script)
    try:
        yield
    finally:
        error = _nft_finish(writing)
    if error and current:
        error = _nft_finish(_nft_start(_base_rules() + script))
    if error:
        raise SandboxError(f"nft: {error}")
    if not current:
        BASE_MARK.write_text(mark)


def _left_behind(name: str) -> bool:
    return any(
        path.exists()
        for path in (
            LINKS / f"{name}.json",
            Path(f"/sys/class/net/{name}"),
            Path(f"/run/netns/{name}"),
        )
    )


def unplug(directory: Path, owner: str | None = None) -> None:
    """Remove the sandbox's rules, link and namespace (nothing if it has none,
    or if they belong to another boot than `owner`)."""
    name = interface_name(directory)
    with _locked():
        if not _left_behind(name):
            return
        if owner is None or _record(LINKS / f"{name}.json").get("owner") in (owner, None):
            _unplug(name)


def refresh(directory: Path, link: Link) -> None:
    """Rewrite a plugged sandbox's inbound and outbound rules and its group
    memberships (they take effect at once; established connections stay)."""
    name = interface_name(directory)
    with _locked():
        if not (LINKS / f"{name}.json").exists():
            return
        table = _table() or {"sets": {}}
        _nft(_memberships(link, table) + _rule_chains(name, link, flush=True))
        _write_record(name, link, _record(LINKS / f"{name}.json")["owner"])


def _links_up(name: str, link: Link) -> None:
    _ip_batch(
        [
            f"netns add {name}",
            f"link add {name} address {HOST_MAC} type veth peer name eth0 "
            f"address {link.mac} netns {name}",
            f"addr add {HOST_ADDRESS}/32 dev {name}",
            f"link set {name} up",
            f"route add {link.address}/32 dev {name} scope link",
        ]
    )
    Path(f"/proc/sys/net/ipv4/conf/{name}/proxy_arp").write_text("1")
    Path(f"/proc/sys/net/ipv4/neigh/{name}/proxy_delay").write_text("0")  # not 0.8 s
    Path("/proc/sys/net/ipv4/ip_forward").write_text("1")
    _ip_batch(
        [
            "link set lo up",
            "link set eth0 addrgenmode none",
            f"addr add {link.address}/{link.prefix} dev eth0",
            "link set eth0 up",
            f"neigh replace {link.gateway} lladdr {HOST_MAC} dev eth0 nud permanent",
            f"route add default via {link.gateway} dev eth0 onlink",
        ],
        namespace=name,
    )


def _unplug(name: str) -> None:
    _remove_rules(name)
    if Path(f"/sys/class/net/{name}").exists():
        _ip(["link", "del", name], check=False)
    if Path(f"/run/netns/{name}").exists():
        _ip(["netns", "del", name], check=False)
    (LINKS / f"{name}.json").unlink(missing_ok=True)  # last: a cut-short unplug is retried


def _network_set(network: str) -> str:
    return "net-" + hashlib.sha256(network.encode()).hexdigest()[:12]


def _base_rules() -> str:
    """The shared table, its maps and base chains (idempotent: `add` only)."""
    t = f"inet {TABLE}"
    chains = {
        "prerouting": "type filter hook prerouting priority -150; policy accept;",
        "nat_prerouting": "type nat hook prerouting priority dstnat; policy accept;",
        "nat_postrouting": "type nat hook postrouting priority srcnat; policy accept;",
        "forward": "type filter hook forward priority filter; policy accept;",
        "input": "type filter hook input priority filter; policy accept;",
        "output": "type filter hook output priority filter; policy accept;",
    }
    lines = [f"add table {t}"]
    for kind in _MAPS:
        lines.append(f"add map {t} {kind} {{ type ifname : verdict; }}")
    for chain, spec in chains.items():
        lines.append(f"add chain {t} {chain} {{ {spec} }}")
    for chain in chains:
        lines.append(f"flush chain {t} {chain}")
    lines += [
        f'add rule {t} prerouting iifname "am*" meta nfproto ipv6 drop',
        f"add rule {t} prerouting iifname vmap @guard",
        f"add rule {t} nat_prerouting iifname vmap @nat",
        f'add rule {t} nat_postrouting iifname "am*" oifname != "am*" masquerade',
        f"add rule {t} forward ct state established,related accept",
        f"add rule {t} forward ct original ip daddr {RESOLVER_ADDRESS} accept",
        f"add rule {t} forward iifname vmap @egress",
        f"add rule {t} forward oifname vmap @ingress",
        f'add rule {t} input iifname "am*" ct state established,related accept',
        f"add rule {t} input iifname vmap @host",
        f'add rule {t} input iifname "am*" drop',
        f"add rule {t} output oifname vmap @ingress",
    ]
    return "\n".join(lines) + "\n"


def _plugged_rules(name: str, link: Link, metadata_port: int | None) -> str:
    """A sandbox's sets, chains and map entries (the base rules are there)."""
    t = f"inet {TABLE}"
    members = _network_set(link.network)
    lines = [
        f"add set {t} {members} {{ type ifname; }}",
        f'add element {t} {members} {{ "{name}" }}',
        f"add chain {t} guard-{name}",
        f"add rule {t} guard-{name} ip saddr != {link.address} drop",
        f"add chain {t} host-{name}",
        f"add chain {t} nat-{name}",
    ]
    if metadata_port is not None:
        lines += [
            f"add rule {t} host-{name} ip daddr {HOST_ADDRESS} tcp dport {metadata_port} accept",
            f"add rule {t} nat-{name} ip daddr {METADATA_ADDRESS} tcp dport 80 "
            f"dnat ip to {HOST_ADDRESS}:{metadata_port}",
        ]
    lines.append(f"add rule {t} host-{name} drop")
    resolver = host_resolver()
    if resolver is not None:
        for protocol in ("udp", "tcp"):
            lines.append(
                f"add rule {t} nat-{name} ip daddr {RESOLVER_ADDRESS} {protocol} dport 53 "
                f"dnat ip to {resolver}"
            )
    lines.append(_memberships(link, {"sets": {}}))
    lines.append(_rule_chains(name, link, flush=False))
    for kind, chain in _MAPS.items():
        lines.append(f'add element {t} {kind} {{ "{name}" : jump {chain}-{name} }}')
    return "\n".join(lines) + "\n"


def _group_set(group: str) -> str:
    return "grp-" + hashlib.sha256(group.encode()).hexdigest()[:12]


def _memberships(link: Link, table: dict[str, Any]) -> str:
    """Its address in the sets of its groups, and in no other (`table`: as it is)."""
    t = f"inet {TABLE}"
    wanted = {_group_set(g) for g in link.groups}
    lines = [f"add set {t} {kind} {{ type ipv4_addr; }}" for kind in sorted(wanted)]
    lines += [f"add element {t} {kind} {{ {link.address} }}" for kind in sorted(wanted)]
    for kind, members in table["sets"].items():
        if kind.startswith("grp-") and kind not in wanted and link.address in members:
            lines.append(f"delete element {t} {kind} {{ {link.address} }}")
    return "\n".join(lines) + "\n"


def _rule_chains(name: str, link: Link, flush: bool) -> str:
    """The sandbox's `out-N` and `in-N` chains from its rules (the sets of the
    groups they name made first, empty until a member plugs in)."""
    t = f"inet {TABLE}"
    members = _network_set(link.network)
    named = {_group_set(a.group) for a in (*link.inbound, *link.outbound) if a.group}
    lines = [f"add set {t} {kind} {{ type ipv4_addr; }}" for kind in sorted(named)]
    for chain in (f"out-{name}", f"in-{name}"):
        lines.append(f"add chain {t} {chain}")
        if flush:
            lines.append(f"flush chain {t} {chain}")
    lines.append(f'add rule {t} out-{name} ip daddr {link.private_range} oifname != "am*" drop')
    lines += [f"add rule {t} out-{name} {_match(a, 'daddr')} return" for a in link.outbound]
    lines.append(f"add rule {t} out-{name} drop")
    lines += [
        f"add rule {t} in-{name} ct state established,related accept",
        f'add rule {t} in-{name} iifname "am*" iifname != @{members} drop',
    ]
    lines += [f"add rule {t} in-{name} {_match(a, 'saddr')} accept" for a in link.inbound]
    lines.append(f"add rule {t} in-{name} drop")
    return "\n".join(lines) + "\n"


def _match(allow: Allow, direction: str) -> str:
    """An nft match for one rule: its peers (as source or destination) and traffic."""
    if allow.group is not None:
        where = f"ip {direction} @{_group_set(allow.group)}"
    else:
        peers = ", ".join(str(ipaddress.ip_network(p, strict=False)) for p in allow.peers)
        where = f"ip {direction} {{ {peers} }}"
    if allow.protocol == "all":
        return where
    if allow.protocol in ("tcp", "udp"):
        if allow.low is None:
            return f"{where} meta l4proto {allow.protocol}"
        return f"{where} {allow.protocol} dport {allow.low}-{allow.high}"
    if allow.protocol == "icmp":
        if allow.low is None or allow.low < 0:
            return f"{where} meta l4proto icmp"
        code = "" if allow.high is None or allow.high < 0 else f" icmp code {allow.high}"
        return f"{where} icmp type {allow.low}{code}"
    return f"{where} meta l4proto {int(allow.protocol)}"


def _remove_rules(name: str) -> None:
    """Take the sandbox's part out of the table: the whole table when no other
    sandbox is plugged in; else what its record says it has, or, when that
    fails (a plug cut short left only some of it), what the table shows."""
    others = [_record(path) for path in _records() if path.stem != name]
    if not others:
        _nft(f"delete table inet {TABLE}\n", check=False)
        BASE_MARK.unlink(missing_ok=True)
        return
    record = _record(LINKS / f"{name}.json")
    if "groups" in record and not _nft_finish(_nft_start(_recorded_rules(name, record, others))):
        return
    table = _table()
    if table is not None:
        _nft(_unplugged_rules(name, table))


def _recorded_rules(name: str, record: dict[str, Any], others: list[dict[str, Any]]) -> str:
    """What removes the sandbox's part of the table as its record describes it."""
    t, members = f"inet {TABLE}", _network_set(record["network"])
    lines = [f"delete element {t} {s} {{ {record['address']} }}" for s in record["groups"]]
    lines.append(f'delete element {t} {members} {{ "{name}" }}')
    lines += [f'delete element {t} {m} {{ "{name}" }}' for m in _MAPS]
    lines += [f"delete chain {t} {chain}-{name}" for chain in _MAPS.values()]
    if not any(other.get("network") == record["network"] for other in others):
        lines.append(f"delete set {t} {members}")
    return "\n".join(lines) + "\n"


def _unplugged_rules(name: str, table: dict[str, Any]) -> str:
    """What removes the sandbox's part of the table, as it is now."""
    t = f"inet {TABLE}"
    lines, emptied = [], []
    address = _record(LINKS / f"{name}.json").get("address")
    for kind, members in table["sets"].items():
        if kind.startswith("grp-") and address in members:
            lines.append(f"delete element {t} {kind} {{ {address} }}")
        if name in members:
            lines.append(f'delete element {t} {kind} {{ "{name}" }}')
            if kind.startswith("net-") and members == [name]:
                emptied.append(f"delete set {t} {kind}")
    for chain in _MAPS.values():
        if f"{chain}-{name}" in table["chains"]:
            lines.append(f"delete chain {t} {chain}-{name}")
    lines += emptied  # once no chain refers to them
    return "\n".join(lines) + "\n"


def _table() -> dict[str, Any] | None:
    """The shared table's chains and the members of its maps and sets (None
    when it does not exist)."""
    done = subprocess.run(
        ["nft", "-j", "list", "table", "inet", TABLE], capture_output=True, text=True
    )
    if done.returncode != 0:
        return None
    chains: set[str] = set()
    sets: dict[str, list[str]] = {}
    for item in json.loads(done.stdout)["nftables"]:
        if "chain" in item:
            chains.add(item["chain"]["name"])
        for kind in ("map", "set"):
            if kind in item:
                sets[item[kind]["name"]] = [_element_key(e) for e in item[kind].get("elem", [])]
    return {"chains": chains, "sets": sets}


def _element_key(element: Any) -> str:
    """A set element's or map entry's key, as `nft -j` writes either."""
    return str(element[0] if isinstance(element, list) else element)


def host_resolver() -> str | None:
    """The first resolver of the host that a sandbox can be sent to (not loopback)."""
    with suppress(OSError):
        for line in Path("/etc/resolv.conf").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "nameserver":
                with suppress(ValueError):
                    address = ipaddress.ip_address(parts[1])
                    if address.version == 4 and not address.is_loopback:
                        return str(address)
    return None


@contextmanager
def _locked() -> Iterator[None]:
    LINKS.mkdir(parents=True, exist_ok=True)
    with open(STATE / "network.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _records() -> list[Path]:
    return sorted(LINKS.glob("*.json")) if LINKS.is_dir() else []


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _record(path: Path) -> dict[str, Any]:
    try:
        found: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return found


def _write_record(name: str, link: Link, owner: str) -> None:
    record = {
        "address": link.address,
        "network": link.network,
        "groups": sorted(_group_set(g) for g in link.groups),
        "owner": owner,
    }
    temporary = LINKS / f".{name}.{os.getpid()}"
    temporary.write_text(json.dumps(record))
    os.rename(temporary, LINKS / f"{name}.json")


def _ip(arguments: list[str], check: bool = True) -> None:
    done = subprocess.run(["ip", *arguments], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SandboxError(f"ip {' '.join(arguments)}: {done.stderr.strip()}")


def _ip_batch(commands: list[str], namespace: str | None = None) -> None:
    prefix = ["-n", namespace] if namespace else []
    done = subprocess.run(
        ["ip", *prefix, "-batch", "-"],
        input="\n".join(commands) + "\n",
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SandboxError(f"ip: {done.stderr.strip()}")


def _nft(script: str, check: bool = True) -> None:
    error = _nft_finish(_nft_start(script))
    if check and error:
        raise SandboxError(f"nft: {error}")


def _nft_start(script: str) -> subprocess.Popen[str]:
    writing = subprocess.Popen(
        ["nft", "-f", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert writing.stdin is not None
    with suppress(BrokenPipeError), writing.stdin:  # nft reads it all, then works
        writing.stdin.write(script)
    return writing


def _nft_finish(writing: subprocess.Popen[str]) -> str:
    """Wait for an `nft -f` to end; its error ('' when it succeeded)."""
    assert writing.stderr is not None
    with writing.stderr:
        error = writing.stderr.read()
    return error.strip() if writing.wait() != 0 else ""
