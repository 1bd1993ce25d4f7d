"""When a snapshot lock holds: its state from the clock, and the deletion check.

Kept apart from the lock actions so that deleting a snapshot can ask without
importing them.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from amiable.catalog.regional import snapshot_locks
from amiable.cloud.core.errors import ApiError


def lock_state(lock: Any, now: datetime) -> str:
    if now >= lock.expires:
        return "expired"
    if lock.mode == "governance":
        return "governance"
    if lock.cool_off_expires is not None and now < lock.cool_off_expires:
        return "compliance-cooloff"
    return "compliance"


def refuse_if_locked(conn: Connection, snapshot_id: str, now: datetime) -> None:
    """DeleteSnapshot's check: a lock that has not expired keeps the snapshot."""
    lock = lock_of(conn, snapshot_id)
    if lock is not None and lock_state(lock, now) != "expired":
        raise ApiError(
            "SnapshotLocked",
            f"The snapshot {snapshot_id} is locked ({lock_state(lock, now)}) until "
            f"{lock.expires.isoformat()} and cannot be deleted.",
        )


def lock_of(conn: Connection, snapshot_id: str) -> Any:
    """The snapshot's lock row, or None."""
    return conn.execute(
        select(snapshot_locks).where(snapshot_locks.c.snapshot_id == snapshot_id)
    ).first()
