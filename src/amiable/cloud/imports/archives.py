"""Tar archives (plain, gzip, zstd) as import sources: unpacked into a private
scratch directory of the region for the import (`tmp/<task id>-...`, so a
restart can remove an interrupted one's), then removed.

GNU tar does the unpacking, with full fidelity (owners when root, modes,
xattrs) and its own guards: leading `/` stripped, members with `..` refused,
links that would point outside created only as placeholders. Decompression
is done here (gzip, zstandard), so no compressor binary is needed, and the
archive is read here, so `progress` hears the bytes read after each read (an
exception it raises stops tar and removes what it unpacked). A named pipe
works as an archive too: it is read as it arrives.
"""

import gzip
import os
import select
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, cast

import zstandard

from amiable.cloud.core.errors import ApiError

_FORMATS = {
    ".tar": "tar",
    ".tar.gz": "gzip",
    ".tgz": "gzip",
    ".tar.zst": "zstd",
    ".tar.zstd": "zstd",
}


def archive_format(path: Path) -> str | None:
    """`tar`, `gzip` or `zstd` for an archive name this module reads, else None."""
    name = path.name.lower()
    for suffix, kind in sorted(_FORMATS.items(), key=lambda x: -len(x[0])):
        if name.endswith(suffix):
            return kind
    return None


def scratch_dirs(scratch: Path, task_id: str) -> list[Path]:
    """The scratch directories of a task's unpacking (left by an interrupted one)."""
    return sorted(scratch.glob(f"{task_id}-*"))


@contextmanager
def unpacked(
    archive: Path, scratch: Path, task_id: str, progress: Callable[[int], None]
) -> Iterator[Path]:
    scratch.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix=f"{task_id}-", dir=scratch))
    try:
        _untar(archive, target, progress)
        yield target
    finally:
        shutil.rmtree(target, ignore_errors=True)


class _Counted:
    """The archive's bytes as they are read, told to `progress` as they go (and
    while a pipe has nothing to read, so that a quiet pipe can be cancelled)."""

    QUIET_SECONDS = 0.1

    def __init__(self, raw: IO[bytes], progress: Callable[[int], None]) -> None:
        self._raw = raw
        self._progress = progress
        self.done = 0

    def read(self, size: int = -1) -> bytes:
        while not select.select([self._raw], [], [], self.QUIET_SECONDS)[0]:
            self._progress(self.done)
        data = self._raw.read(size)
        self.done += len(data)
        self._progress(self.done)
        return data


def _untar(archive: Path, target: Path, progress: Callable[[int], None]) -> None:
    command = ["tar", "-x", "-f", "-", "-C", str(target), "-p", "--xattrs", "--xattrs-include=*"]
    if os.geteuid() == 0:
        command += ["--same-owner", "--numeric-owner"]
    kind = archive_format(archive)
    with open(archive, "rb", buffering=0) as raw:  # unbuffered: a pipe's bytes as they come
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        assert process.stdin is not None
        try:
            counted = cast(IO[bytes], _Counted(raw, progress))  # read from start to end only
            _decompress(kind, counted, process.stdin)
        except BaseException as exc:
            process.kill()
            process.wait()
            if isinstance(exc, OSError | EOFError | zstandard.ZstdError):
                raise ApiError("InvalidParameter", f"cannot read {archive.name}: {exc}") from exc
            raise
        finally:
            process.stdin.close()
        errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
        if process.wait() != 0:
            first = next((line for line in errors.splitlines() if line.strip()), "tar failed")
            raise ApiError("InvalidParameter", f"cannot unpack {archive.name}: {first}")


def _decompress(kind: str | None, raw: IO[bytes], sink: Any) -> None:
    if kind == "gzip":
        with gzip.GzipFile(fileobj=raw) as source:
            shutil.copyfileobj(source, sink, 1 << 20)
    elif kind == "zstd":
        zstandard.ZstdDecompressor().copy_stream(raw, sink)
    else:
        shutil.copyfileobj(raw, sink, 1 << 20)
