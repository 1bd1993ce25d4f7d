"""Who besides its owner may use an image or a snapshot.

An image's launch permissions and a snapshot's createVolumePermission are
rows of the `permissions` table: (resource, kind, value), kind `user` (an
account id), `group` (`all`: public), `organization` or `ou` (ARNs; an
account belongs to them through `ami accounts create --organization-arn
--ou-arn`). Reads go through `visible`, a SQL condition, so every Describe
and every use checks the same rule.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, Table, and_, or_, select, true

from amiable.catalog.regional import permissions

from .actions import Context

Grant = tuple[str, str]  # (kind, value)
PUBLIC: Grant = ("group", "all")
ORGANIZATION_ARN = re.compile(r"arn:aws:organizations::\d{12}:organization/o-[a-z0-9]{10,32}")
OU_ARN = re.compile(
    r"arn:aws:organizations::\d{12}:ou/o-[a-z0-9]{10,32}/ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}"
)


@dataclass(frozen=True)
class Caller:
    account_id: str
    organization_arn: str | None
    ou_arn: str | None


def caller_of(ctx: Context) -> Caller:
    membership = ctx.cloud.accounts.membership(ctx.account_id)
    return Caller(ctx.account_id, membership.organization_arn, membership.ou_arn)


def is_account_id(value: str) -> bool:
    return len(value) == 12 and value.isascii() and value.isdigit()


def granted_to(caller: Caller, *, public: bool = True, memberships: bool = True) -> Any:
    """Grants that reach `caller`: its account, and (optionally) everyone and
    its organization and OU."""
    kind, value = permissions.c.kind, permissions.c.value
    reaching = [and_(kind == "user", value == caller.account_id)]
    if public:
        reaching.append(and_(kind == "group", value == "all"))
    if memberships and caller.organization_arn:
        reaching.append(and_(kind == "organization", value == caller.organization_arn))
    if memberships and caller.ou_arn:
        reaching.append(and_(kind == "ou", value == caller.ou_arn))
    return or_(*reaching)


def granted_ids(condition: Any) -> Select[Any]:
    return select(permissions.c.resource_id).where(condition)


def visible(
    table: Table, id_column: str, caller: Caller, public_blocked: Select[Any] | None = None
) -> ColumnElement[bool]:
    """Rows the caller owns or has been granted; `public_blocked` lists owners
    whose public grants are switched off (snapshot block public access)."""
    resource = table.c[id_column]
    personal = granted_ids(granted_to(caller, public=False))
    public = granted_ids(and_(permissions.c.kind == "group", permissions.c.value == "all"))
    public_ok: ColumnElement[bool] = resource.in_(public)
    if public_blocked is not None:
        public_ok = and_(public_ok, table.c.owner_id.not_in(public_blocked))
    return and_(
        outside_bin(table),
        or_(table.c.owner_id == caller.account_id, resource.in_(personal), public_ok),
    )


def outside_bin(table: Table) -> ColumnElement[bool]:
    """Rows not in the Recycle Bin: a binned image or snapshot is seen only
    through the Recycle Bin actions."""
    return table.c.bin_exit.is_(None) if "bin_exit" in table.c else true()


def grants_of(conn: Connection, resource_id: str) -> list[Grant]:
    rows = conn.execute(
        select(permissions.c.kind, permissions.c.value)
        .where(permissions.c.resource_id == resource_id)
        .order_by(permissions.c.kind, permissions.c.value)
    )
    return [(kind, value) for kind, value in rows]


def change(
    conn: Connection, resource_id: str, add: Iterable[Grant], remove: Iterable[Grant]
) -> None:
    for kind, value in remove:
        conn.execute(
            permissions.delete().where(
                permissions.c.resource_id == resource_id,
                permissions.c.kind == kind,
                permissions.c.value == value,
            )
        )
    for kind, value in add:
        conn.execute(
            permissions.insert()
            .prefix_with("OR IGNORE")
            .values(resource_id=resource_id, kind=kind, value=value)
        )


def clear(conn: Connection, resource_id: str) -> None:
    conn.execute(permissions.delete().where(permissions.c.resource_id == resource_id))
