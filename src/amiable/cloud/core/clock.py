"""The one clock every time-dependent rule reads (deprecation, cooldowns,
retention, ages): real time plus an offset that tests move forward instead
of sleeping."""

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta


def iso(stamp: datetime) -> str:
    """EC2's timestamp text: milliseconds and `Z`."""
    stamp = stamp.astimezone(UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    """An ISO 8601 timestamp as EC2 writes it (`Z` or an offset) as an aware datetime."""
    stamp = datetime.fromisoformat(text)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
