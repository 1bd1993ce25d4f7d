"""fsck finds damage, names the damaged object and the snapshots that need it."""

from __future__ import annotations

import contextlib
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amiable.store import Store, errors
from helpers import ami, assert_same_tree, pack_files, remove_tree, tree_differences, walk


@dataclass
class Scene:
    store: Store
    store_path: Path
    key: bytes | None
    tree1: Path
    tree2: Path
    s1: str  # snapshot of tree1
    s2: str  # snapshot of tree2: shares nothing with tree1
    s3: str  # child of s1: shares the big file
    s1_packs: list[Path]
    s1_index: Path  # the index file written by the snapshot s1

    def restore_problems(self, dest: Path) -> dict[str, str]:
        """Snapshot -> what went wrong restoring it ('' when it restored identically)."""
        out: dict[str, str] = {}
        for snap, tree in ((self.s1, self.tree1), (self.s2, self.tree2)):
            target = dest / snap[:12]
            try:
                self.store.restore(snap, target, key=self.key)
            except errors.StoreError as exc:
                out[snap] = f"{type(exc).__name__}: {exc}"
                continue
            out[snap] = "; ".join(tree_differences(tree, target))
        return out


@pytest.fixture(params=["plain", "encrypted"])
def scene(request: pytest.FixtureRequest, tmp_path: Path) -> Scene:
    key = os.urandom(32) if request.param == "encrypted" else None
    store_path = tmp_path / "store"
    store = Store.init(store_path)
    rng = random.Random(42)
    tree1, tree2 = tmp_path / "tree1", tmp_path / "tree2"
    (tree1 / "sub").mkdir(parents=True)
    (tree1 / "sub" / "big.bin").write_bytes(rng.randbytes(300_000))
    (tree1 / "small.txt").write_bytes(b"small")
    tree2.mkdir()
    (tree2 / "other.bin").write_bytes(rng.randbytes(200_000))

    s1 = store.snapshot(tree1, key=key).id
    s1_packs = pack_files(store_path)
    (s1_index,) = (store_path / "index").iterdir()
    s2 = store.snapshot(tree2, key=key).id
    (tree1 / "added.txt").write_bytes(b"a child")
    s3 = store.snapshot(tree1, parent=s1, key=key).id
    (tree1 / "added.txt").unlink()  # tree1 is s1's content again
    assert s1_packs
    return Scene(store, store_path, key, tree1, tree2, s1, s2, s3, s1_packs, s1_index)


def _largest(packs: list[Path]) -> Path:
    return max(packs, key=lambda p: p.stat().st_size)


def flip_bit(path: Path, offset: int, bit: int = 0x10) -> None:
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ bit]))


def test_healthy_store_is_ok(scene: Scene) -> None:
    for read_data in (False, True):
        report = scene.store.fsck(read_data=read_data, key=scene.key)
        assert report.ok, report.errors
        assert report.errors == []
        assert report.damaged == {}
        assert report.objects_checked >= 5  # two files, three trees at least


