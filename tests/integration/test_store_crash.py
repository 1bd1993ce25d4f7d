"""Crashes (kill -9) and full disks leave the store consistent: earlier snapshots intact."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from amiable.store import Store, errors
from helpers import (
    ami,
    ami_cmd,
    assert_one_line_error,
    assert_same_tree,
    remove_tree,
    require_root,
    store_size,
    write_random_tree,
)


def big_tree(root: Path, seed: int) -> None:
    """~60 MB of random content in 300 files, two of them large (multi-chunk)."""
    write_random_tree(root, files=300, total_bytes=60_000_000, seed=seed, dirs=20, big_files=2)


def restores_identically(store: Store, snap: str, source: Path, dest: Path) -> None:
    store.restore(snap, dest)
    assert_same_tree(source, dest)
    remove_tree(dest)


def _count(path: Path) -> int:
    """Files below path; entries that vanish while counting are simply not counted."""
    return sum(len(files) for _dir, _subdirs, files in os.walk(path))


@dataclass(frozen=True)
class StoreState:
    packs: int
    index: int
    tmp: int

    @staticmethod
    def of(store_dir: Path) -> StoreState:
        return StoreState(
            _count(store_dir / "packs"), _count(store_dir / "index"), _count(store_dir / "tmp")
        )


@dataclass(frozen=True)
class KillPoint:
    """When to kill: after `delay` seconds, or as soon as the store reaches a state."""

    name: str
    delay: float | None = None
    when: Callable[[StoreState, StoreState], bool] | None = None


def run_and_kill(store_dir: Path, src: Path, point: KillPoint) -> tuple[int, str]:
    """Start `ami store snapshot`, kill -9 its whole process group at `point`."""
    before = StoreState.of(store_dir)
    proc = subprocess.Popen(
        ami_cmd("snapshot", "--store", store_dir, src),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    if point.delay is not None:
        time.sleep(point.delay)
    else:
        assert point.when is not None
        while proc.poll() is None and time.monotonic() < deadline:
            if point.when(before, StoreState.of(store_dir)):
                break
            time.sleep(0.001)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.stderr is not None
    stderr = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    return proc.returncode, stderr


def test_kill_9_during_snapshot_leaves_store_consistent(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    store = Store.init(store_dir)
    base = tmp_path / "base"
    write_random_tree(base, files=30, total_bytes=2_000_000, seed=1)
    s0 = store.snapshot(base).id

    # Where a snapshot of such a tree spends its time here, to aim the kills inside it.
    probe_src, probe_store = tmp_path / "probe-src", tmp_path / "probe-store"
    big_tree(probe_src, seed=99)
    Store.init(probe_store)
    started = time.monotonic()
    assert ami("stats", "--store", probe_store).returncode == 0
    startup = time.monotonic() - started
    started = time.monotonic()
    assert ami("snapshot", "--store", probe_store, probe_src).returncode == 0
    work = max(0.01, time.monotonic() - started - startup)
    full_packs = StoreState.of(probe_store).packs
    remove_tree(probe_store)
    remove_tree(probe_src)

    points = [
        KillPoint("early in startup", delay=startup * 0.5),
        KillPoint("a temporary file exists", when=lambda b, n: n.tmp > b.tmp),
        KillPoint("first pack written", when=lambda b, n: n.packs > b.packs),
        KillPoint("20% of the work", delay=startup + 0.2 * work),
        KillPoint("half the packs", when=lambda b, n: n.packs - b.packs >= full_packs // 2),
        KillPoint("60% of the work", delay=startup + 0.6 * work),
        KillPoint("new index written", when=lambda b, n: n.index > b.index),
        KillPoint("90% of the work", delay=startup + 0.9 * work),
        KillPoint("about done", delay=startup + 1.05 * work),
    ]
    completed: dict[str, Path] = {s0: base}
    for i, point in enumerate(points):
        src = tmp_path / f"big{i}"
        big_tree(src, seed=10 + i)
        code, stderr = run_and_kill(store_dir, src, point)
        assert code in (0, -signal.SIGKILL), f"kill #{i} ({point.name}): exit {code}: {stderr}"

        store = Store.open(store_dir)
        new = [r for r in store.snapshots() if r.id not in completed]
        assert len(new) <= 1, f"kill #{i} ({point.name}) left several snapshot records"
        if code == 0:
            assert len(new) == 1, "a snapshot that reported success left no record"
        if new:  # completed before the kill landed: it must be whole
            assert new[0].source == str(src)
            completed[new[0].id] = src
            restores_identically(store, new[0].id, src, tmp_path / "check")
        report = store.fsck()
        assert report.ok, f"after kill #{i} ({point.name}): {report.errors}"
        restores_identically(store, s0, base, tmp_path / "check")
        if not new:
            # Retry, as a user would: the same tree, on top of the killed run's leftovers.
            retry = store.snapshot(src)
            completed[retry.id] = src
            restores_identically(store, retry.id, src, tmp_path / "check")

    store = Store.open(store_dir)
    report = store.fsck(read_data=True)
    assert report.ok, report.errors

    store.gc()

    report = store.fsck(read_data=True)
    assert report.ok, report.errors
    tmp_dir = store_dir / "tmp"
    assert not tmp_dir.exists() or not any(tmp_dir.iterdir()), "gc left temporary files"
    assert {r.id for r in store.snapshots()} == set(completed)
    for snap, src in completed.items():
        restores_identically(store, snap, src, tmp_path / "check")
    # gc removed the garbage: the store is about as large as a clean copy of its snapshots.
    clean = Store.init(tmp_path / "clean")
    for snap in completed:
        store.copy(snap, clean)
    assert store_size(store_dir) <= 1.2 * store_size(tmp_path / "clean") + 256 * 1024


# ---------------------------------------------------------------------- full disk


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB tmpfs, unmounted afterwards."""
    require_root("mounting a small tmpfs to fill up")
    mnt = tmp_path / "small-fs"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_during_snapshot_fails_cleanly(small_fs: Path, tmp_path: Path) -> None:
    store_dir = small_fs / "store"
    store = Store.init(store_dir)
    small = tmp_path / "small"
    write_random_tree(small, files=10, total_bytes=1_000_000, seed=1)
    s0 = store.snapshot(small).id
    big = tmp_path / "big"
    write_random_tree(big, files=40, total_bytes=20_000_000, seed=2)

    with pytest.raises(errors.StoreFull):
        store.snapshot(big)
    assert_one_line_error(ami("snapshot", "--store", store_dir, big), "no space")

    assert [r.id for r in store.snapshots()] == [s0]
    report = store.fsck(read_data=True)
    assert report.ok, report.errors
    restores_identically(store, s0, small, tmp_path / "out")

    store.gc()
    report = store.fsck(read_data=True)
    assert report.ok, report.errors
    # The space of the failed attempts is usable again.
    another = tmp_path / "another"
    write_random_tree(another, files=10, total_bytes=3_000_000, seed=3)
    restores_identically(store, store.snapshot(another).id, another, tmp_path / "out2")
    restores_identically(store, s0, small, tmp_path / "out3")


def test_full_disk_during_restore_raises_store_full(small_fs: Path, tmp_path: Path) -> None:
    store = Store.init(tmp_path / "store")
    src = tmp_path / "src"
    write_random_tree(src, files=20, total_bytes=12_000_000, seed=4)
    snap = store.snapshot(src).id

    with pytest.raises(errors.StoreFull):
        store.restore(snap, small_fs / "out")
    assert_one_line_error(
        ami("restore", "--store", tmp_path / "store", snap, small_fs / "out-cli"), "no space"
    )
