"""delete + gc: space comes back, nothing that a snapshot needs goes away."""

from __future__ import annotations

import json
import random
import subprocess
import time
from pathlib import Path

import pytest

from amiable.store import Store, errors
from helpers import (
    ami_cmd,
    assert_same_tree,
    pack_files,
    store_size,
    write_random_tree,
)


def test_delete_then_gc_reclaims_space(store: Store, store_path: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_random_tree(a, files=30, total_bytes=3_000_000, seed=1)
    write_random_tree(b, files=30, total_bytes=3_000_000, seed=2)
    (b / "shared.bin").write_bytes((a / "d00" / "e0" / "f0000.bin").read_bytes())
    snap_a = store.snapshot(a)
    snap_b = store.snapshot(b)
    before = store.stats()
    size_before = store_size(store_path)
    assert before.snapshots == 2

    store.delete(snap_a.id)
    after_delete = store.stats()
    assert after_delete.snapshots == 1
    # delete removes the record only; the objects wait for gc
    assert after_delete.objects == before.objects
    assert after_delete.stored_bytes == before.stored_bytes
    with pytest.raises(errors.SnapshotNotFound):
        store.restore(snap_a.id, tmp_path / "deleted")

    summary = store.gc()

    after = store.stats()
    assert summary.objects_removed > 0
    assert summary.bytes_freed > 2_000_000
    assert after.stored_bytes < before.stored_bytes - 2_000_000
    assert after.objects == before.objects - summary.objects_removed
    assert store_size(store_path) < size_before - 2_000_000, "gc freed no disk space"
    store.restore(snap_b.id, tmp_path / "out")
    assert_same_tree(b, tmp_path / "out")
    report = store.fsck(read_data=True)
    assert report.ok, report.errors

    again = store.gc()
    assert (again.objects_removed, again.packs_removed, again.bytes_freed) == (0, 0, 0)


def test_gc_without_deletions_keeps_everything(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_random_tree(src, files=20, total_bytes=500_000, seed=3)
    snap = store.snapshot(src)
    stats = store.stats()
    summary = store.gc()
    assert summary.objects_removed == 0
    assert summary.bytes_freed == 0
    assert store.stats().objects == stats.objects
    store.restore(snap.id, tmp_path / "out")
    assert_same_tree(src, tmp_path / "out")


def test_gc_keeps_what_the_child_of_a_deleted_parent_shares(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    sizes = write_random_tree(src, files=40, total_bytes=2_000_000, seed=4)
    parent = store.snapshot(src)
    gone = sorted(sizes)[0]
    (src / gone).unlink()
    (src / "new.bin").write_bytes(random.Random(5).randbytes(300_000))
    child = store.snapshot(src, parent=parent.id)

    store.delete(parent.id)
    summary = store.gc()

    assert summary.objects_removed >= 1  # the deleted file's chunk
    (record,) = store.snapshots()
    assert record.id == child.id
    store.restore(child.id, tmp_path / "out")
    assert_same_tree(src, tmp_path / "out")
    report = store.fsck(read_data=True)
    assert report.ok, report.errors


def test_gc_of_encrypted_snapshots_needs_no_key(
    store: Store, store_path: Path, tmp_path: Path, key: bytes
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_random_tree(a, files=20, total_bytes=1_500_000, seed=6)
    write_random_tree(b, files=20, total_bytes=1_500_000, seed=7)
    snap_a = store.snapshot(a, key=key)
    snap_b = store.snapshot(b, key=key)
    before = store.stats().stored_bytes

    store.delete(snap_a.id)
    summary = store.gc()

    assert summary.bytes_freed > 1_000_000
    assert store.stats().stored_bytes < before - 1_000_000
    store.restore(snap_b.id, tmp_path / "out", key=key)
    assert_same_tree(b, tmp_path / "out")
    report = store.fsck(read_data=True, key=key)
    assert report.ok, report.errors


def test_delete_unknown_snapshot_raises(store: Store) -> None:
    with pytest.raises(errors.SnapshotNotFound):
        store.delete("f" * 64)


def test_gc_of_everything_leaves_an_empty_working_store(
    store: Store, store_path: Path, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    write_random_tree(src, files=20, total_bytes=1_000_000, seed=8)
    snap = store.snapshot(src)
    store.delete(snap.id)
    store.gc()
    stats = store.stats()
    assert (stats.snapshots, stats.objects, stats.logical_bytes) == (0, 0, 0)
    assert pack_files(store_path) == []
    # ... and the store still works afterwards, even for the very same content.
    again = store.snapshot(src)
    store.restore(again.id, tmp_path / "out")
    assert_same_tree(src, tmp_path / "out")


# ---------------------------------------------------------------- concurrency


def _start(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ami_cmd(*args, "--json"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode in (0, 1), f"exit {proc.returncode}: {err}"
    if proc.returncode == 1:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), err
    return proc.returncode, out, err


def test_concurrent_snapshots_and_gc_lose_nothing(tmp_path: Path) -> None:
    """Snapshots that dedup against garbage race with gc; every reported success survives."""
    store_dir = tmp_path / "store"
    Store.init(store_dir)
    rng = random.Random(12)
    sources: dict[str, Path] = {}

    base = tmp_path / "base"
    write_random_tree(base, files=20, total_bytes=1_000_000, seed=100)
    code, out, _ = _finish(_start("snapshot", "--store", store_dir, base))
    assert code == 0
    sources[json.loads(out)["id"]] = base

    concurrent_successes = 0
    gc_successes = 0
    for round_ in range(4):
        tree = tmp_path / f"tree{round_}"
        write_random_tree(tree, files=60, total_bytes=8_000_000, seed=200 + round_)
        other = tmp_path / f"other{round_}"
        write_random_tree(other, files=30, total_bytes=3_000_000, seed=300 + round_)
        # Make the tree's objects garbage: stored, but referenced by no snapshot.
        code, out, _ = _finish(_start("snapshot", "--store", store_dir, tree))
        assert code == 0
        code, _, _ = _finish(_start("delete", "--store", store_dir, json.loads(out)["id"]))
        assert code == 0

        snaps = [
            (tree, _start("snapshot", "--store", store_dir, tree)),
            (other, _start("snapshot", "--store", store_dir, other)),
        ]
        time.sleep(rng.uniform(0.0, 0.5))
        gcs = [_start("gc", "--store", store_dir)]
        time.sleep(rng.uniform(0.0, 0.3))
        gcs.append(_start("gc", "--store", store_dir))

        for source, proc in snaps:
            code, out, _ = _finish(proc)
            if code == 0:
                sources[json.loads(out)["id"]] = source
                concurrent_successes += 1
        for proc in gcs:
            code, _, _ = _finish(proc)
            gc_successes += code == 0

    assert concurrent_successes >= 4, "snapshots running beside gc kept failing"
    assert gc_successes >= 1, "gc never succeeded"
    store = Store.open(store_dir)
    assert {r.id for r in store.snapshots()} == set(sources)
    report = store.fsck(read_data=True)
    assert report.ok, report.errors
    store.gc()
    for snap_id, source in sources.items():
        dest = tmp_path / f"restored-{snap_id[:12]}"
        store.restore(snap_id, dest)
        assert_same_tree(source, dest)
    report = store.fsck(read_data=True)
    assert report.ok, report.errors
