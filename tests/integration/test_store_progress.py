"""Snapshot progress and cancellation, and what fsck and gc say about data no
snapshot needs (what an interrupted write leaves)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from amiable.store import SnapshotProgress, Store, locking, measure_tree
from amiable.store.packs import PackWriter
from amiable.store.table import DATA
from helpers import KITCHEN_SINK, ami, ami_json, build_tree, pack_files, write_random_tree


class Stop(Exception):
    """What a caller raises from its progress callback to cancel."""


def recorded(store: Store, source: Path, **kwargs: object) -> list[SnapshotProgress]:
    heard: list[SnapshotProgress] = []
    lock = threading.Lock()

    def progress(p: SnapshotProgress) -> None:
        with lock:
            heard.append(p)

    store.snapshot(source, progress=progress, **kwargs)  # type: ignore[arg-type]
    return heard


def test_progress_ends_at_what_measure_tree_counted(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    build_tree(src, KITCHEN_SINK)  # sparse files, hardlinks, links, a fifo
    write_random_tree(src / "more", files=40, total_bytes=3_000_000, seed=5, big_files=1)
    size = measure_tree(src)
    heard = recorded(store, src)
    (record,) = store.snapshots()
    assert (size.files, size.bytes) == (record.files, record.logical_bytes)
    assert max(p.bytes_done for p in heard) == size.bytes
    assert max(p.files for p in heard) == size.files
    assert len(heard) > 10


def test_unchanged_files_count_as_done(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_random_tree(src, files=20, total_bytes=1_000_000, seed=6)
    first = store.snapshot(src).id
    heard = recorded(store, src, parent=first)
    assert max(p.bytes_done for p in heard) == measure_tree(src).bytes


def test_a_cancelled_snapshot_leaves_nothing(store: Store, tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    write_random_tree(kept, files=5, total_bytes=100_000, seed=7)
    before = store.snapshot(kept).id
    packs_before = pack_files(store.path)
    src = tmp_path / "src"
    write_random_tree(src, files=60, total_bytes=40_000_000, seed=8, big_files=2)

    def progress(p: SnapshotProgress) -> None:
        if p.bytes_done > 20_000_000:  # more than a full pack is written by now
            raise Stop

    with pytest.raises(Stop):
        store.snapshot(src, progress=progress)
    assert [r.id for r in store.snapshots()] == [before]
    assert pack_files(store.path) == packs_before
    assert list((store.path / "tmp").iterdir()) == []
    report = store.fsck(read_data=True)
    assert report.ok and (report.reclaimable_objects, report.reclaimable_bytes) == (0, 0)


def leave_unindexed_pack(store: Store) -> int:
    """What a writer killed before its index leaves: a pack no index names."""
    before = set(pack_files(store.path))
    writer = PackWriter(store.packs, store.tmp)
    for i in range(3):
        writer.add(f"{i:064x}", DATA, bytes([i]) * 10_000, 10_000)
    writer.flush()
    writer.abort()
    (pack,) = set(pack_files(store.path)) - before
    return pack.stat().st_size


def test_fsck_reports_unreferenced_data_as_reclaimable_not_as_damage(
    store: Store, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    write_random_tree(src, files=10, total_bytes=500_000, seed=9)
    store.snapshot(src)
    leftover = leave_unindexed_pack(store)

    report = store.fsck()
    assert report.ok and report.errors == []
    assert (report.reclaimable_objects, report.reclaimable_bytes) == (3, leftover)
    fsck = ami("fsck", "--store", store.path)
    assert fsck.returncode == 0, fsck.stderr
    assert "no errors" in fsck.stdout
    assert "reclaimable (3 objects no snapshot needs): 'ami store gc' frees it" in fsck.stdout
    as_json = ami_json("fsck", "--store", store.path)
    assert (as_json["ok"], as_json["reclaimable_bytes"]) == (True, leftover)

    summary = store.gc()
    assert (summary.objects_removed, summary.bytes_freed) == (3, leftover)
    report = store.fsck(read_data=True)
    assert report.ok and report.reclaimable_bytes == 0
    assert "nothing to reclaim" in ami("fsck", "--store", store.path).stdout


def test_a_deleted_snapshot_is_reclaimable_until_gc(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_random_tree(src, files=10, total_bytes=2_000_000, seed=10)
    snap = store.snapshot(src).id
    objects = store.stats().objects
    store.delete(snap)
    report = store.fsck()
    assert report.ok
    assert report.reclaimable_bytes is not None and report.reclaimable_bytes > 2_000_000
    assert report.reclaimable_objects == objects
    freed = store.gc().bytes_freed
    assert abs(freed - report.reclaimable_bytes) < 1024


def test_while_the_store_is_in_use_reclaimable_is_unknown_and_gc_if_idle_waits(
    store: Store, tmp_path: Path
) -> None:
    leftover = leave_unindexed_pack(store)
    with locking.shared(store.lock):  # another process mid-snapshot, say
        report = store.fsck()
        assert report.ok and report.reclaimable_bytes is None
        assert (
            "not counted: another process is using the store"
            in ami("fsck", "--store", store.path).stdout
        )
        assert store.gc_if_idle() is None
    summary = store.gc_if_idle()
    assert summary is not None and summary.bytes_freed == leftover
