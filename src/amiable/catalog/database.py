"""Opening a catalog database: SQLite in WAL mode, migrated to the current schema.

Every database records its schema version; opening one applies the missing
migrations in order, each in its own transaction, so a catalog written by an
older release is upgraded in place and a newer one is refused.
"""

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Table,
    create_engine,
    event,
    select,
)

from .errors import CatalogError

Migration = Callable[[Connection], None]

_version_meta = MetaData()
schema_version = Table("schema_version", _version_meta, Column("version", Integer, nullable=False))


def open_database(path: Path, migrations: Sequence[Migration]) -> Engine:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)  # holds secrets: owner only
        os.close(fd)
    engine = create_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", _pragmas)
    migrate(engine, migrations)
    return engine


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def migrate(engine: Engine, migrations: Sequence[Migration]) -> None:
    with engine.begin() as conn:
        _version_meta.create_all(conn)
        current = conn.execute(select(schema_version.c.version)).scalar()
        if current is None:
            conn.execute(schema_version.insert().values(version=0))
            current = 0
    if current > len(migrations):
        raise CatalogError(f"catalog schema {current} is newer than this release knows")
    for number, step in enumerate(migrations[current:], start=current + 1):
        with engine.begin() as conn:
            step(conn)
            conn.execute(schema_version.update().values(version=number))
