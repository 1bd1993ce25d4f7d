"""Store.snapshot_changes: an overlayfs upper directory's changes applied to a
parent snapshot give the same tree as snapshotting the merged view. Needs
root (overlay mounts)."""

import os
import shutil
from pathlib import Path

import pytest

from amiable.runtime.mounts import MS_RDONLY, mount, overlay_options, unmount
from amiable.store import Store
from amiable.store.errors import SnapshotNotFound
from helpers import assert_same_tree, require_root


def lower_tree(root: Path) -> Path:
    for directory in ("etc/conf.d", "srv/www/img", "var/log", "opt/app/lib", "gone/deep"):
        (root / directory).mkdir(parents=True)
    (root / "etc" / "hostname").write_text("image\n")
    (root / "etc" / "conf.d" / "a.conf").write_text("a=1\n")
    (root / "etc" / "conf.d" / "b.conf").write_text("b=1\n")
    (root / "srv" / "www" / "index.html").write_text("<h1>old</h1>\n")
    (root / "srv" / "www" / "img" / "logo.bin").write_bytes(os.urandom(300_000))
    (root / "opt" / "app" / "lib" / "big.bin").write_bytes(os.urandom(2_000_000))
    (root / "opt" / "app" / "run").write_text("#!/bin/sh\n")
    (root / "gone" / "deep" / "x").write_text("x\n")
    (root / "etc" / "motd").symlink_to("hostname")
    return root


def change(merged: Path) -> None:
    """What an instance does: every kind of change overlayfs records."""
    (merged / "srv" / "www" / "index.html").write_text("<h1>new</h1>\n")  # modified
    (merged / "etc" / "conf.d" / "b.conf").unlink()  # whiteout
    (merged / "etc" / "conf.d" / "c.conf").write_text("c=1\n")  # new file
    shutil.rmtree(merged / "gone")  # whiteout of a directory
    shutil.rmtree(merged / "opt" / "app" / "lib")
    (merged / "opt" / "app" / "lib").mkdir()  # opaque: replaces what was below
    (merged / "opt" / "app" / "lib" / "new.so").write_bytes(b"\x7fELF" + os.urandom(1000))
    (merged / "opt" / "app" / "run").chmod(0o755)  # metadata only
    (merged / "new" / "tree").mkdir(parents=True)  # a brand-new directory
    (merged / "new" / "tree" / "f").write_text("f\n")
    os.rename(merged / "etc" / "hostname", merged / "etc" / "hostname.old")  # rename
    (merged / "etc" / "link").symlink_to("/srv/www/index.html")
    os.setxattr(merged / "etc" / "conf.d" / "a.conf", "user.tag", b"gold")


def test_changes_snapshot_equals_the_merged_view(tmp_path: Path) -> None:
    require_root("overlayfs mounts")
    store = Store.init(tmp_path / "store")
    base = store.snapshot(lower_tree(tmp_path / "lower")).id
    cache = tmp_path / "cache"
    store.restore(base, cache)
    upper, work, merged, view = (tmp_path / n for n in ("upper", "work", "merged", "view"))
    for directory in (upper, work, merged, view):
        directory.mkdir()
    mount(
        "overlay", str(merged), "overlay", 0, overlay_options([str(cache)], str(upper), str(work))
    )
    try:
        change(merged)
    finally:
        unmount(str(merged))

    from_changes = store.snapshot_changes(upper, parent=base)
    mount("overlay", str(view), "overlay", MS_RDONLY, overlay_options([str(upper), str(cache)]))
    try:
        from_view = store.snapshot(view, parent=base)
        assert from_changes.bytes_read < 20_000  # only the changed files were read
        store.restore(from_view.id, tmp_path / "expected")
    finally:
        unmount(str(view))
    store.restore(from_changes.id, tmp_path / "got")
    assert_same_tree(tmp_path / "expected", tmp_path / "got")
    assert (tmp_path / "got" / "srv" / "www" / "img" / "logo.bin").stat().st_size == 300_000
    assert not (tmp_path / "got" / "gone").exists()
    assert sorted(os.listdir(tmp_path / "got" / "opt" / "app" / "lib")) == ["new.so"]
    assert os.getxattr(tmp_path / "got" / "etc" / "conf.d" / "a.conf", "user.tag") == b"gold"
    assert not [
        name
        for name in os.listxattr(tmp_path / "got" / "opt" / "app" / "lib")
        if name.startswith("trusted.overlay")
    ]


def test_changes_need_an_existing_parent(tmp_path: Path) -> None:
    store = Store.init(tmp_path / "store")
    (tmp_path / "upper").mkdir()
    with pytest.raises(SnapshotNotFound):
        store.snapshot_changes(tmp_path / "upper", parent="0" * 64)
