"""Incremental snapshots: unchanged files are not read, unchanged subtrees are shared."""

from __future__ import annotations

import os
import random
import stat
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amiable.store import Store
from helpers import (
    KITCHEN_SINK,
    TreeSpec,
    assert_same_tree,
    build_tree,
    remove_tree,
    tree_bytes,
    wait_for_ctime_tick,
    walk,
    write_random_tree,
)
from strategies import trees

OLD_NS = 1_600_000_000_000_000_000


def make_tree(root: Path) -> dict[str, int]:
    """~2 MB in 120 files over 3 levels of folders; mtimes set well in the past."""
    sizes = write_random_tree(root, files=120, total_bytes=2_000_000, seed=7, dirs=12)
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(dirpath, name), ns=(OLD_NS, OLD_NS))
    return sizes


def test_unchanged_tree_reads_and_stores_nothing(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    sizes = make_tree(src)
    first = store.snapshot(src)
    assert first.bytes_read == sum(sizes.values())
    objects_before = store.stats().objects

    second = store.snapshot(src, parent=first.id)

    assert second.bytes_read == 0
    assert second.bytes_new_stored == 0
    assert store.stats().objects == objects_before
    assert second.logical_bytes == first.logical_bytes
    diff = store.diff(first.id, second.id)
    assert (diff.added, diff.removed, diff.changed) == ([], [], [])
    store.restore(second.id, tmp_path / "out")
    assert_same_tree(src, tmp_path / "out")


def test_changed_file_is_the_only_one_read(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    sizes = make_tree(src)
    first = store.snapshot(src)
    objects_before = store.stats().objects
    assert objects_before > 100  # 120 files (some may dedup) and the folders

    victim = next(
        rel for rel, size in sorted(sizes.items()) if 1000 < size < 100_000 and size != 12_345
    )
    new_content = random.Random(99).randbytes(12_345)
    (src / victim).write_bytes(new_content)

    second = store.snapshot(src, parent=first.id)

    assert second.bytes_read == len(new_content)
    assert 0 < second.bytes_new_stored < 100_000
    depth = victim.count("/")  # folders between the root and the file
    grown = store.stats().objects - objects_before
    # One new chunk plus one new directory object per folder on the path (and the root).
    assert 1 <= grown <= depth + 3, f"{grown} new objects for one changed file"
    diff = store.diff(first.id, second.id)
    assert diff.changed == [victim]
    assert diff.added == []
    assert diff.removed == []
    store.restore(second.id, tmp_path / "out")
    assert_same_tree(src, tmp_path / "out")


def test_same_size_same_mtime_content_change_with_new_ctime_is_detected(
    store: Store, tmp_path: Path
) -> None:
    """The files cache must include ctime: a rewrite that keeps size and mtime is seen."""
    src = tmp_path / "src"
    src.mkdir()
    path = src / "f"
    path.write_bytes(b"a" * 1000)
    os.utime(path, ns=(OLD_NS, OLD_NS))
    first = store.snapshot(src)
    old = os.stat(path)

    path.write_bytes(b"b" * 1000)
    os.utime(path, ns=(OLD_NS, OLD_NS))  # mtime restored; ctime moved on
    while os.stat(path).st_ctime_ns == old.st_ctime_ns:  # coarse kernel clock: wait a tick
        time.sleep(0.01)
        os.chmod(path, 0o644)
    assert os.stat(path).st_ino == old.st_ino
    second = store.snapshot(src, parent=first.id)

    assert second.bytes_read == 1000
    store.restore(second.id, tmp_path / "out")
    assert (tmp_path / "out" / "f").read_bytes() == b"b" * 1000
    assert store.diff(first.id, second.id).changed == ["f"]


def test_diff_lists_added_removed_changed_exactly(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    for rel, data in {
        "keep.txt": b"keep",
        "edit.txt": b"before",
        "mode.txt": b"mode",
        "gone.txt": b"gone",
        "a/b/deep.txt": b"deep",
        "a/b/gone-too.txt": b"x",
        "olddir/inner.txt": b"inner",
    }.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    first = store.snapshot(src)

    # Keep directory mtimes as they were so that only the listed paths differ.
    dir_times = {d: os.stat(d).st_mtime_ns for d in (src, src / "a", src / "a" / "b")}
    (src / "edit.txt").write_bytes(b"after, and longer")
    os.chmod(src / "mode.txt", 0o600)
    (src / "gone.txt").unlink()
    (src / "a" / "b" / "gone-too.txt").unlink()
    (src / "a" / "b" / "new.txt").write_bytes(b"new")
    (src / "olddir" / "inner.txt").unlink()
    (src / "olddir").rmdir()
    (src / "newdir").mkdir()
    (src / "newdir" / "one.txt").write_bytes(b"1")
    (src / "newdir" / "two.txt").write_bytes(b"2")
    for d, ns in dir_times.items():
        os.utime(d, ns=(ns, ns))
    second = store.snapshot(src, parent=first.id)

    diff = store.diff(first.id, second.id)
    # Directories carry a trailing "/"; an added or removed one lists its content too.
    assert diff.added == ["a/b/new.txt", "newdir/", "newdir/one.txt", "newdir/two.txt"]
    assert diff.removed == ["a/b/gone-too.txt", "gone.txt", "olddir/", "olddir/inner.txt"]
    assert diff.changed == ["edit.txt", "mode.txt"]

    reverse = store.diff(second.id, first.id)
    assert reverse.added == diff.removed
    assert reverse.removed == diff.added
    assert reverse.changed == diff.changed


def test_incremental_snapshot_of_a_different_tree_is_complete(store: Store, tmp_path: Path) -> None:
    """A parent is a hint: a child of an unrelated tree still restores that tree."""
    a, b = tmp_path / "a", tmp_path / "b"
    make_tree(a)
    sizes = write_random_tree(b, files=30, total_bytes=300_000, seed=8)
    parent = store.snapshot(a)
    child = store.snapshot(b, parent=parent.id)
    assert child.bytes_read == sum(sizes.values())
    store.restore(child.id, tmp_path / "out")
    assert_same_tree(b, tmp_path / "out")


def test_encrypted_incremental_snapshot_reads_nothing_new(
    store: Store, tmp_path: Path, key: bytes
) -> None:
    src = tmp_path / "src"
    make_tree(src)
    first = store.snapshot(src, key=key)
    second = store.snapshot(src, parent=first.id, key=key)
    assert second.bytes_read == 0
    assert second.bytes_new_stored == 0
    store.restore(second.id, tmp_path / "out", key=key)
    assert_same_tree(src, tmp_path / "out")


def test_unchanged_rich_tree_child_restores_identically(store: Store, tmp_path: Path) -> None:
    """Entries taken over from the parent keep everything: hardlinks, holes, xattrs."""
    src = tmp_path / "src"
    build_tree(src, KITCHEN_SINK)
    first = store.snapshot(src)
    second = store.snapshot(src, parent=first.id)
    assert second.bytes_read == 0
    store.restore(second.id, tmp_path / "out")
    assert_same_tree(src, tmp_path / "out")


def test_metadata_only_changes_reach_the_child(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    build_tree(src, KITCHEN_SINK)
    first = store.snapshot(src)
    total = tree_bytes(src)

    os.chmod(src / "small.txt", 0o600)  # also a hardlink group: all its names change
    os.setxattr(src / "empty", "user.added", b"later")
    os.utime(src / "multi-chunk", ns=(OLD_NS, OLD_NS + 1))
    os.utime(src / "abs-link", ns=(OLD_NS, OLD_NS + 2), follow_symlinks=False)
    second = store.snapshot(src, parent=first.id)

    assert second.bytes_read < total
    assert second.bytes_new_stored < 100_000  # no file content is new
    store.restore(second.id, tmp_path / "out")
    assert_same_tree(src, tmp_path / "out")
    changed = store.diff(first.id, second.id).changed
    names_of_small = ["small.txt", "small-hardlink", "setgid-dir/another-link"]
    for path in ["abs-link", "empty", "multi-chunk", *names_of_small]:
        assert path in changed, f"{path} changed but diff lists only {changed}"


def test_diff_lists_every_name_of_a_changed_hardlinked_file(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "a").write_text("content")
    os.link(src / "a", src / "b")
    os.link(src / "a", src / "d" / "c")
    (src / "plain").write_text("p")
    one = store.snapshot(src).id

    (src / "a").write_text("new content")  # the one inode: all three names see it
    two = store.snapshot(src, parent=one).id

    assert store.diff(one, two).changed == ["a", "b", "d/c"]
    store.restore(two, tmp_path / "out")
    assert (tmp_path / "out" / "b").read_text() == "new content"


def _writable(path: bytes) -> None:
    st = os.lstat(path)
    os.chmod(path, stat.S_IMODE(st.st_mode) | (0o700 if stat.S_ISDIR(st.st_mode) else 0o600))


def mutate(root: Path, ops: list[tuple[str, int, int]]) -> None:
    """Apply random changes of every kind a user makes between two snapshots."""
    root_b = os.fsencode(root)
    for op, i, j in ops:
        entries = list(walk(root_b))
        files = [rel for rel, st in entries if stat.S_ISREG(st.st_mode)]
        dirs = [b"", *(rel for rel, st in entries if stat.S_ISDIR(st.st_mode))]
        others = [rel for rel, st in entries if not stat.S_ISDIR(st.st_mode)]

        def full(rel: bytes) -> bytes:
            return os.path.join(root_b, rel) if rel else root_b

        def parent(rel: bytes) -> bytes:
            return full(os.path.dirname(rel))

        if op in ("rewrite", "append", "chmod", "xattr") and files:
            path = full(files[i % len(files)])
            _writable(path)
            if op == "rewrite":
                with open(path, "wb") as f:
                    f.write(random.Random(j).randbytes(j * 37))
            elif op == "append":
                with open(path, "ab") as f:
                    f.write(b"appended %d" % j)
            elif op == "chmod":
                os.chmod(path, [0o600, 0o755, 0o4755, 0o444][j % 4])
            else:
                os.setxattr(path, "user.changed", b"%d" % j)
        elif op == "unlink" and others:
            rel = others[i % len(others)]
            _writable(parent(rel))
            os.unlink(full(rel))
        elif op == "rmtree" and len(dirs) > 1:
            rel = dirs[1 + i % (len(dirs) - 1)]
            remove_tree(Path(os.fsdecode(full(rel))))
        elif op == "touch" and entries:
            rel = entries[i % len(entries)][0]
            os.utime(full(rel), ns=(j * 10**9 + i, j * 10**9 + i), follow_symlinks=False)
        elif op in ("link", "mkdir", "symlink"):
            where = dirs[i % len(dirs)]
            _writable(full(where))
            new = os.path.join(full(where), b"%s-%d" % (op.encode(), j))
            if os.path.lexists(new):
                continue
            if op == "link" and files:
                os.link(full(files[j % len(files)]), new)
            elif op == "mkdir":
                os.mkdir(new)
                with open(os.path.join(new, b"inside"), "wb") as f:
                    f.write(b"%d" % j)
            elif op == "symlink":
                os.symlink(b"target-%d" % i, new)


OPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "rewrite",
                "append",
                "chmod",
                "xattr",
                "unlink",
                "rmtree",
                "touch",
                "link",
                "mkdir",
                "symlink",
            ]
        ),
        st.integers(0, 1000),
        st.integers(0, 1000),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=25, deadline=None)
@given(spec=trees(as_root=False), ops=OPS)
def test_child_of_randomly_changed_tree_restores_identically(
    tmp_path_factory: pytest.TempPathFactory, spec: TreeSpec, ops: list[tuple[str, int, int]]
) -> None:
    base = tmp_path_factory.mktemp("inc")
    try:
        src = base / "src"
        build_tree(src, spec)
        store = Store.init(base / "store")
        first = store.snapshot(src)
        store.restore(first.id, base / "parent-before")
        wait_for_ctime_tick(base)

        mutate(src, ops)
        second = store.snapshot(src, parent=first.id)

        store.restore(second.id, base / "child")
        assert_same_tree(src, base / "child")
        store.restore(first.id, base / "parent-after")
        assert_same_tree(base / "parent-before", base / "parent-after")
    finally:
        remove_tree(base)
