"""Long work that outlives the request that started it (imports, copies,
captures, instance transitions), each in a thread of its own, and how it
ends: `close()` waits until all of it is done, cancelling first what can be
cancelled when asked to (or when interrupted while waiting), so a process
never exits with work half done.

A process's exit waits for its unfinished background work the same way (as
it waits for non-daemon threads), and before Python's thread pools stop
taking work (the store's snapshot pools are such pools: work cut off by the
interpreter's shutdown died with "cannot schedule new futures after
interpreter shutdown").
"""

import contextlib
import logging
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """Raised inside cancellable work once its cancellation was asked for."""


class Cancel:
    """The flag a piece of cancellable work checks, with the reason it was asked."""

    def __init__(self) -> None:
        self._asked = threading.Event()
        self.reason = ""

    def ask(self, reason: str) -> None:
        if not self._asked.is_set():
            self.reason = reason
            self._asked.set()

    @property
    def asked(self) -> bool:
        return self._asked.is_set()

    def check(self) -> None:
        """Raise Cancelled if cancellation was asked for."""
        if self._asked.is_set():
            raise Cancelled(self.reason)


class Background:
    """The threads of one cloud's background work."""

    def __init__(self, after_each: Callable[[], None]) -> None:
        self._after_each = after_each
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._running: dict[int, tuple[str | None, Cancel | None]] = {}
        self._cancelling: str | None = None  # set: cancellable work is cancelled at birth
        self._next = 0
        ref = weakref.ref(self)
        _before_pools_stop(lambda: _close_if_alive(ref))

    def run(
        self,
        work: Callable[..., Any],
        args: tuple[Any, ...],
        key: str | None = None,
        cancel: Cancel | None = None,
    ) -> "Future[Any]":
        """Start `work(*args)`; `key` names it for `cancel`, `cancel` is its flag."""
        future: Future[Any] = Future()
        with self._lock:
            number = self._next
            self._next += 1
            self._running[number] = (key, cancel)
            if cancel is not None and self._cancelling is not None:
                cancel.ask(self._cancelling)
        thread = threading.Thread(
            target=self._run,
            args=(number, future, work, args),
            name=f"amiable-work-{number}",
            daemon=True,  # close() and the exit hook wait; a second Ctrl-C may give up
        )
        thread.start()
        return future

    def _run(
        self, number: int, future: "Future[Any]", work: Callable[..., Any], args: tuple[Any, ...]
    ) -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result(work(*args))
        except BaseException as exc:
            log.exception("background work %s failed", getattr(work, "__name__", work))
            future.set_exception(exc)
        finally:
            with self._lock:
                del self._running[number]
                self._idle.notify_all()
            try:
                self._after_each()
            except Exception:
                log.exception("after background work")

    def cancel(self, key: str, reason: str) -> bool:
        """Ask the running work named `key` to stop; False if none runs here."""
        with self._lock:
            flags = [c for k, c in self._running.values() if k == key and c is not None]
        for flag in flags:
            flag.ask(reason)
        return bool(flags)

    def _cancel_all(self, reason: str) -> None:
        with self._lock:
            self._cancelling = reason
            flags = [c for _, c in self._running.values() if c is not None]
        for flag in flags:
            flag.ask(reason)

    def close(self, cancel: str | None = None) -> None:
        """Wait until no work runs, work started meanwhile included. With
        `cancel` (a reason), cancellable work is cancelled first. Interrupted
        (Ctrl-C) while waiting, it cancels what it can and goes on waiting; a
        second interruption stops the wait."""
        if cancel is not None:
            self._cancel_all(cancel)
        try:
            self._wait()
        except KeyboardInterrupt:
            self._cancel_all("interrupted")
            self._wait()

    def _wait(self) -> None:
        with self._lock:
            while self._running:
                self._idle.wait(0.5)


def _close_if_alive(ref: "weakref.ref[Background]") -> None:
    background = ref()
    if background is not None:
        with contextlib.suppress(KeyboardInterrupt):  # interrupted twice: exit anyway
            background.close()


def _before_pools_stop(hook: Callable[[], None]) -> None:
    """Run `hook` when the interpreter begins to shut down, before
    concurrent.futures' pools refuse new work (their own hook, registered
    when that module was imported, runs after hooks registered later)."""
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        register(hook)
