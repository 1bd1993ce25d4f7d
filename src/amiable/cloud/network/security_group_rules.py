"""Security group rules: AuthorizeSecurityGroupIngress and -Egress,
RevokeSecurityGroupIngress and -Egress, DescribeSecurityGroupRules,
ModifySecurityGroupRules, and the rules as DescribeSecurityGroups shows them.

A rule is one row: a direction, a protocol (`tcp`, `udp`, `icmp`, `icmpv6`,
another protocol's number, or -1 for all) with its ports (ICMP: type and
code; -1 where there are none) and one peer: an IPv4 block, an IPv6 block or
a group. EC2's IpPermissions give several peers to one protocol and port
range; a request's permissions are split into rules, and `permissions` joins
them back, one permission per protocol and port range, as EC2 shows them.

A group as peer must be the caller's and in the same VPC: there is no VPC
peering here, so another account's group is refused. Prefix lists do not
exist here either (PrefixListIds is refused). After every committed change
of a group's rules, the host rules of its VPC's running instances follow
(`enforcement.changed`).
"""

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, literal_column, select

from amiable.catalog.regional import security_group_rules
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.filters import field
from amiable.cloud.core.listing import filtered_page, owned_rows
from amiable.cloud.core.tags import apply_specifications

from . import enforcement, rows
from .rows import network

PORTED = ("tcp", "udp", "icmp", "icmpv6")  # protocols whose rules have ports (or ICMP types)
_NUMBERED = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}
_DESCRIPTION = re.compile(r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{0,255}")
_FLAT = ("CidrIp", "IpProtocol", "FromPort", "ToPort")
_SOURCE_GROUP = ("SourceSecurityGroupName", "SourceSecurityGroupOwnerId")
_BY_INSERTION: ColumnElement[Any] = literal_column("security_group_rules.rowid")


@dataclass(frozen=True)
class Rule:
    """One rule as the catalog keeps it (its columns, but for ids and direction)."""

    protocol: str
    from_port: int
    to_port: int
    cidr_ipv4: str | None = None
    cidr_ipv6: str | None = None
    referenced_group_id: str | None = None
    description: str | None = None

    @classmethod
    def of(cls, row: Any) -> "Rule":
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})

    @property
    def match(self) -> tuple[Any, ...]:
        """What makes two rules the same rule (the description does not)."""
        return (
            self.protocol,
            self.from_port,
            self.to_port,
            self.cidr_ipv4,
            self.cidr_ipv6,
            self.referenced_group_id,
        )

    @property
    def peer(self) -> str:
        return self.cidr_ipv4 or self.cidr_ipv6 or self.referenced_group_id or ""


def _invalid(message: str) -> ApiError:
    return ApiError("InvalidParameterValue", message)


def protocol_of(value: Any) -> str:
    """A protocol as EC2 keeps it: a name for the four it names, else a number."""
    text = str(value).strip().lower()
    if text in ("-1", *PORTED):
        return text
    if text.isdigit() and int(text) <= 255:
        return _NUMBERED.get(str(int(text)), str(int(text)))
    raise _invalid(f"Invalid value '{value}' for IP protocol. Unknown protocol.")


def _port_range(protocol: str, low: int | None, high: int | None) -> tuple[int, int]:
    if protocol in ("tcp", "udp"):
        return _tcp_udp(low, high)
    if protocol == "icmp" or (protocol == "icmpv6" and (low, high) != (None, None)):
        return _icmp(protocol, low, high)
    return -1, -1  # all ports (or types)


def _tcp_udp(low: int | None, high: int | None) -> tuple[int, int]:
    if low is None and high is None:
        raise _invalid(
            "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange."
        )
    first, last = (-1 if low is None else low), (-1 if high is None else high)
    for port in (first, last):
        if not 0 <= port <= 65535:
            raise ApiError("InvalidPermission.Malformed", f"TCP/UDP port ({port}) out of range")
    if first > last:
        raise _invalid(
            f"Invalid TCP/UDP port range {first}-{last}: the from port is above the to port."
        )
    return first, last


