"""The index: which pack holds each blob, and which blobs each tree refers to.

Index files are immutable, zstd-compressed binary tables named by the SHA-256
of their content (layout in docs/store-format.md). Every writer adds its own
file, so concurrent writers never need to coordinate; gc consolidates them.
A tree's `refs` (its child blob ids) let gc, fsck and copy walk a snapshot
without decrypting it.
"""

import hashlib
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

import zstandard

from .errors import CorruptObject
from .fsutil import write_atomic
from .packs import PackWriter
from .table import Entry, decode_table, encode_table


class Index:
    """All blobs in the store, loaded from every index file."""

    def __init__(self, index_dir: Path) -> None:
        self.dir = index_dir
        self.entries: dict[str, Entry] = {}
        self.files: list[str] = []

    def load(self) -> "Index":
        for path in sorted(self.dir.iterdir()):
            if path.name.startswith("."):
                continue
            self.files.append(path.name)
            for blob_id, entry in read_index_file(path):
                self.entries.setdefault(blob_id, entry)
        return self

    def __contains__(self, blob_id: str) -> bool:
        return blob_id in self.entries

    def __getitem__(self, blob_id: str) -> Entry:
        return self.entries[blob_id]

    def reachable(self, roots: Iterable[str]) -> set[str]:
        """Every blob reachable from `roots` through tree refs (missing ones too)."""
        seen: set[str] = set()
        stack = list(roots)
        while stack:
            blob_id = stack.pop()
            if blob_id in seen:
                continue
            seen.add(blob_id)
            entry = self.entries.get(blob_id)
            if entry is not None and entry.refs:
                stack.extend(r for r in entry.refs if r not in seen)
        return seen


_MAGIC = b"AMIIDX01"


def read_index_file(path: Path) -> Iterator[tuple[str, Entry]]:
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != path.name:
        raise CorruptObject(f"index file {path.name} does not match its name")
    try:
        raw = zstandard.ZstdDecompressor().decompress(data)
        if raw[:8] != _MAGIC:
            raise ValueError("bad magic")
        yield from decode_table(raw[8:])
    except (ValueError, IndexError, struct.error, zstandard.ZstdError) as exc:
        raise CorruptObject(f"index file {path.name} is damaged") from exc


def write_index_file(index_dir: Path, tmp_dir: Path, entries: dict[str, Entry]) -> str | None:
    """Write one index file for `entries`; returns its name (None if empty)."""
    if not entries:
        return None
    data = zstandard.ZstdCompressor(level=3).compress(_MAGIC + encode_table(entries))
    name = hashlib.sha256(data).hexdigest()
    write_atomic(index_dir / name, data, tmp_dir)
    return name


def commit_index(index_dir: Path, tmp_dir: Path, writer: PackWriter) -> None:
    """Make the writer's packs durable, then index them: step 1 and 2 of a commit."""
    entries = writer.flush()
    writer.indexed = True
    write_index_file(index_dir, tmp_dir, entries)
