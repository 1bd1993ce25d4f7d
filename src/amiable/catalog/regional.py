"""The per-region catalog: snapshots, import tasks, tags, images (volumes
join them as they are built).

Each migration only adds; `MIGRATIONS[n]` brings a catalog from schema n to
n + 1, so catalogs written by earlier releases are upgraded in place.
"""

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Index,
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


images = Table(
    "images",
    metadata,
    Column("image_id", String, primary_key=True),
    Column("owner_id", String(12), nullable=False),
    Column("name", String, nullable=False),
    Column("state", String, nullable=False),
    Column("creation_date", String, nullable=False),
    Column("document", Text, nullable=False),  # the Image output shape as JSON, without Tags
    Column("attributes", Text, nullable=False, default="{}"),  # input-only attributes (uefiData)
    Index("images_owner_name", "owner_id", "name", unique=True),
)

image_snapshots = Table(
    "image_snapshots",
    metadata,
    Column("image_id", String, ForeignKey("images.image_id", ondelete="CASCADE"), primary_key=True),
    Column("snapshot_id", String, primary_key=True, index=True),
)

_V1 = (snapshots, import_tasks, tags)
_V2 = (images, image_snapshots)


def v1_regional(conn: Connection) -> None:
    metadata.create_all(conn, tables=list(_V1))


def v2_images(conn: Connection) -> None:
    metadata.create_all(conn, tables=list(_V2))


MIGRATIONS = (v1_regional, v2_images)
