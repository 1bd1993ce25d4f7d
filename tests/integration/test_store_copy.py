"""Copying snapshots between stores sends only what the destination lacks."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from amiable.store import Store, errors
from helpers import assert_same_tree, write_random_tree


def test_copy_to_empty_store_then_restore_there(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_random_tree(src, files=40, total_bytes=1_500_000, seed=1)
    (src / "link").symlink_to("d00")
    snap = store.snapshot(src)
    other = Store.init(tmp_path / "other")

    copied = store.copy(snap.id, other)

    assert copied.id == snap.id
    assert copied.objects_sent > 40
    assert copied.bytes_sent > 0
    (record,) = other.snapshots()
    assert record.id == snap.id
    assert record.source == store.snapshots()[0].source
    other.restore(snap.id, tmp_path / "out")
    assert_same_tree(src, tmp_path / "out")
    report = other.fsck(read_data=True)
    assert report.ok, report.errors
    # The source store is untouched by a copy.
    assert [r.id for r in store.snapshots()] == [snap.id]


def test_copy_accepts_an_id_prefix(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_random_tree(src, files=5, total_bytes=10_000, seed=2)
    snap = store.snapshot(src)
    other = Store.init(tmp_path / "other")
    assert store.copy(snap.id[:10], other).id == snap.id


def test_copying_again_sends_nothing(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_random_tree(src, files=20, total_bytes=500_000, seed=3)
    snap = store.snapshot(src)
    other = Store.init(tmp_path / "other")
    store.copy(snap.id, other)
    again = store.copy(snap.id, other)
    assert again.objects_sent == 0
    assert again.bytes_sent == 0
    assert [r.id for r in other.snapshots()] == [snap.id]


def test_copy_of_child_to_store_holding_parent_sends_only_the_change(
    store: Store, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    sizes = write_random_tree(src, files=120, total_bytes=6_000_000, seed=4, dirs=10)
    parent = store.snapshot(src)
    rng = random.Random(5)
    for rel in sorted(sizes)[:2]:  # two files rewritten with new random content
        (src / rel).write_bytes(rng.randbytes(200_000))
    child = store.snapshot(src, parent=parent.id)
    assert child.bytes_new_stored >= 400_000

    full_dest = Store.init(tmp_path / "full")
    full = store.copy(child.id, full_dest)

    dest = Store.init(tmp_path / "dest")
    store.copy(parent.id, dest)
    incremental = store.copy(child.id, dest)

    assert incremental.id == child.id
    assert incremental.objects_sent * 10 < full.objects_sent
    assert incremental.bytes_sent * 5 < full.bytes_sent
    assert incremental.bytes_sent <= 1.1 * child.bytes_new_stored
    dest.restore(child.id, tmp_path / "out")
    assert_same_tree(src, tmp_path / "out")
    assert {r.id: r.parent for r in dest.snapshots()} == {parent.id: None, child.id: parent.id}
    report = dest.fsck(read_data=True)
    assert report.ok, report.errors


def test_copy_encrypted_snapshot_without_key(store: Store, tmp_path: Path, key: bytes) -> None:
    src = tmp_path / "src"
    write_random_tree(src, files=30, total_bytes=800_000, seed=6)
    snap = store.snapshot(src, key=key)
    other = Store.init(tmp_path / "other")

    store.copy(snap.id, other)  # no key needed to move ciphertext around

    (record,) = other.snapshots()
    assert record.encrypted is True
    with pytest.raises(errors.KeyRequired):
        other.restore(snap.id, tmp_path / "nokey")
    with pytest.raises(errors.WrongKey):
        other.restore(snap.id, tmp_path / "wrongkey", key=bytes(32))
    other.restore(snap.id, tmp_path / "out", key=key)
    assert_same_tree(src, tmp_path / "out")
    report = other.fsck(read_data=True, key=key)
    assert report.ok, report.errors


def test_copy_unknown_snapshot_raises(store: Store, tmp_path: Path) -> None:
    other = Store.init(tmp_path / "other")
    with pytest.raises(errors.SnapshotNotFound):
        store.copy("0" * 64, other)
    assert other.snapshots() == []
