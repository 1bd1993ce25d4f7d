"""Durable file writes: temp file, fsync, rename, fsync directory."""

import errno
import os
import secrets
from pathlib import Path

from .errors import StoreFull


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path(tmp_dir: Path, hint: str) -> Path:
    return tmp_dir / f"{hint}-{secrets.token_hex(8)}"


def write_atomic(path: Path, data: bytes, tmp_dir: Path) -> None:
    """Write `data` to `path` so that `path` is either absent or complete."""
    tmp = temp_path(tmp_dir, path.name[:16])
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def reraise_if_full(exc: OSError, what: str) -> None:
    """Turn ENOSPC/EDQUOT into StoreFull; leave other errors alone."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        raise StoreFull(f"no space left on device while {what}") from exc
