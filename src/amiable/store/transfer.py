"""Copying a snapshot to another store, sending only the blobs it lacks.

Stored bytes move as they are (still compressed, still sealed), so an
encrypted snapshot is copied without its key. The record is written last,
with the same bytes and so the same id.
"""

from dataclasses import dataclass
from pathlib import Path

from .errors import CorruptObject
from .index import Index
from .packs import PackReader, PackWriter


@dataclass(frozen=True)
class CopySummary:
    id: str
    objects_sent: int
    bytes_sent: int


def send_blobs(
    source: Index, source_packs: Path, root: str, dest: Index, writer: PackWriter
) -> int:
    """Copy every blob reachable from `root` that `dest` lacks; returns the count."""
    missing = [b for b in source.reachable([root]) if b not in dest]
    absent = [b for b in missing if b not in source]
    if absent:
        raise CorruptObject(f"object {absent[0]} is missing from the source store")
    missing.sort(key=lambda b: (source[b].pack, source[b].offset))
    reader = PackReader(source_packs)
    try:
        for blob_id in missing:
            entry = source[blob_id]
            stored = reader.read(blob_id, entry)
            writer.add(blob_id, entry.kind, stored, entry.raw_length, entry.refs)
    finally:
        reader.close()
    return len(missing)
