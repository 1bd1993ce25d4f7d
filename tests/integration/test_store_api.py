"""The Python API contract: result types, records, id prefixes, errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

import pytest

from amiable.store import Store, errors
from helpers import (
    CONTRACT_FIELDS,
    assert_same_tree,
    is_empty_or_missing,
    tree_differences,
    write_random_tree,
)

SNAPSHOT_ID = re.compile(r"[0-9a-f]{64}")


def check_result(value: Any, type_name: str) -> None:
    assert dataclasses.is_dataclass(value), f"{type_name} is not a dataclass"
    assert type(value).__name__ == type_name
    names = {f.name for f in dataclasses.fields(value)}
    assert names == CONTRACT_FIELDS[type_name]
    first = dataclasses.fields(value)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, first, getattr(value, first))


def three_files(root: Path) -> dict[str, bytes]:
    contents = {"a.txt": b"alpha" * 100, "sub/b.bin": bytes(range(256)) * 40, "sub/c": b""}
    for rel, data in contents.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return contents


def test_every_result_is_the_documented_frozen_dataclass(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    three_files(src)
    snap = store.snapshot(src)
    check_result(snap, "SnapshotSummary")
    check_result(store.restore(snap.id, tmp_path / "out"), "RestoreSummary")
    (record,) = store.snapshots()
    check_result(record, "SnapshotRecord")
    check_result(store.diff(snap.id, snap.id), "Diff")
    check_result(store.copy(snap.id, Store.init(tmp_path / "other")), "CopySummary")
    check_result(store.fsck(), "FsckReport")
    check_result(store.stats(), "StoreStats")
    store.delete(snap.id)
    check_result(store.gc(), "GcSummary")


def test_snapshot_summary_and_record_describe_the_tree(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    contents = three_files(src)
    total = sum(len(d) for d in contents.values())
    before = dt.datetime.now(dt.UTC)

    snap = store.snapshot(src)

    assert SNAPSHOT_ID.fullmatch(snap.id)
    assert snap.files == 3
    assert snap.logical_bytes == total
    assert snap.bytes_read == total
    assert snap.bytes_new_stored > 0
    assert snap.seconds >= 0
    assert snap.skipped == []
    (record,) = store.snapshots()
    assert record.id == snap.id
    assert record.parent is None
    assert record.source == str(src)
    assert record.encrypted is False
    assert record.files == 3
    assert record.logical_bytes == total
    when = dt.datetime.fromisoformat(record.time)
    assert when.utcoffset() == dt.timedelta(0), "record time is not UTC"
    assert (
        before - dt.timedelta(minutes=5)
        <= when
        <= dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    )

    restored = store.restore(snap.id, tmp_path / "out")
    assert restored.files == 3
    assert restored.bytes_written == total
    assert_same_tree(src, tmp_path / "out")


def test_snapshots_are_listed_oldest_first_with_parents(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    three_files(src)
    ids = []
    parent = None
    for i in range(4):
        (src / f"n{i}").write_text(str(i))
        ids.append(store.snapshot(src, parent=parent).id)
        parent = ids[-1]
    records = store.snapshots()
    assert [r.id for r in records] == ids
    assert [r.parent for r in records] == [None, *ids[:-1]]
    assert len(set(ids)) == 4


def test_store_stats_add_up(store: Store, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    sizes = write_random_tree(a, files=20, total_bytes=1_000_000, seed=1)
    b.mkdir()
    for rel in sizes:  # b is a full copy of a: everything deduplicates
        (b / rel).parent.mkdir(parents=True, exist_ok=True)
        (b / rel).write_bytes((a / rel).read_bytes())
    first = store.snapshot(a)
    second = store.snapshot(b)
    stats = store.stats()
    assert stats.snapshots == 2
    assert stats.logical_bytes == 2 * sum(sizes.values())
    assert second.bytes_new_stored < 10_000  # only tree objects can be new
    new_stored = first.bytes_new_stored + second.bytes_new_stored
    assert stats.stored_bytes == pytest.approx(new_stored, abs=20_000)
    assert stats.dedup_ratio == pytest.approx(stats.logical_bytes / stats.stored_bytes, rel=0.05)
    assert stats.dedup_ratio > 1.8
    assert stats.objects >= 20
    assert stats.packs >= 1


def test_init_and_open(tmp_path: Path) -> None:
    with pytest.raises(errors.StoreNotFound):
        Store.open(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(errors.StoreNotFound):
        Store.open(tmp_path / "empty")
    Store.init(tmp_path / "empty")  # an empty directory may become a store
    assert Store.open(tmp_path / "empty").snapshots() == []
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    with pytest.raises(errors.StoreError):
        Store.init(tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["something"]
    with pytest.raises(errors.StoreError):
        Store.init(tmp_path / "empty")  # already a store: not empty


def test_resolve_prefixes(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    ids = []
    for i in range(17):  # 17 ids over 16 hex digits: two share their first digit
        (src / "f").write_text(str(i))
        ids.append(store.snapshot(src).id)
    for snap in ids:
        assert store.resolve(snap) == snap
        assert store.resolve(snap[:12]) == snap
    firsts = [snap[0] for snap in ids]
    shared = next(c for c in firsts if firsts.count(c) > 1)
    with pytest.raises(errors.SnapshotNotFound):
        store.resolve(shared)
    with pytest.raises(errors.SnapshotNotFound):
        store.resolve(next(c * 64 for c in "0123456789abcdef" if c * 64 not in ids))
    with pytest.raises(errors.SnapshotNotFound):
        store.resolve("not-hex")
    # Every snapshot argument takes a prefix.
    store.restore(ids[3][:10], tmp_path / "out")
    assert (tmp_path / "out" / "f").read_text() == "3"
    assert store.diff(ids[0][:10], ids[1][:10]).changed == ["f"]


def test_unknown_snapshot_raises_snapshot_not_found(store: Store, tmp_path: Path) -> None:
    unknown = "ab" * 32
    with pytest.raises(errors.SnapshotNotFound):
        store.restore(unknown, tmp_path / "out")
    assert is_empty_or_missing(tmp_path / "out")
    with pytest.raises(errors.SnapshotNotFound):
        store.diff(unknown, unknown)
    with pytest.raises(errors.SnapshotNotFound):
        store.delete(unknown)
    src = tmp_path / "src"
    three_files(src)
    with pytest.raises(errors.SnapshotNotFound):
        store.snapshot(src, parent=unknown)
    assert store.snapshots() == []


def test_snapshot_of_missing_source_raises_source_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(errors.SourceError) as info:
        store.snapshot(tmp_path / "does-not-exist")
    assert "\n" not in str(info.value)
    assert store.snapshots() == []


def test_restore_into_non_empty_directory_needs_force(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    three_files(src)
    snap = store.snapshot(src).id
    dest = tmp_path / "dest"
    (dest / "sub").mkdir(parents=True)
    (dest / "a.txt").write_bytes(b"old content")
    (dest / "unrelated").write_bytes(b"keep?")

    with pytest.raises(errors.DestinationNotEmpty):
        store.restore(snap, dest)
    assert (dest / "a.txt").read_bytes() == b"old content"
    assert sorted(p.name for p in dest.iterdir()) == ["a.txt", "sub", "unrelated"]

    store.restore(snap, dest, force=True)
    problems = tree_differences(src, dest, only={b"a.txt", b"sub", b"sub/b.bin", b"sub/c"})
    assert not problems, problems


def test_restore_into_existing_empty_directory(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    three_files(src)
    snap = store.snapshot(src).id
    (tmp_path / "dest").mkdir()
    store.restore(snap, tmp_path / "dest")
    assert_same_tree(src, tmp_path / "dest")


def test_force_restore_replaces_symlinks_in_destination_without_following_them(
    store: Store, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    three_files(src)
    snap = store.snapshot(src).id
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_bytes(b"precious")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "a.txt").symlink_to(outside / "victim")
    (dest / "sub").symlink_to(outside)

    store.restore(snap, dest, force=True)

    assert (outside / "victim").read_bytes() == b"precious"
    assert sorted(p.name for p in outside.iterdir()) == ["victim"]
    problems = tree_differences(src, dest, only={b"a.txt", b"sub", b"sub/b.bin", b"sub/c"})
    assert not problems, problems


def test_force_restore_over_another_snapshot_replaces_conflicting_entries(
    store: Store, tmp_path: Path
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    (a / "x").mkdir(parents=True)
    (a / "x" / "inner").write_text("inner")
    (a / "y").write_text("y is a file here")
    (a / "z").symlink_to("nowhere")
    b.mkdir()
    (b / "x").write_text("x is a file now")
    (b / "y" / "deep").mkdir(parents=True)
    (b / "z").write_text("z is a file now")
    (b / "w").hardlink_to(b / "z")
    snap_a, snap_b = store.snapshot(a).id, store.snapshot(b).id
    dest = tmp_path / "dest"
    store.restore(snap_a, dest)

    store.restore(snap_b, dest, force=True)

    problems = tree_differences(b, dest, only={b"x", b"y", b"y/deep", b"z", b"w"})
    assert not problems, problems
    assert os.stat(dest / "z").st_ino == os.stat(dest / "w").st_ino