def test_flipped_bit_in_blob_data_is_found_and_attributed(scene: Scene, tmp_path: Path) -> None:
    pack = _largest(scene.s1_packs)  # holds the 300 kB chunk of sub/big.bin
    flip_bit(pack, pack.stat().st_size // 2)

    report = scene.store.fsck(read_data=True, key=scene.key)

    assert not report.ok
    assert report.errors, "fsck found damage but reported no error message"
    assert all("\n" not in e for e in report.errors)
    assert len(report.damaged) == 1, report.damaged
    ((obj, needed_by),) = report.damaged.items()
    assert isinstance(obj, str) and obj
    assert sorted(needed_by) == sorted([scene.s1, scene.s3])


def test_restore_of_damaged_snapshot_raises_and_writes_no_garbage(
    scene: Scene, tmp_path: Path
) -> None:
    pack = _largest(scene.s1_packs)
    flip_bit(pack, pack.stat().st_size // 2)
    dest = tmp_path / "out"

    with pytest.raises(errors.CorruptObject):
        scene.store.restore(scene.s1, dest, key=scene.key)

    big = dest / "sub" / "big.bin"
    assert not big.exists(), (
        f"after CorruptObject, restore left sub/big.bin ({big.stat().st_size} bytes, "
        "source 300000) in the destination"
    )
    if dest.exists():
        for rel, st in walk(dest):
            path = os.path.join(os.fsencode(dest), rel)
            if os.path.isfile(path) and not os.path.islink(path):
                source = os.path.join(os.fsencode(scene.tree1), rel)
                with open(path, "rb") as a, open(source, "rb") as b:
                    assert a.read() == b.read(), f"{rel!r} restored with wrong content"
                assert st.st_size == os.stat(source).st_size


def test_undamaged_snapshot_still_restores(scene: Scene, tmp_path: Path) -> None:
    pack = _largest(scene.s1_packs)
    flip_bit(pack, pack.stat().st_size // 2)
    scene.store.restore(scene.s2, tmp_path / "out", key=scene.key)
    assert_same_tree(scene.tree2, tmp_path / "out")


def test_missing_pack_is_found_without_reading_data(scene: Scene) -> None:
    pack = _largest(scene.s1_packs)
    pack.unlink()

    report = scene.store.fsck()

    assert not report.ok
    assert report.errors
    assert report.damaged
    needers = {s for snaps in report.damaged.values() for s in snaps}
    assert scene.s1 in needers
    assert scene.s2 not in needers


def test_truncated_pack_is_found(scene: Scene) -> None:
    pack = _largest(scene.s1_packs)
    os.truncate(pack, pack.stat().st_size // 2)
    report = scene.store.fsck(read_data=True, key=scene.key)
    assert not report.ok
    needers = {s for snaps in report.damaged.values() for s in snaps}
    assert scene.s1 in needers
    assert scene.s2 not in needers


def test_cli_fsck_reports_damage_and_exits_1(scene: Scene) -> None:
    pack = _largest(scene.s1_packs)
    flip_bit(pack, pack.stat().st_size // 2)
    args: list[str | Path] = ["fsck", "--store", scene.store_path, "--read-data"]
    if scene.key is not None:
        key_file = scene.store_path.parent / "key"
        key_file.write_bytes(scene.key)
        args += ["--key-file", key_file]

    proc = ami(*args, "--json")

    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is False
    ((_obj, needed_by),) = report["damaged"].items()
    assert sorted(needed_by) == sorted([scene.s1, scene.s3])

    plain = ami(*args)
    assert plain.returncode == 1
    assert scene.s1[:8] in plain.stdout + plain.stderr, "fsck output does not name the snapshot"


FRACTIONS = [0.1, 0.25, 0.5, 0.75, 0.9]


@pytest.mark.parametrize("where", FRACTIONS)
def test_flipped_bit_in_index_is_found_and_fsck_ok_means_restorable(
    scene: Scene, tmp_path: Path, where: float
) -> None:
    index = scene.s1_index
    flip_bit(index, int(index.stat().st_size * where), bit=0x01)

    plain = scene.store.fsck(key=scene.key)
    full = scene.store.fsck(read_data=True, key=scene.key)
    problems = {s: p for s, p in scene.restore_problems(tmp_path).items() if p}

    assert not full.ok, "fsck --read-data did not notice an index file that fails its hash"
    if plain.ok:
        assert not problems, f"fsck said ok, but restore fails: {problems}"


@pytest.mark.parametrize("where", FRACTIONS)
def test_gc_on_store_with_damaged_index_destroys_nothing(
    scene: Scene, tmp_path: Path, where: float
) -> None:
    """Repairing the index after such a gc must bring every snapshot back."""
    index = scene.s1_index
    original = index.read_bytes()
    flip_bit(index, int(len(original) * where), bit=0x01)

    with contextlib.suppress(errors.StoreError):  # refusing is the safe answer
        scene.store.gc()

    index.write_bytes(original)  # the repair: the index file as it was
    problems = {s: p for s, p in scene.restore_problems(tmp_path).items() if p}
    assert not problems, f"gc on a damaged store lost data: {problems}"


def test_gc_with_damaged_snapshot_record_destroys_nothing(scene: Scene, tmp_path: Path) -> None:
    record = scene.store_path / "snapshots" / scene.s1
    original = record.read_bytes()
    flip_bit(record, len(original) // 2, bit=0x01)
    with pytest.raises(errors.CorruptObject):
        scene.store.restore(scene.s1, tmp_path / "damaged", key=scene.key)
    assert not scene.store.fsck().ok

    with contextlib.suppress(errors.StoreError):
        scene.store.gc()

    record.write_bytes(original)
    problems = {s: p for s, p in scene.restore_problems(tmp_path).items() if p}
    assert not problems, f"gc on a damaged store lost data: {problems}"


@settings(max_examples=30, deadline=None)
@given(
    encrypted=st.booleans(),
    which=st.integers(0, 10**6),
    where=st.floats(0, 1, exclude_max=True),
    bit=st.sampled_from([0x01, 0x02, 0x10, 0x80]),
)
def test_any_flipped_bit_is_caught_and_never_restored_silently(
    tmp_path_factory: pytest.TempPathFactory, encrypted: bool, which: int, where: float, bit: int
) -> None:
    base = tmp_path_factory.mktemp("flip")
    try:
        key = os.urandom(32) if encrypted else None
        tree = base / "tree"
        (tree / "d").mkdir(parents=True)
        (tree / "d" / "random.bin").write_bytes(random.Random(which).randbytes(60_000))
        (tree / "text.txt").write_bytes(b"some text that compresses well\n" * 100)
        (tree / "tiny").write_bytes(b"x")
        store_path = base / "store"
        store = Store.init(store_path)
        snap = store.snapshot(tree, key=key).id
        damageable = sorted(
            p
            for sub in ("packs", "index", "snapshots")
            for p in (store_path / sub).rglob("*")
            if p.is_file()
        )
        victim = damageable[which % len(damageable)]
        flip_bit(victim, int(victim.stat().st_size * where), bit)
        what = f"bit {bit:#x} at {where:.3f} of {victim.relative_to(store_path)}"

        plain = Store.open(store_path).fsck(key=key)
        full = Store.open(store_path).fsck(read_data=True, key=key)
        dest = base / "out"
        try:
            Store.open(store_path).restore(snap, dest, key=key)
        except errors.StoreError:
            restored = False
        else:
            restored = True
            problems = tree_differences(tree, dest)
            assert not problems, f"{what}: restore wrote wrong data silently: {problems}"

        assert not full.ok, f"{what}: fsck --read-data found nothing"
        if plain.ok and victim.parent.name in ("index", "snapshots"):
            # The structure check reads every index file and record (not blob data).
            assert restored, f"{what}: fsck said ok, but restore failed"
    finally:
        remove_tree(base)
