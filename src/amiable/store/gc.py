"""Garbage collection: drop blobs that no snapshot reaches.

Runs under the exclusive lock, so no writer is mid-snapshot. Order keeps the
store valid at every step: (1) copy live blobs out of packs that also hold
garbage into new packs, (2) write one consolidated index of every live blob,
(3) delete the old index files, (4) delete packs that no index names, (5)
empty tmp/. A crash between steps leaves duplicates or orphans, never a
dangling reference; the next gc removes them.

`plan` is what gc would do, without doing it: fsck reports from it what gc
would free (`reclaimable`).
"""

import contextlib
from dataclasses import dataclass
from pathlib import Path

from .errors import CorruptObject
from .fsutil import fsync_dir
from .index import Index, read_index_file, write_index_file
from .packs import PackReader, PackWriter, pack_path, read_trailer
from .table import Entry


@dataclass(frozen=True)
class GcSummary:
    objects_removed: int
    packs_removed: int
    packs_rewritten: int
    bytes_freed: int


@dataclass(frozen=True)
class Plan:
    """Which blobs live, which packs stay whole (`keep`: their live blobs) and
    which hold both live blobs and garbage (`rewrite`); every other pack goes."""

    live: set[str]
    on_disk: dict[str, Path]
    by_pack: dict[str, dict[str, Entry]]  # every indexed copy of every blob
    keep: dict[str, Entry]
    rewrite: list[str]


def pack_files(packs_dir: Path) -> dict[str, Path]:
    return {p.name: p for p in packs_dir.glob("??/*") if p.is_file()}


def plan(root: Path, index: Index, roots: list[str]) -> Plan:
    live = index.reachable(roots)
    on_disk = pack_files(root / "packs")
    by_pack: dict[str, dict[str, Entry]] = {}
    for name in index.files:
        for blob_id, entry in read_index_file(root / "index" / name):
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
    return Plan(live, on_disk, by_pack, keep, rewrite)


def _moved(p: Plan) -> dict[str, Entry]:
    """The live blobs that gc copies out of the packs it rewrites."""
    moved: dict[str, Entry] = {}
    for pack_id in p.rewrite:
        for blob_id, entry in p.by_pack[pack_id].items():
            if blob_id in p.live and blob_id not in p.keep:
                moved.setdefault(blob_id, entry)
    return moved


def garbage_objects(p: Plan) -> int:
    """Blobs gc removes: indexed ones no snapshot reaches, and those of packs no
    index names (what an interrupted write left)."""
    found = {b for blobs in p.by_pack.values() for b in blobs}
    for pack_id, path in p.on_disk.items():
        if pack_id not in p.by_pack:
            with contextlib.suppress(CorruptObject):  # its bytes count; its blobs are unknown
                found.update(b for b, _ in read_trailer(path))
    return len(found - p.live)


def reclaimable(root: Path, p: Plan) -> tuple[int, int]:
    """(objects, bytes) that gc would free: the packs it deletes or rewrites,
    less the live blobs it copies, and what tmp/ holds (about: new packs have
    trailers of their own)."""
    staying = {e.pack for e in p.keep.values()}
    gone = sum(path.stat().st_size for pack_id, path in p.on_disk.items() if pack_id not in staying)
    copied = sum(e.length for e in _moved(p).values())
    leftovers = sum(f.stat().st_size for f in (root / "tmp").iterdir() if f.is_file())
    return garbage_objects(p), max(0, gone - copied) + leftovers


def collect(root: Path, index: Index, p: Plan) -> GcSummary:
    packs_dir, index_dir, tmp_dir = root / "packs", root / "index", root / "tmp"
    size_before = sum(path.stat().st_size for path in p.on_disk.values())
    removed_objects = garbage_objects(p)
    keep = dict(p.keep)
    writer = PackWriter(packs_dir, tmp_dir)
    reader = PackReader(packs_dir)
    try:
        for blob_id, entry in sorted(_moved(p).items(), key=lambda x: (x[1].pack, x[1].offset)):
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
    size_after = sum(pack_path(packs_dir, pack_id).stat().st_size for pack_id in wanted)
    return GcSummary(
        objects_removed=removed_objects,
        packs_removed=removed,
        packs_rewritten=len(p.rewrite),
        bytes_freed=max(0, size_before - size_after),
    )
