"""Garbage collection: drop blobs that no snapshot reaches.

Runs under the exclusive lock, so no writer is mid-snapshot. Order keeps the
store valid at every step: (1) copy live blobs out of packs that also hold
garbage into new packs, (2) write one consolidated index of every live blob,
(3) delete the old index files, (4) delete packs that no index names, (5)
empty tmp/. A crash between steps leaves duplicates or orphans, never a
dangling reference; the next gc removes them.
"""

from dataclasses import dataclass
from pathlib import Path

from .fsutil import fsync_dir
from .index import Index, read_index_file, write_index_file
from .packs import PackReader, PackWriter, pack_path
from .table import Entry


@dataclass(frozen=True)
class GcSummary:
    objects_removed: int
    packs_removed: int
    packs_rewritten: int
    bytes_freed: int


def pack_files(packs_dir: Path) -> dict[str, Path]:
    return {p.name: p for p in packs_dir.glob("??/*") if p.is_file()}


def collect(root: Path, index: Index, roots: list[str]) -> GcSummary:
    packs_dir, index_dir, tmp_dir = root / "packs", root / "index", root / "tmp"
    live = index.reachable(roots)
    on_disk = pack_files(packs_dir)
    size_before = sum(p.stat().st_size for p in on_disk.values())

    # Every copy of every blob, duplicates included, grouped by pack.
    by_pack: dict[str, dict[str, Entry]] = {}
    for name in index.files:
        for blob_id, entry in read_index_file(index_dir / name):
            by_pack.setdefault(entry.pack, {})[blob_id] = entry

    keep: dict[str, Entry] = {}
    rewrite: list[str] = []
    for pack_id, blobs in by_pack.items():
        if pack_id not in on_disk:
            continue
        chosen = {b: e for b, e in blobs.items() if b in live and index[b].pack == pack_id}
        if len(chosen) == len(blobs):
            keep.update(chosen)
        elif chosen:
            rewrite.append(pack_id)

    writer = PackWriter(packs_dir, tmp_dir)
    reader = PackReader(packs_dir)
    try:
        for pack_id in rewrite:
            for blob_id, entry in sorted(by_pack[pack_id].items(), key=lambda x: x[1].offset):
                if blob_id in live and blob_id not in keep and blob_id not in writer.written:
                    stored = reader.read(blob_id, entry)
                    writer.add(blob_id, entry.kind, stored, entry.raw_length, entry.refs)
        keep.update(writer.flush())
    finally:
        reader.close()
        writer.abort()

    new_index = write_index_file(index_dir, tmp_dir, keep)
    for name in index.files:
        if name != new_index:
            (index_dir / name).unlink(missing_ok=True)
    fsync_dir(index_dir)

    wanted = {e.pack for e in keep.values()}
    removed = 0
    for pack_id, path in pack_files(packs_dir).items():
        if pack_id not in wanted:
            path.unlink()
            removed += 1
    for leftover in tmp_dir.iterdir():
        leftover.unlink()
    size_after = sum(pack_path(packs_dir, p).stat().st_size for p in wanted)
    return GcSummary(
        objects_removed=len({b for blobs in by_pack.values() for b in blobs} - live),
        packs_removed=removed,
        packs_rewritten=len(rewrite),
        bytes_freed=max(0, size_before - size_after),
    )
