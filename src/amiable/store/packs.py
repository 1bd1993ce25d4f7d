"""Pack files: many stored blobs in one file, named by the SHA-256 of the file.

A pack is the blobs' stored bytes back to back, 16 random bytes, then a
trailer (the table of the blobs it holds, in the index's binary format), then
the trailer's length as 4 little-endian bytes and the magic `AMIPACK1`. The
trailer makes a pack self-describing so that an index can be rebuilt from the
packs alone; the random bytes make every pack's name its own, so a writer
that gives up can remove the packs it made without touching an identical one
another writer indexed.
"""

import hashlib
import os
import secrets
import struct
import threading
import zlib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from .errors import CorruptObject
from .fsutil import fsync_dir, reraise_if_full, temp_path
from .table import Entry, decode_table, encode_table

PACK_TARGET_BYTES = 16 * 1024 * 1024
MAGIC = b"AMIPACK1"
_TAIL = struct.Struct("<I8s")
_NONCE_BYTES = 16


def pack_path(packs_dir: Path, pack_id: str) -> Path:
    return packs_dir / pack_id[:2] / pack_id


class _OpenPack:
    """A pack being filled in memory: its blobs' stored bytes and their rows."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.rows: list[tuple[str, Entry]] = []


class PackWriter:
    """Appends blobs to packs; thread-safe.

    Blobs are gathered in memory; a full pack is written, fsync'ed and renamed
    into place by one background thread while the callers go on compressing.
    At most two full packs wait for it, so memory stays bounded. Every blob
    added is durable once `flush` returns.
    """

    MAX_WAITING = 2

    def __init__(self, packs_dir: Path, tmp_dir: Path) -> None:
        self._packs_dir = packs_dir
        self._tmp_dir = tmp_dir
        self._lock = threading.Lock()
        self._open = _OpenPack()
        self._sealer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pack-writer")
        self._waiting: list[Future[None]] = []
        self._sealed: list[tuple[str, list[tuple[str, Entry]]]] = []
        self._temps: set[Path] = set()
        self.written: set[str] = set()
        self.bytes_written = 0
        self.indexed = False  # an index naming these packs may exist (see `committing`)

    def add(
        self, blob_id: str, kind: str, stored: bytes, raw_length: int, refs: tuple[str, ...] = ()
    ) -> bool:
        """Store a blob unless this writer already holds it; True if written."""
        crc = zlib.crc32(stored)
        with self._lock:
            if blob_id in self.written:
                return False
            pack = self._open
            pack.rows.append(
                (blob_id, Entry("", pack.size, len(stored), kind, raw_length, crc, refs))
            )
            pack.parts.append(stored)
            pack.size += len(stored)
            self.written.add(blob_id)
            self.bytes_written += len(stored)
            full = pack.size >= PACK_TARGET_BYTES
            if full:
                self._hand_over()
        if full:
            self._wait(self.MAX_WAITING)
        return True

    def flush(self) -> dict[str, Entry]:
        """Write out everything added so far; then all of it is durable."""
        with self._lock:
            if self._open.rows:
                self._hand_over()
        self._wait(0)
        with self._lock:
            return {b: e._replace(pack=p) for p, rows in self._sealed for b, e in rows}

    def abort(self) -> None:
        """Stop and remove unfinished pack files (finished ones are gc's)."""
        self._sealer.shutdown(wait=True, cancel_futures=True)
        for tmp in list(self._temps):
            tmp.unlink(missing_ok=True)

    @contextmanager
    def committing(self) -> Iterator[None]:
        """Work that ends with `commit_index`: if it fails before the index is
        written, the packs this writer made go with it (a retry or gc would
        otherwise be the only way to get their space back)."""
        try:
            yield
        except BaseException:
            if not self.indexed:
                self.discard()
            raise

    def discard(self) -> None:
        """Stop and remove every pack this writer made, finished ones too: for a
        write given up before its index was written (so no index names them and
        no other writer can use them)."""
        self.abort()
        with self._lock:
            sealed, self._sealed = self._sealed, []
        for pack_id, _ in sealed:
            pack_path(self._packs_dir, pack_id).unlink(missing_ok=True)

    def _hand_over(self) -> None:
        pack, self._open = self._open, _OpenPack()
        self._waiting.append(self._sealer.submit(self._seal, pack))

    def _wait(self, keep: int) -> None:
        while True:
            with self._lock:
                if len(self._waiting) <= keep:
                    return
                oldest = self._waiting.pop(0)
            oldest.result()

    def _seal(self, pack: _OpenPack) -> None:
        trailer = encode_table(dict(pack.rows), with_packs=False)
        pack.parts += [secrets.token_bytes(_NONCE_BYTES), trailer, _TAIL.pack(len(trailer), MAGIC)]
        digest = hashlib.sha256()
        for part in pack.parts:
            digest.update(part)
        pack_id = digest.hexdigest()
        tmp = temp_path(self._tmp_dir, "pack")
        self._temps.add(tmp)
        try:
            with open(tmp, "wb") as f:
                f.writelines(pack.parts)
                f.flush()
                os.fsync(f.fileno())
            final = pack_path(self._packs_dir, pack_id)
            final.parent.mkdir(exist_ok=True)
            os.replace(tmp, final)
            fsync_dir(final.parent)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            reraise_if_full(exc, "writing a pack file")
            raise
        finally:
            self._temps.discard(tmp)
        with self._lock:
            self._sealed.append((pack_id, pack.rows))


def read_trailer(path: Path) -> list[tuple[str, Entry]]:
    """The blobs a pack file says it holds."""
    pack_id = path.name
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        if size < _TAIL.size:
            raise CorruptObject(f"pack {pack_id} is truncated")
        f.seek(size - _TAIL.size)
        length, magic = _TAIL.unpack(f.read(_TAIL.size))
        if magic != MAGIC or length > size - _TAIL.size:
            raise CorruptObject(f"pack {pack_id} has no valid trailer")
        f.seek(size - _TAIL.size - length)
        raw = f.read(length)
    try:
        return list(decode_table(raw, own_pack=pack_id))
    except (ValueError, IndexError, struct.error) as exc:
        raise CorruptObject(f"pack {pack_id} has a damaged trailer") from exc


class PackReader:
    """Reads stored blobs out of pack files; each thread keeps a few files open."""

    MAX_OPEN_PER_THREAD = 32

    def __init__(self, packs_dir: Path) -> None:
        self._packs_dir = packs_dir
        self._local = threading.local()
        self._all: list[dict[str, int]] = []
        self._lock = threading.Lock()

    def read(self, blob_id: str, entry: Entry) -> bytes:
        data = os.pread(self._fd(entry.pack), entry.length, entry.offset)
        if len(data) != entry.length or zlib.crc32(data) != entry.crc:
            raise CorruptObject(f"object {blob_id} is damaged in pack {entry.pack}")
        return data

    def _fd(self, pack_id: str) -> int:
        fds: dict[str, int] | None = getattr(self._local, "fds", None)
        if fds is None:
            fds = self._local.fds = {}
            with self._lock:
                self._all.append(fds)
        fd = fds.get(pack_id)
        if fd is None:
            if len(fds) >= self.MAX_OPEN_PER_THREAD:
                os.close(fds.pop(next(iter(fds))))
            try:
                fd = os.open(pack_path(self._packs_dir, pack_id), os.O_RDONLY)
            except FileNotFoundError as exc:
                raise CorruptObject(f"pack {pack_id} is missing") from exc
            fds[pack_id] = fd
        return fd

    def close(self) -> None:
        with self._lock:
            for fds in self._all:
                for fd in fds.values():
                    os.close(fd)
                fds.clear()
