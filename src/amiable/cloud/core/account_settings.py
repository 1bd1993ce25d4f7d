"""Settings an account has in each region (block public access, encryption by
default, allowed images): named values in the regional catalog, with defaults."""

from sqlalchemy import Connection, select
from sqlalchemy.dialects.sqlite import insert

from amiable.catalog.regional import account_settings

from .actions import Context


def read(conn: Connection, account_id: str, name: str, default: str) -> str:
    value = conn.execute(
        select(account_settings.c.value).where(
            account_settings.c.account_id == account_id, account_settings.c.name == name
        )
    ).scalar()
    return default if value is None else str(value)


def write_for_caller(ctx: Context, name: str, value: str) -> None:
    """Set one of the calling account's settings in the request's region."""
    with ctx.cloud.region(ctx.region).catalog.begin() as conn:
        write(conn, ctx.account_id, name, value)


def write(conn: Connection, account_id: str, name: str, value: str) -> None:
    statement = insert(account_settings).values(account_id=account_id, name=name, value=value)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["account_id", "name"], set_={"value": statement.excluded.value}
        )
    )
