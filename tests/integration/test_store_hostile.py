"""Restoring hostile snapshots: nothing is ever written outside the target.

The snapshots here are forged directly from tree nodes, as an attacker who
controls a store could write them.
"""

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from amiable.store import Store
from amiable.store.blobs import Blobs
from amiable.store.codec import Codec
from amiable.store.errors import DestinationNotEmpty, UnsafeSnapshot
from amiable.store.fsutil import write_atomic
from amiable.store.index import Index, commit_index
from amiable.store.packs import PackWriter
from amiable.store.records import encode_record
from amiable.store.tree import Node


class Forger:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.writer = PackWriter(store.packs, store.tmp)
        self.blobs = Blobs(Index(store.index_dir).load(), store.packs, Codec(), self.writer)

    def file(self, name: str | bytes, content: bytes) -> Node:
        blob_id, _ = self.blobs.put_data(content)
        node = self._node(name, "file", 0o644)
        node.update(size=len(content), chunks=[[0, len(content), blob_id]])
        return node

    def dir(self, name: str | bytes, nodes: list[Node]) -> Node:
        node = self._node(name, "dir", 0o755)
        node["tree"], _ = self.blobs.put_tree(nodes)
        return node

    def symlink(self, name: str, target: str) -> Node:
        node = self._node(name, "symlink", 0o777)
        node["target"] = target
        return node

    @staticmethod
    def hardlink(name: str, link: str) -> Node:
        return {"name": name, "type": "hardlink", "link": link}

    @staticmethod
    def _node(name: str | bytes, kind: str, mode: int) -> Node:
        text = name.decode("utf-8") if isinstance(name, bytes) else name
        return {"name": text, "type": kind, "mode": mode, "uid": 0, "gid": 0, "mtime": 0}

    def commit(self, nodes: list[Node]) -> str:
        tree, _ = self.blobs.put_tree(nodes)
        commit_index(self.store.index_dir, self.store.tmp, self.writer)
        doc = {
            "version": 1,
            "time": datetime.now(UTC).isoformat(),
            "tree": tree,
            "root": self._node("", "dir", 0o755),
            "parent": None,
            "source": "/forged",
            "key_check": None,
            "files": len(nodes),
            "dirs": 1,
            "logical_bytes": 0,
        }
        snap_id, data = encode_record(doc)
        write_atomic(self.store.records / snap_id, data, self.store.tmp)
        return snap_id


@pytest.fixture
def world(tmp_path: Path) -> tuple[Store, Path, Path]:
    """A store, a restore target, and an 'outside' directory that must stay untouched."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("keep me")
    return Store.init(tmp_path / "store"), tmp_path / "target", outside


def snapshot_of(store: Store, build: Callable[[Forger], list[Node]]) -> str:
    forger = Forger(store)
    return forger.commit(build(forger))


def untouched(outside: Path) -> None:
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_text() == "keep me"


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "/etc", "x\0y"])
def test_names_that_are_not_one_component_are_refused(
    world: tuple[Store, Path, Path], name: str
) -> None:
    store, target, outside = world
    evil = f"../outside/{name}" if name == "a/b" else name
    snap = snapshot_of(store, lambda f: [f.file(evil, b"pwned")])
    with pytest.raises(UnsafeSnapshot):
        store.restore(snap, target)
    untouched(outside)
    assert not (target.parent / "pwned").exists()


def test_dotdot_directory_is_refused(world: tuple[Store, Path, Path]) -> None:
    store, target, outside = world
    snap = snapshot_of(
        store, lambda f: [f.dir("..", [f.dir("outside", [f.file("evil", b"pwned")])])]
    )
    with pytest.raises(UnsafeSnapshot):
        store.restore(snap, target)
    untouched(outside)


def test_symlink_then_same_name_directory_is_refused(world: tuple[Store, Path, Path]) -> None:
    store, target, outside = world
    snap = snapshot_of(
        store,
        lambda f: [
            f.symlink("d", str(outside)),
            f.dir("d", [f.file("evil", b"pwned")]),
        ],
    )
    with pytest.raises(UnsafeSnapshot):
        store.restore(snap, target)
    untouched(outside)


def test_symlink_planted_by_an_earlier_restore_is_not_followed(
    world: tuple[Store, Path, Path],
) -> None:
    store, target, outside = world
    plant = snapshot_of(
        store, lambda f: [f.symlink("d", str(outside)), f.symlink("f", str(outside / "secret"))]
    )
    store.restore(plant, target)
    write = snapshot_of(
        store, lambda f: [f.dir("d", [f.file("evil", b"pwned")]), f.file("f", b"pwned")]
    )
    store.restore(write, target, force=True)
    untouched(outside)
    assert (target / "d").is_dir() and not (target / "d").is_symlink()
    assert (target / "d" / "evil").read_bytes() == b"pwned"
    assert (target / "f").read_bytes() == b"pwned"


@pytest.mark.parametrize("link", ["../outside/secret", "/etc/passwd", "missing", "sym"])
def test_hardlinks_only_reach_files_of_the_same_restore(
    world: tuple[Store, Path, Path], link: str
) -> None:
    store, target, outside = world
    snap = snapshot_of(
        store,
        lambda f: [f.hardlink("h", link), f.symlink("sym", str(outside / "secret"))],
    )
    if link == "sym":
        store.restore(snap, target)  # a hardlink to the symlink itself, not to its target
        assert os.readlink(target / "h") == str(outside / "secret")
        assert os.lstat(target / "h").st_ino == os.lstat(target / "sym").st_ino
    else:
        with pytest.raises(UnsafeSnapshot):
            store.restore(snap, target)
        assert not (target / "h").exists()
    untouched(outside)
    assert os.stat(outside / "secret").st_nlink == 1


def test_restore_into_non_empty_target_needs_force(world: tuple[Store, Path, Path]) -> None:
    store, target, _ = world
    snap = snapshot_of(store, lambda f: [f.file("a", b"new")])
    target.mkdir()
    (target / "mine").write_text("existing")
    with pytest.raises(DestinationNotEmpty):
        store.restore(snap, target)
    assert sorted(p.name for p in target.iterdir()) == ["mine"]
    store.restore(snap, target, force=True)
    assert (target / "a").read_bytes() == b"new"
    assert (target / "mine").read_text() == "existing"
