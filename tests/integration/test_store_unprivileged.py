"""A normal user (no root) snapshots and restores read-only entries that carry xattrs.

As root the CLI runs inside `unshare --user`, where it has no privilege over the files,
as an ordinary user would; otherwise it runs as is.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import (
    IS_ROOT,
    Content,
    DirSpec,
    FifoSpec,
    FileSpec,
    SparseSpec,
    SymlinkSpec,
    TreeSpec,
    ami_cmd,
    assert_same_tree,
    build_tree,
)

READ_ONLY_WITH_XATTRS = TreeSpec(
    root=DirSpec(
        children=(
            (b"ro-file", FileSpec(Content(1, 100), mode=0o444, xattrs=(("user.a", b"1"),))),
            (b"owner-only", FileSpec(Content(2, 50), mode=0o400, xattrs=(("user.b", b"2"),))),
            (
                b"ro-dir",
                DirSpec(
                    children=(
                        (b"inner", FileSpec(Content(3, 10), mode=0o444)),
                        (b"sub", DirSpec(mode=0o500, xattrs=(("user.c", b"3"),))),
                    ),
                    mode=0o555,
                    xattrs=(("user.d", b"4"),),
                ),
            ),
            (b"sparse", SparseSpec(size=1 << 20, writes=((4096, Content(4, 100)),), mode=0o444)),
            (b"fifo", FifoSpec(mode=0o400)),
            (b"link", SymlinkSpec(b"ro-file")),
        )
    ),
    hardlinks=((0, 0, b"ro-link"),),
)


def _unprivileged(cmd: list[str]) -> list[str]:
    return ["unshare", "--user", *cmd] if IS_ROOT else cmd


@pytest.fixture
def can_drop_privilege() -> None:
    if not IS_ROOT:
        return
    if shutil.which("unshare") is None:
        pytest.skip("needs util-linux unshare to act as a normal user")
    probe = subprocess.run(["unshare", "--user", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"user namespaces unavailable: {probe.stderr.decode().strip()}")


def run(*args: str | Path) -> str:
    proc = subprocess.run(
        _unprivileged(ami_cmd(*args)), capture_output=True, text=True, check=False, timeout=300
    )
    assert proc.returncode == 0, f"ami store {args[0]} failed: {proc.stderr}"
    return proc.stdout


@pytest.mark.usefixtures("can_drop_privilege")
def test_normal_user_restores_read_only_entries_with_xattrs(tmp_path: Path) -> None:
    src, store, dest = tmp_path / "src", tmp_path / "store", tmp_path / "dest"
    build_tree(src, READ_ONLY_WITH_XATTRS)
    run("init", "--store", store)
    snap = run("snapshot", "--store", store, src).strip()
    run("restore", "--store", store, snap, dest)
    assert_same_tree(src, dest)
