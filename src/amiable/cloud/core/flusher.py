"""Writing how far background work is to the catalog without slowing it down:
the work offers the latest value as often as it likes (cheap, any thread);
a thread of the flusher's own writes it when it changed, at most every
FLUSH_SECONDS, and otherwise calls `idle` every CHECK_SECONDS (to look for a
cancellation asked by another process, say)."""

import logging
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

FLUSH_SECONDS = 0.05
CHECK_SECONDS = 0.5

T = TypeVar("T")
log = logging.getLogger(__name__)


class Flusher(Generic[T]):
    """A context manager: its thread runs inside the `with`."""

    def __init__(
        self, name: str, write: Callable[[T], None], idle: Callable[[], None] | None = None
    ) -> None:
        self._write = write
        self._idle = idle
        self._lock = threading.Lock()
        self._value: T | None = None
        self._changed = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def offer(self, value: T) -> None:
        with self._lock:
            self._value = value
        self._changed.set()

    def __enter__(self) -> "Flusher[T]":
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopped.set()
        self._changed.set()
        self._thread.join()

    def _run(self) -> None:
        written: T | None = None
        while not self._stopped.is_set():
            self._changed.wait(CHECK_SECONDS)
            self._changed.clear()
            with self._lock:
                value = self._value
            try:
                if value is not None and value != written:
                    self._write(value)
                    written = value
                elif self._idle is not None:
                    self._idle()
            except Exception:  # a busy catalog, say: the next round tries again
                log.exception("writing progress failed")
            self._stopped.wait(FLUSH_SECONDS)
