"""Encrypted snapshots: restorable with the key only, and no plaintext left in the store."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

import pytest

from amiable.store import Store, errors
from helpers import MiB, all_files, assert_same_tree, is_empty_or_missing

MARKER = b"AMIABLE-PLAINTEXT-MARKER-7f3c1e9a-do-not-leak"


def make_secret_tree(root: Path) -> dict[str, bytes]:
    """A small text file with a marker, random files below and above the chunk size."""
    rng = random.Random(2024)
    contents = {
        "secret.txt": MARKER + b"\n" + b"the quick brown fox\n" * 50,
        "random-small.bin": rng.randbytes(40_000),
        "random-large.bin": rng.randbytes(MiB + 12_345),
        "dir/nested.bin": rng.randbytes(5_000),
    }
    for rel, data in contents.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return contents


def test_encrypted_snapshot_restores_with_key(store: Store, tmp_path: Path, key: bytes) -> None:
    src = tmp_path / "src"
    make_secret_tree(src)
    summary = store.snapshot(src, key=key)
    (record,) = store.snapshots()
    assert record.id == summary.id
    assert record.encrypted is True

    store.restore(summary.id, tmp_path / "out", key=key)
    assert_same_tree(src, tmp_path / "out")


def test_plain_snapshot_is_marked_unencrypted(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_secret_tree(src)
    store.snapshot(src)
    assert [r.encrypted for r in store.snapshots()] == [False]


def test_restore_without_key_raises_key_required_and_writes_nothing(
    store: Store, tmp_path: Path, key: bytes
) -> None:
    src = tmp_path / "src"
    make_secret_tree(src)
    snap = store.snapshot(src, key=key).id
    dest = tmp_path / "out"
    with pytest.raises(errors.KeyRequired):
        store.restore(snap, dest)
    assert is_empty_or_missing(dest)

    dest.mkdir()  # an existing empty destination stays empty too
    with pytest.raises(errors.KeyRequired):
        store.restore(snap, dest)
    assert is_empty_or_missing(dest)


def test_restore_with_wrong_key_raises_wrong_key_and_writes_nothing(
    store: Store, tmp_path: Path, key: bytes
) -> None:
    src = tmp_path / "src"
    make_secret_tree(src)
    snap = store.snapshot(src, key=key).id
    dest = tmp_path / "out"
    with pytest.raises(errors.WrongKey):
        store.restore(snap, dest, key=os.urandom(32))
    assert is_empty_or_missing(dest)


def test_diff_of_encrypted_snapshots_needs_the_key(
    store: Store, tmp_path: Path, key: bytes
) -> None:
    src = tmp_path / "src"
    make_secret_tree(src)
    a = store.snapshot(src, key=key).id
    root_mtime = src.stat().st_mtime_ns
    (src / "added.txt").write_text("new")
    os.utime(src, ns=(root_mtime, root_mtime))  # only added.txt differs
    b = store.snapshot(src, parent=a, key=key).id
    with pytest.raises(errors.KeyRequired):
        store.diff(a, b)
    with pytest.raises(errors.WrongKey):
        store.diff(a, b, key=os.urandom(32))
    assert store.diff(a, b, key=key).added == ["added.txt"]


def test_no_plaintext_or_plaintext_hashes_in_the_store(
    store_path: Path, tmp_path: Path, key: bytes
) -> None:
    store = Store.init(store_path)
    src = tmp_path / "src"
    contents = make_secret_tree(src)
    parent = store.snapshot(src, key=key)
    (src / "more.txt").write_bytes(MARKER + b" second")
    store.snapshot(src, parent=parent.id, key=key)

    needles: dict[str, bytes] = {"marker": MARKER}
    for rel, data in contents.items():
        digest = hashlib.sha256(data)
        needles[f"sha256 hex of {rel}"] = digest.hexdigest().encode()
        needles[f"sha256 raw of {rel}"] = digest.digest()
        needles[f"64 bytes of {rel}"] = data[1000:1064]
    files = all_files(store_path)
    assert files
    for path in files:
        blob = path.read_bytes()
        rel = str(path.relative_to(store_path))
        for what, needle in needles.items():
            assert needle not in blob, f"{what} found in {rel}"
            if "hex" in what:
                assert needle.decode() not in rel, f"{what} names the file {rel}"

    # The store is still fully usable.
    assert store.fsck(read_data=True, key=key).ok


def test_fsck_structure_check_works_without_key(store: Store, tmp_path: Path, key: bytes) -> None:
    src = tmp_path / "src"
    make_secret_tree(src)
    store.snapshot(src, key=key)
    report = store.fsck()
    assert report.ok, report.errors
    assert report.objects_checked > 0
