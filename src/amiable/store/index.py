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
from .packs import DATA, TREE, Entry


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
_COUNT = struct.Struct("<I")
_ROW = struct.Struct("<32sIQIIIBI")  # id, pack number, offset, length, raw length, crc, kind, refs
_KINDS = (DATA, TREE)


def read_index_file(path: Path) -> Iterator[tuple[str, Entry]]:
    try:
        raw = zstandard.ZstdDecompressor().decompress(path.read_bytes())
        if raw[:8] != _MAGIC:
            raise ValueError("bad magic")
        (n_packs,) = _COUNT.unpack_from(raw, 8)
        pos = 12 + 32 * n_packs
        packs = [raw[12 + 32 * i : 44 + 32 * i].hex() for i in range(n_packs)]
        (n_blobs,) = _COUNT.unpack_from(raw, pos)
        rows = raw[pos + 4 : pos + 4 + _ROW.size * n_blobs]
        refs_at = pos + 4 + len(rows)
        for blob_id, pack_no, offset, length, raw_length, crc, kind, n_refs in _ROW.iter_unpack(
            rows
        ):
            refs: tuple[str, ...] = ()
            if n_refs:
                refs = tuple(
                    raw[i : i + 32].hex() for i in range(refs_at, refs_at + 32 * n_refs, 32)
                )
                refs_at += 32 * n_refs
            entry = Entry(packs[pack_no], offset, length, _KINDS[kind], raw_length, crc, refs)
            yield blob_id.hex(), entry
    except (ValueError, IndexError, struct.error, zstandard.ZstdError) as exc:
        raise CorruptObject(f"index file {path.name} is damaged") from exc


def write_index_file(index_dir: Path, tmp_dir: Path, entries: dict[str, Entry]) -> str | None:
    """Write one index file for `entries`; returns its name (None if empty)."""
    if not entries:
        return None
    packs = sorted({e.pack for e in entries.values()})
    number = {p: i for i, p in enumerate(packs)}
    ordered = sorted(entries.items())
    parts = [_MAGIC, _COUNT.pack(len(packs)), *(bytes.fromhex(p) for p in packs)]
    parts.append(_COUNT.pack(len(ordered)))
    for blob_id, e in ordered:
        kind = _KINDS.index(e.kind)
        parts.append(
            _ROW.pack(
                bytes.fromhex(blob_id),
                number[e.pack],
                e.offset,
                e.length,
                e.raw_length,
                e.crc,
                kind,
                len(e.refs),
            )
        )
    parts.extend(bytes.fromhex(r) for _, e in ordered for r in e.refs)
    data = zstandard.ZstdCompressor(level=3).compress(b"".join(parts))
    name = hashlib.sha256(data).hexdigest()
    write_atomic(index_dir / name, data, tmp_dir)
    return name
