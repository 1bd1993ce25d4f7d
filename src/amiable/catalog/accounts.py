"""Accounts, their access keys and their place in an organization (the global catalog)."""

from contextlib import suppress
from dataclasses import astuple, dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    ForeignKey,
    MetaData,
    String,
    Table,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from .types import UTCDateTime

metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("alias", String, unique=True),
    Column("created", UTCDateTime, nullable=False),
    Column("organization_arn", String),  # since schema 2
    Column("ou_arn", String),  # since schema 2: the organizational unit it is in
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", String, primary_key=True),
    Column("secret_access_key", String, nullable=False),
    Column(
        "account_id",
        String(12),
        ForeignKey("accounts.account_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
)


def v1_accounts(conn: Connection) -> None:
    """Schema 1 exactly as it shipped; later migrations alter it."""
    conn.execute(
        text(
            "CREATE TABLE accounts (account_id VARCHAR(12) NOT NULL PRIMARY KEY, "
            "alias VARCHAR UNIQUE, created DATETIME NOT NULL)"
        )
    )
    metadata.create_all(conn, tables=[access_keys])


def v2_organizations(conn: Connection) -> None:
    """Accounts can belong to an organization and one of its OUs (launch permissions)."""
    conn.execute(text("ALTER TABLE accounts ADD COLUMN organization_arn VARCHAR"))
    conn.execute(text("ALTER TABLE accounts ADD COLUMN ou_arn VARCHAR"))


MIGRATIONS = (v1_accounts, v2_organizations)


class Duplicate(Exception):
    """An account id, alias or access key that is already taken."""


@dataclass(frozen=True)
class Account:
    account_id: str
    alias: str | None
    access_key_ids: tuple[str, ...]
    organization_arn: str | None = None
    ou_arn: str | None = None


@dataclass(frozen=True)
class Membership:
    """Where an account sits: its organization and organizational unit, if any."""

    organization_arn: str | None
    ou_arn: str | None


class Accounts:
    """Accounts and keys. Lookups are cached: keys and aliases are never
    changed or deleted, and a key created by another process is found on the
    first miss."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._keys: dict[str, tuple[str, str]] = {}
        self._aliases: dict[str, str | None] = {}
        self._memberships: dict[str, Membership] = {}

    def create(
        self,
        account_id: str,
        alias: str | None,
        key_id: str,
        secret: str,
        membership: Membership = Membership(None, None),
    ) -> Account:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    accounts.insert().values(
                        account_id=account_id,
                        alias=alias,
                        created=datetime.now(UTC),
                        organization_arn=membership.organization_arn,
                        ou_arn=membership.ou_arn,
                    )
                )
                conn.execute(
                    access_keys.insert().values(
                        access_key_id=key_id, secret_access_key=secret, account_id=account_id
                    )
                )
        except IntegrityError as exc:
            raise Duplicate(str(exc.orig)) from exc
        return Account(account_id, alias, (key_id,), *astuple(membership))

    def ensure(self, account_id: str, alias: str | None, key_id: str, secret: str) -> None:
        """Create the account unless it exists (for built-in accounts)."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(accounts.c.account_id).where(accounts.c.account_id == account_id)
            ).first()
        if found is None:
            with suppress(Duplicate):  # another process created it first
                self.create(account_id, alias, key_id, secret)

    def list(self) -> list[Account]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    accounts.c.account_id,
                    accounts.c.alias,
                    access_keys.c.access_key_id,
                    accounts.c.organization_arn,
                    accounts.c.ou_arn,
                )
                .join(access_keys, isouter=True)
                .order_by(accounts.c.account_id, access_keys.c.access_key_id)
            ).all()
        found: dict[str, Account] = {}
        for account_id, alias, key_id, organization, ou in rows:
            known = found.get(account_id)
            keys = (*known.access_key_ids, key_id) if known else ((key_id,) if key_id else ())
            found[account_id] = Account(account_id, alias, keys, organization, ou)
        return list(found.values())

    def by_key(self, key_id: str) -> tuple[str, str] | None:
        """(account id, secret) of an access key, or None."""
        cached = self._keys.get(key_id)
        if cached is not None:
            return cached
        with self.engine.connect() as conn:
            row = conn.execute(
                select(access_keys.c.account_id, access_keys.c.secret_access_key).where(
                    access_keys.c.access_key_id == key_id
                )
            ).first()
        if row is None:
            return None
        self._keys[key_id] = (row[0], row[1])
        return self._keys[key_id]

    def alias_of(self, account_id: str) -> str | None:
        if account_id not in self._aliases:
            with self.engine.connect() as conn:
                self._aliases[account_id] = conn.execute(
                    select(accounts.c.alias).where(accounts.c.account_id == account_id)
                ).scalar()
        return self._aliases[account_id]

    def membership(self, account_id: str) -> Membership:
        """The account's organization and OU (cached: they are set at creation)."""
        if account_id not in self._memberships:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(accounts.c.organization_arn, accounts.c.ou_arn).where(
                        accounts.c.account_id == account_id
                    )
                ).first()
            self._memberships[account_id] = Membership(*row) if row else Membership(None, None)
        return self._memberships[account_id]

    def key_of(self, account_id: str) -> tuple[str, str] | None:
        """One (access key, secret) of an account, for in-process sessions."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(access_keys.c.access_key_id, access_keys.c.secret_access_key)
                .where(access_keys.c.account_id == account_id)
                .order_by(access_keys.c.access_key_id)
            ).first()
        return (row[0], row[1]) if row else None
