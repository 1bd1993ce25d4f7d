"""Snapshot, then restore into a fresh directory: every entry and all its metadata survive."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings

from amiable.store import Store
from helpers import (
    KITCHEN_SINK,
    Built,
    Content,
    DeviceSpec,
    DirSpec,
    FifoSpec,
    FileSpec,
    SymlinkSpec,
    TreeSpec,
    allocated,
    assert_same_tree,
    build_tree,
    remove_tree,
    require_root,
    scan_tree,
)
from strategies import trees


def check_roundtrip(base: Path, spec: TreeSpec, key: bytes | None = None) -> None:
    src, dest = base / "src", base / "dest"
    built = build_tree(src, spec)
    before = scan_tree(src)
    store = Store.init(base / "store")

    summary = store.snapshot(src, key=key)
    assert summary.skipped == []
    assert scan_tree(src) == before, "snapshot changed its source tree"

    restored = store.restore(summary.id, dest, key=key)
    assert restored.id == summary.id
    assert restored.skipped == []
    assert_same_tree(src, dest)
    check_sparse(src, dest, built)


def check_sparse(src: Path, dest: Path, built: Built) -> None:
    block = os.statvfs(dest).f_bsize
    for rel in built.sparse:
        a, b = os.path.join(os.fsencode(src), rel), os.path.join(os.fsencode(dest), rel)
        assert allocated(b) <= allocated(a) + block, (
            f"{rel!r}: restored file allocates {allocated(b)} bytes, source {allocated(a)}: "
            "holes were filled"
        )


@settings(max_examples=25, deadline=None)
@given(spec=trees(as_root=False))
def test_roundtrip_preserves_everything(
    tmp_path_factory: pytest.TempPathFactory, spec: TreeSpec
) -> None:
    base = tmp_path_factory.mktemp("rt")
    try:
        check_roundtrip(base, spec)
    finally:
        remove_tree(base)


@settings(max_examples=10, deadline=None)
@given(spec=trees(as_root=False))
def test_roundtrip_encrypted_preserves_everything(
    tmp_path_factory: pytest.TempPathFactory, spec: TreeSpec
) -> None:
    base = tmp_path_factory.mktemp("rt-enc")
    try:
        check_roundtrip(base, spec, key=os.urandom(32))
    finally:
        remove_tree(base)


@settings(max_examples=25, deadline=None)
@given(spec=trees(as_root=True))
def test_roundtrip_as_root_preserves_owners_devices_capabilities(
    tmp_path_factory: pytest.TempPathFactory, spec: TreeSpec
) -> None:
    require_root("device nodes, chown to other users, security.capability")
    base = tmp_path_factory.mktemp("rt-root")
    try:
        check_roundtrip(base, spec)
    finally:
        remove_tree(base)


# Fixed examples: each feature on its own, so a failure names the feature.


def test_roundtrip_kitchen_sink(tmp_path: Path) -> None:
    check_roundtrip(tmp_path, KITCHEN_SINK)


def test_roundtrip_kitchen_sink_restores_hardlinks_as_one_inode(tmp_path: Path) -> None:
    src, dest = tmp_path / "src", tmp_path / "dest"
    built = build_tree(src, KITCHEN_SINK)
    assert built.hardlinks, "the example must contain hard links"
    store = Store.init(tmp_path / "store")
    store.restore(store.snapshot(src).id, dest)
    for rel in built.hardlinks:
        linked = os.stat(os.path.join(os.fsencode(dest), rel))
        original = os.stat(os.path.join(os.fsencode(src), rel))
        assert linked.st_nlink == original.st_nlink, rel


def test_roundtrip_device_nodes(tmp_path: Path) -> None:
    require_root("mknod of device nodes")
    spec = TreeSpec(
        root=DirSpec(
            children=(
                (b"null", DeviceSpec(char=True, major=1, minor=3, mode=0o666)),
                (b"loop9", DeviceSpec(char=False, major=7, minor=9, mode=0o660)),
                (b"big", DeviceSpec(char=True, major=4000, minor=1_000_000)),
            )
        )
    )
    check_roundtrip(tmp_path, spec)


def test_roundtrip_other_owners(tmp_path: Path) -> None:
    require_root("chown to other uids and gids")
    spec = TreeSpec(
        root=DirSpec(
            children=(
                (b"f", FileSpec(Content(1, 10), owner=(1234, 5678), mode=0o6755)),
                (b"d", DirSpec(owner=(4321, 8765), mode=0o2770)),
                (b"l", SymlinkSpec(b"f", owner=(99, 98))),
                (b"p", FifoSpec(owner=(65534, 65534))),
                (b"big-ids", FileSpec(Content(2, 1), owner=(2**31 - 2, 2**31 - 3))),
            )
        )
    )
    check_roundtrip(tmp_path, spec)


def test_roundtrip_file_capability(tmp_path: Path) -> None:
    require_root("setting security.capability")
    spec = TreeSpec(
        root=DirSpec(
            children=(
                (b"ping", FileSpec(Content(1, 1000), mode=0o755, capability=True)),
                (
                    b"owned-ping",
                    FileSpec(Content(2, 1000), mode=0o750, owner=(0, 1234), capability=True),
                ),
            )
        )
    )
    check_roundtrip(tmp_path, spec)
    restored = os.getxattr(tmp_path / "dest" / "ping", "security.capability")
    assert restored == os.getxattr(tmp_path / "src" / "ping", "security.capability")