def _icmp(protocol: str, kind: int | None, code: int | None) -> tuple[int, int]:
    if kind is None or code is None:
        name = "ICMP" if protocol == "icmp" else "ICMPv6"
        raise _invalid(
            f"Invalid value 'Must specify both from and to ports with {name}.' for portRange."
        )
    if not -1 <= kind <= 255:
        raise _invalid(f"ICMP type ({kind}) out of range")
    if not -1 <= code <= 255 or (kind == -1 and code != -1):
        raise _invalid(f"ICMP code ({code}) out of range")
    return kind, code


def _description(entry: dict[str, Any]) -> str | None:
    text = entry.get("Description")
    if text is not None and not _DESCRIPTION.fullmatch(text):
        raise _invalid(
            "Invalid rule description. Valid descriptions are strings less than 256 characters "
            "from the following set:  a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*"
        )
    return text


def _block(value: str, kind: type[IPv4Network] | type[IPv6Network]) -> str:
    try:
        return str(kind(value, strict=False))
    except ValueError as exc:
        raise _invalid(f"CIDR block {value} is malformed") from exc


def _referenced(conn: Connection, group: Any, pair: dict[str, Any]) -> str:
    """The group a UserIdGroupPair names: the caller's, in the same VPC."""
    user = pair.get("UserId")
    if user not in (None, group.owner_id):
        raise _invalid(
            f"Rules here may reference only the account's own groups (no VPC peering): "
            f"{user}/{pair.get('GroupId') or pair.get('GroupName')}"
        )
    if pair.get("GroupId"):
        peer = rows.group_of(conn, group.owner_id, pair["GroupId"])
    elif pair.get("GroupName"):
        peer = rows.group_named(conn, group.owner_id, pair["GroupName"])
    else:
        raise ApiError("MissingParameter", "A UserIdGroupPair must name a GroupId or GroupName.")
    if peer.vpc_id != group.vpc_id:
        raise ApiError(
            "InvalidParameter",
            "You have specified two resources that belong to different networks.",
        )
    return str(peer.group_id)


def rules_in(conn: Connection, group: Any, permission: dict[str, Any]) -> list[Rule]:
    """The rules one IpPermission gives `group`: one per peer."""
    if permission.get("IpProtocol") is None:
        raise ApiError("MissingParameter", "The request must contain the parameter ipProtocol")
    if permission.get("PrefixListIds"):
        pl = permission["PrefixListIds"][0].get("PrefixListId")
        raise ApiError("InvalidPrefixListId.NotFound", f"The prefix list '{pl}' does not exist.")
    protocol = protocol_of(permission["IpProtocol"])
    low, high = _port_range(protocol, permission.get("FromPort"), permission.get("ToPort"))

    def rule(**peer: Any) -> Rule:
        return Rule(protocol, low, high, **peer)

    found = [
        *(
            rule(cidr_ipv4=_block(r["CidrIp"], IPv4Network), description=_description(r))
            for r in permission.get("IpRanges") or []
        ),
        *(
            rule(cidr_ipv6=_block(r["CidrIpv6"], IPv6Network), description=_description(r))
            for r in permission.get("Ipv6Ranges") or []
        ),
        *(
            rule(referenced_group_id=_referenced(conn, group, p), description=_description(p))
            for p in permission.get("UserIdGroupPairs") or []
        ),
    ]
    if not found:
        raise _invalid("CIDR block, a security group ID or a prefix list has to be specified")
    return found


