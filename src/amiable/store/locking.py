"""Store-wide locks: writers and readers share, gc excludes everyone.

`flock` on `STORE/lock`; the kernel drops a lock when its holder dies, so a
kill -9 never leaves a stale lock behind.
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
