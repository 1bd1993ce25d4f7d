"""Store-wide locks: writers and readers share, gc excludes everyone.

`flock` on `STORE/lock`; the kernel drops a lock when its holder dies, so a
kill -9 never leaves a stale lock behind. `exclusive_if_free` never waits:
it is how work that can be done later (gc after a failure, counting what gc
would free) stays out of the way of a store in use.
"""

import fcntl
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path


@contextmanager
def _locked(path: Path, how: int) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, how)
        yield
    finally:
        os.close(fd)


def shared(path: Path) -> AbstractContextManager[None]:
    return _locked(path, fcntl.LOCK_SH)


def exclusive(path: Path) -> AbstractContextManager[None]:
    return _locked(path, fcntl.LOCK_EX)


@contextmanager
def exclusive_if_free(path: Path) -> Iterator[bool]:
    """Holds the exclusive lock (True) if no one uses the store now, else
    holds nothing (False)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(fd)
