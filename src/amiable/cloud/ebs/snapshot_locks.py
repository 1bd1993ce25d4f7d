"""Snapshot locks: LockSnapshot, UnlockSnapshot, DescribeLockedSnapshots.

A lock protects a snapshot from deletion until it expires. Governance locks
can be changed or removed at any time; compliance locks only during their
cooling-off period, after which they can only be extended. The state is
derived from the clock at each read: `governance`, `compliance-cooloff`,
`compliance`, or `expired` (which protects nothing and may be replaced).
"""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert

from amiable.catalog.regional import snapshot_locks
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError, invalid_value
from amiable.cloud.core.filters import field
from amiable.cloud.core.home import Region
from amiable.cloud.core.listing import filtered_page

from .lock_rules import lock_of, lock_state
from .snapshots import check_ids, owned_snapshot

MAX_DAYS = 36500
MAX_COOL_OFF_HOURS = 72


def _expiry(params: dict[str, Any], now: datetime) -> tuple[datetime, int | None]:
    if ("LockDuration" in params) == ("ExpirationDate" in params):
        raise ApiError(
            "InvalidParameterCombination", "Specify either LockDuration or ExpirationDate."
        )
    if "LockDuration" in params:
        days = int(params["LockDuration"])
        if not 1 <= days <= MAX_DAYS:
            raise invalid_value("LockDuration", days, f"1 to {MAX_DAYS} days")
        return now + timedelta(days=days), days
    date: datetime = params["ExpirationDate"]
    if date <= now:
        raise invalid_value("ExpirationDate", date.isoformat(), "it must be in the future")
    return date, None


def _cool_off(params: dict[str, Any], mode: str) -> int | None:
    hours = params.get("CoolOffPeriod")
    if hours is None:
        return None
    if mode != "compliance":
        raise ApiError(
            "InvalidParameterCombination", "CoolOffPeriod applies to compliance mode only."
        )
    if not 1 <= hours <= MAX_COOL_OFF_HOURS:
        raise invalid_value("CoolOffPeriod", hours, f"1 to {MAX_COOL_OFF_HOURS} hours")
    return int(hours)


def _check_change(existing: Any, mode: str, expires: datetime, now: datetime) -> None:
    """After the cooling-off period a compliance lock can only be extended."""
    if existing is None or lock_state(existing, now) != "compliance":
        return
    if mode != "compliance" or expires < existing.expires:
        raise ApiError(
            "SnapshotLocked",
            "The snapshot is locked in compliance mode past its cooling-off period; "
            "the lock can only be extended.",
        )


@action("ec2", "LockSnapshot")
def lock_snapshot(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    snapshot_id, mode = params["SnapshotId"], params["LockMode"]
    check_ids([snapshot_id])
    if mode not in ("governance", "compliance"):
        raise invalid_value("LockMode", mode, "governance or compliance")
    now = ctx.cloud.clock.now()
    expires, days = _expiry(params, now)
    hours = _cool_off(params, mode)
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.begin() as conn:
        owned_snapshot(conn, ctx.account_id, snapshot_id)
        existing = lock_of(conn, snapshot_id)
        _check_change(existing, mode, expires, now)
        kept = existing if existing and lock_state(existing, now) == "compliance" else None
        row = {
            "snapshot_id": snapshot_id,
            "owner_id": ctx.account_id,
            "mode": mode,
            "created": now,
            "duration_start": now,
            "expires": expires,
            "duration_days": days,
            "cool_off_hours": kept.cool_off_hours if kept else hours,
            "cool_off_expires": (
                kept.cool_off_expires if kept else (now + timedelta(hours=hours) if hours else None)
            ),
        }
        statement = insert(snapshot_locks).values(**row)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["snapshot_id"],
                set_={k: v for k, v in row.items() if k not in ("snapshot_id", "created")},
            )
        )
        lock = lock_of(conn, snapshot_id)
    return _shown(lock, now)


@action("ec2", "UnlockSnapshot")
def unlock_snapshot(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    snapshot_id = params["SnapshotId"]
    check_ids([snapshot_id])
    now = ctx.cloud.clock.now()
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.begin() as conn:
        owned_snapshot(conn, ctx.account_id, snapshot_id)
        lock = lock_of(conn, snapshot_id)
        state = lock_state(lock, now) if lock is not None else "unlocked"
        if state == "compliance":
            raise ApiError(
                "SnapshotLocked",
                f"The snapshot {snapshot_id} is locked in compliance mode past its "
                "cooling-off period and cannot be unlocked.",
            )
        if state in ("unlocked", "expired"):
            raise ApiError("IncorrectState", f"The snapshot {snapshot_id} is not locked.")
        conn.execute(snapshot_locks.delete().where(snapshot_locks.c.snapshot_id == snapshot_id))
    return {"SnapshotId": snapshot_id}


def _shown(lock: Any, now: datetime) -> dict[str, Any]:
    shown = {
        "SnapshotId": lock.snapshot_id,
        "LockState": lock_state(lock, now),
        "LockDuration": lock.duration_days,
        "CoolOffPeriod": lock.cool_off_hours,
        "CoolOffPeriodExpiresOn": lock.cool_off_expires,
        "LockCreatedOn": lock.created,
        "LockExpiresOn": lock.expires,
        "LockDurationStartTime": lock.duration_start,
    }
    return {k: v for k, v in shown.items() if v is not None}


@action("ec2", "DescribeLockedSnapshots")
def describe_locked_snapshots(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    wanted = params.get("SnapshotIds") or []
    check_ids(wanted)
    query = select(snapshot_locks).where(snapshot_locks.c.owner_id == ctx.account_id)
    if wanted:
        query = query.where(snapshot_locks.c.snapshot_id.in_(wanted))
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.connect() as conn:
        locks = conn.execute(query.order_by(snapshot_locks.c.snapshot_id)).all()
    now = ctx.cloud.clock.now()
    items = [_shown(lock, now) for lock in locks]
    results, token = filtered_page(items, params, {"lock-state": field("LockState")}, "SnapshotId")
    return {"Snapshots": results, "NextToken": token}
