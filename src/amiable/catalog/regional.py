"""The per-region catalog: snapshots, import tasks and tags (images and
volumes join them as they are built)."""

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

snapshots = Table(
    "snapshots",
    metadata,
    Column("snapshot_id", String, primary_key=True),
    Column("owner_id", String(12), nullable=False, index=True),
    Column("state", String, nullable=False),  # pending | completed | error
    Column("state_message", Text),
    Column("progress", Integer, nullable=False, default=0),
    Column("volume_id", String, nullable=False),
    Column("volume_size", Integer, nullable=False),  # GiB
    Column("description", Text, nullable=False, default=""),
    Column("encrypted", Boolean, nullable=False, default=False),
    Column("start_time", DateTime(timezone=True), nullable=False),
    Column("store_snapshot", String),  # the store's snapshot id once completed
)

import_tasks = Table(
    "import_tasks",
    metadata,
    Column("task_id", String, primary_key=True),
    Column("owner_id", String(12), nullable=False, index=True),
    Column("kind", String, nullable=False),  # snapshot (image later)
    Column("status", String, nullable=False),  # active | completed | deleted
    Column("status_message", Text),
    Column("progress", Integer, nullable=False, default=0),
    Column("url", Text, nullable=False),
    Column("format", String),
    Column("description", Text, nullable=False, default=""),
    Column("snapshot_id", String),
    Column("disk_image_size", Integer),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("worker", String),  # "<boot id>:<pid>" of the process running it
)

tags = Table(
    "tags",
    metadata,
    Column("resource_id", String, primary_key=True),
    Column("key", String, primary_key=True),
    Column("value", Text, nullable=False, default=""),
    Column("resource_type", String, nullable=False),
)


def v1_regional(conn: Connection) -> None:
    metadata.create_all(conn)


MIGRATIONS = (v1_regional,)
