"""Tar archives (plain, gzip, zstd) as import sources: unpacked into a private
scratch directory of the region for the import, then removed.

GNU tar does the unpacking, with full fidelity (owners when root, modes,
xattrs) and its own guards: leading `/` stripped, members with `..` refused,
links that would point outside created only as placeholders. Decompression
is done here (gzip, zstandard), so no compressor binary is needed.
"""

import gzip
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

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


@contextmanager
def unpacked(archive: Path, scratch: Path) -> Iterator[Path]:
    scratch.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix="import-", dir=scratch))
    try:
        _untar(archive, target)
        yield target
    finally:
        shutil.rmtree(target, ignore_errors=True)


def _untar(archive: Path, target: Path) -> None:
    command = ["tar", "-x", "-f", "-", "-C", str(target), "-p", "--xattrs", "--xattrs-include=*"]
    if os.geteuid() == 0:
        command += ["--same-owner", "--numeric-owner"]
    kind = archive_format(archive)
    with open(archive, "rb") as raw:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        assert process.stdin is not None
        try:
            _decompress(kind, raw, process.stdin)
        except (OSError, EOFError, zstandard.ZstdError) as exc:
            process.kill()
            process.wait()
            raise ApiError("InvalidParameter", f"cannot read {archive.name}: {exc}") from exc
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
