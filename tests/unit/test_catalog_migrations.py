"""Migrations replay to exactly the schema the code's tables describe."""

from pathlib import Path

import pytest
from sqlalchemy import MetaData, inspect

from amiable.catalog import accounts, regional
from amiable.catalog.database import CatalogError, Migration, migrate, open_database


@pytest.mark.parametrize(
    ("metadata", "migrations"),
    [(regional.metadata, regional.MIGRATIONS), (accounts.metadata, accounts.MIGRATIONS)],
)
def test_migrated_schema_matches_the_tables(
    tmp_path: Path, metadata: MetaData, migrations: tuple[Migration, ...]
) -> None:
    engine = open_database(tmp_path / "catalog.db", migrations)
    found = inspect(engine)
    for table in metadata.sorted_tables:
        columns = {c["name"] for c in found.get_columns(table.name)}
        assert columns == {c.name for c in table.columns}, table.name


def test_a_newer_catalog_is_refused(tmp_path: Path) -> None:
    engine = open_database(tmp_path / "catalog.db", regional.MIGRATIONS)
    with pytest.raises(CatalogError, match="newer than this release"):
        migrate(engine, regional.MIGRATIONS[:2])