def _flat_permissions(params: dict[str, Any], egress: bool) -> list[dict[str, Any]]:
    """The permissions the old flat parameters give (ingress only): CidrIp with
    a protocol and ports; or SourceSecurityGroupName, all ICMP, TCP and UDP."""
    flat = [name for name in (*_FLAT, *_SOURCE_GROUP) if params.get(name) is not None]
    if not flat:
        return []
    if egress:
        raise ApiError(
            "InvalidParameterCombination",
            f"AuthorizeSecurityGroupEgress takes IpPermissions only, not {', '.join(flat)}.",
        )
    if not any(name in flat for name in _SOURCE_GROUP):
        ranges = [{"CidrIp": params["CidrIp"]}] if "CidrIp" in params else []
        given: dict[str, Any] = {
            k: params[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in params
        }
        return [{**given, "IpRanges": ranges}]
    if any(name in flat for name in _FLAT) or "SourceSecurityGroupName" not in flat:
        raise ApiError(
            "InvalidParameterCombination",
            "SourceSecurityGroupName cannot be combined with CidrIp, IpProtocol, FromPort or "
            "ToPort, and SourceSecurityGroupOwnerId needs it.",
        )
    pair = {"GroupName": params["SourceSecurityGroupName"]}
    if "SourceSecurityGroupOwnerId" in params:
        pair["UserId"] = params["SourceSecurityGroupOwnerId"]
    return [
        {"IpProtocol": protocol, "FromPort": low, "ToPort": high, "UserIdGroupPairs": [pair]}
        for protocol, low, high in (("icmp", -1, -1), ("tcp", 0, 65535), ("udp", 0, 65535))
    ]


def asked(conn: Connection, group: Any, params: dict[str, Any], egress: bool) -> list[Rule]:
    """The rules a request's IpPermissions (and flat parameters) give."""
    permissions = [*(params.get("IpPermissions") or []), *_flat_permissions(params, egress)]
    if not permissions:
        raise ApiError("MissingParameter", "The request must contain the parameter ipPermissions")
    return [rule for p in permissions for rule in rules_in(conn, group, p)]


def rule_rows(conn: Connection, group_ids: Iterable[str]) -> list[Row[Any]]:
    """The groups' rules, in the order they were added."""
    query = select(security_group_rules).where(security_group_rules.c.group_id.in_(list(group_ids)))
    return list(conn.execute(query.order_by(_BY_INSERTION)))


def _direction(conn: Connection, group_id: str, egress: bool) -> list[Row[Any]]:
    return [row for row in rule_rows(conn, [group_id]) if row.egress == egress]


def _text(rule: Rule) -> str:
    """A rule as EC2's duplicate error names it."""
    if rule.protocol in ("tcp", "udp"):
        what = f"{rule.protocol.upper()}, from port: {rule.from_port}, to port: {rule.to_port}"
    elif rule.protocol in ("icmp", "icmpv6"):
        what = f"{rule.protocol.upper()}, type: {rule.from_port}, code: {rule.to_port}"
    else:
        what = "ALL" if rule.protocol == "-1" else rule.protocol
    return f"peer: {rule.peer}, {what}, ALLOW"


def _check_new(wanted: list[Rule], existing: Iterable[Rule]) -> None:
    if len({rule.match for rule in wanted}) < len(wanted):
        raise _invalid("The same permission must not appear multiple times")
    have = {rule.match for rule in existing}
    for rule in wanted:
        if rule.match in have:
            raise ApiError(
                "InvalidPermission.Duplicate", f'the specified rule "{_text(rule)}" already exists'
            )


def shown_rule(region_name: str, row: Any, tags: list[dict[str, str]]) -> dict[str, Any]:
    """A rule as DescribeSecurityGroupRules shows it."""
    shown: dict[str, Any] = {
        "SecurityGroupRuleId": row.rule_id,
        "GroupId": row.group_id,
        "GroupOwnerId": row.owner_id,
        "IsEgress": row.egress,
        "IpProtocol": row.protocol,
        "FromPort": row.from_port,
        "ToPort": row.to_port,
        "CidrIpv4": row.cidr_ipv4,
        "CidrIpv6": row.cidr_ipv6,
        "Description": row.description,
        "Tags": tags,
        "SecurityGroupRuleArn": (
            f"arn:aws:ec2:{region_name}:{row.owner_id}:security-group-rule/{row.rule_id}"
        ),
    }
    if row.referenced_group_id:
        shown["ReferencedGroupInfo"] = {"GroupId": row.referenced_group_id, "UserId": row.owner_id}
    return shown


def _revoked(row: Any) -> dict[str, Any]:
    return {
        "SecurityGroupRuleId": row.rule_id,
        "GroupId": row.group_id,
        "IsEgress": row.egress,
        "IpProtocol": row.protocol,
        "FromPort": row.from_port,
        "ToPort": row.to_port,
        "CidrIpv4": row.cidr_ipv4,
        "CidrIpv6": row.cidr_ipv6,
        "ReferencedGroupId": row.referenced_group_id,
        "Description": row.description,
    }


def permissions(rules: Iterable[Rule], owner: str) -> list[dict[str, Any]]:
    """Rules as IpPermissions: one per protocol and port range, its peers in lists."""
    grouped: dict[tuple[str, int, int], dict[str, Any]] = {}
    for rule in rules:
        key = (rule.protocol, rule.from_port, rule.to_port)
        if key not in grouped:
            grouped[key] = _permission(*key)
        entry = grouped[key]
        described = {"Description": rule.description} if rule.description is not None else {}
        if rule.cidr_ipv4:
            entry["IpRanges"].append({"CidrIp": rule.cidr_ipv4, **described})
        elif rule.cidr_ipv6:
            entry["Ipv6Ranges"].append({"CidrIpv6": rule.cidr_ipv6, **described})
        else:
            pair = {"UserId": owner, "GroupId": rule.referenced_group_id, **described}
            entry["UserIdGroupPairs"].append(pair)
    return list(grouped.values())


def _permission(protocol: str, low: int, high: int) -> dict[str, Any]:
    ports = {"FromPort": low, "ToPort": high} if protocol in PORTED else {}
    return {
        "IpProtocol": protocol,
        **ports,
        "IpRanges": [],
        "Ipv6Ranges": [],
        "UserIdGroupPairs": [],
        "PrefixListIds": [],
    }


def _authorize(ctx: Context, params: dict[str, Any], egress: bool) -> dict[str, Any]:
    region = network(ctx)
    with region.catalog.begin() as conn:
        rows.lock(conn, ctx.account_id)
        group = rows.target_group(conn, ctx.account_id, params)
        wanted = asked(conn, group, params, egress)
        _check_new(wanted, map(Rule.of, _direction(conn, group.group_id, egress)))
        made = []
        for rule in wanted:
            rule_id = rows.new_rule(
                conn, group.group_id, ctx.account_id, egress=egress, **asdict(rule)
            )
            tags = apply_specifications(
                conn,
                params.get("TagSpecifications"),
                "security-group-rule",
                rule_id,
                ctx.account_id,
            )
            made.append((rule_id, tags))
        shown = {row.rule_id: row for row in rule_rows(conn, [group.group_id])}
    enforcement.changed(region, group.vpc_id)
    return {
        "Return": True,
        "SecurityGroupRules": [shown_rule(region.name, shown[i], tags) for i, tags in made],
    }


@action("ec2", "AuthorizeSecurityGroupIngress")
def authorize_security_group_ingress(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return _authorize(ctx, params, egress=False)


@action("ec2", "AuthorizeSecurityGroupEgress")
def authorize_security_group_egress(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return _authorize(ctx, params, egress=True)


def rule_not_found(ids: list[str]) -> ApiError:
    return ApiError(
        "InvalidSecurityGroupRuleId.NotFound",
        f"The security group rule ID '{', '.join(ids)}' does not exist",
    )


def _chosen_by_id(have: list[Row[Any]], ids: list[str]) -> list[Row[Any]]:
    by_id = {row.rule_id: row for row in have}
    missing = [rule_id for rule_id in ids if rule_id not in by_id]
    if missing:
        raise rule_not_found(missing)
    return [by_id[rule_id] for rule_id in dict.fromkeys(ids)]


def _chosen_by_permission(
    conn: Connection, group: Any, have: list[Row[Any]], params: dict[str, Any], egress: bool
) -> tuple[list[Row[Any]], list[Rule]]:
    """The rules the permissions name, and those they name that do not exist:
    an error outside the default VPC, reported back in the default VPC (as EC2)."""
    index = {Rule.of(row).match: row for row in have}
    wanted = asked(conn, group, params, egress)
    unknown = [rule for rule in wanted if rule.match not in index]
    if unknown and not rows.vpc_of(conn, group.owner_id, group.vpc_id).is_default:
        raise ApiError(
            "InvalidPermission.NotFound",
            "The specified rule does not exist in this security group.",
        )
    chosen = {
        index[rule.match].rule_id: index[rule.match] for rule in wanted if rule.match in index
    }
    return list(chosen.values()), unknown


def _revoke(ctx: Context, params: dict[str, Any], egress: bool) -> dict[str, Any]:
    region = network(ctx)
    ids = params.get("SecurityGroupRuleIds") or []
    with region.catalog.begin() as conn:
        rows.lock(conn, ctx.account_id)
        group = rows.target_group(conn, ctx.account_id, params)
        have = _direction(conn, group.group_id, egress)
        if ids and (params.get("IpPermissions") or _flat_permissions(params, egress)):
            raise ApiError(
                "InvalidParameterCombination",
                "Give either SecurityGroupRuleIds or IpPermissions, not both.",
            )
        chosen, unknown = (
            (_chosen_by_id(have, ids), [])
            if ids
            else _chosen_by_permission(conn, group, have, params, egress)
        )
        rows.remove_rules(conn, [row.rule_id for row in chosen])
    if chosen:
        enforcement.changed(region, group.vpc_id)
    answer: dict[str, Any] = {
        "Return": True,
        "RevokedSecurityGroupRules": [_revoked(row) for row in chosen],
    }
    if unknown:
        answer["UnknownIpPermissions"] = permissions(unknown, group.owner_id)
    return answer


@action("ec2", "RevokeSecurityGroupIngress")
def revoke_security_group_ingress(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return _revoke(ctx, params, egress=False)


@action("ec2", "RevokeSecurityGroupEgress")
def revoke_security_group_egress(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return _revoke(ctx, params, egress=True)


_RULE_FILTERS = {
    "group-id": field("GroupId"),
    "security-group-rule-id": field("SecurityGroupRuleId"),
}


@action("ec2", "DescribeSecurityGroupRules")
def describe_security_group_rules(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region = network(ctx)
    found, tags = owned_rows(
        region,
        security_group_rules,
        "rule_id",
        ctx.account_id,
        params.get("SecurityGroupRuleIds") or [],
        rule_not_found,
    )
    items = [shown_rule(region.name, row, tags[row.rule_id]) for row in found]
    chosen, token = filtered_page(items, params, _RULE_FILTERS, "SecurityGroupRuleId")
    return {"SecurityGroupRules": chosen, "NextToken": token}


def _requested(conn: Connection, group: Any, request: dict[str, Any]) -> Rule:
    """The one rule a SecurityGroupRuleRequest describes."""
    described = {"Description": request["Description"]} if "Description" in request else {}
    permission: dict[str, Any] = {
        k: request[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in request
    }
    if "CidrIpv4" in request:
        permission["IpRanges"] = [{"CidrIp": request["CidrIpv4"], **described}]
    if "CidrIpv6" in request:
        permission["Ipv6Ranges"] = [{"CidrIpv6": request["CidrIpv6"], **described}]
    if "ReferencedGroupId" in request:
        permission["UserIdGroupPairs"] = [{"GroupId": request["ReferencedGroupId"], **described}]
    if "PrefixListId" in request:
        permission["PrefixListIds"] = [{"PrefixListId": request["PrefixListId"]}]
    found = rules_in(conn, group, permission)
    if len(found) != 1:
        raise _invalid("A security group rule has exactly one CIDR block or referenced group.")
    return found[0]


@action("ec2", "ModifySecurityGroupRules")
def modify_security_group_rules(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Each rule named is replaced by the rule given (its direction stays)."""
    region = network(ctx)
    with region.catalog.begin() as conn:
        rows.lock(conn, ctx.account_id)
        group = rows.group_of(conn, ctx.account_id, params["GroupId"])
        for update in params["SecurityGroupRules"]:
            (row,) = _chosen_by_id(
                rule_rows(conn, [group.group_id]), [update["SecurityGroupRuleId"]]
            )
            rule = _requested(conn, group, update.get("SecurityGroupRule") or {})
            others = [
                r for r in _direction(conn, group.group_id, row.egress) if r.rule_id != row.rule_id
            ]
            _check_new([rule], map(Rule.of, others))
            conn.execute(
                security_group_rules.update()
                .where(security_group_rules.c.rule_id == row.rule_id)
                .values(**asdict(rule))
            )
    enforcement.changed(region, group.vpc_id)
    return {"Return": True}
