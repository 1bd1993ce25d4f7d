"""`ami store ...` as a user runs it: every command, its output and its --json keys."""

from __future__ import annotations

import os
import re
from pathlib import Path

from helpers import CONTRACT_FIELDS, ami, ami_json, assert_same_tree, write_random_tree

SNAPSHOT_ID = re.compile(r"[0-9a-f]{64}")
SNAPSHOT_KEYS = CONTRACT_FIELDS["SnapshotSummary"]
RESTORE_KEYS = CONTRACT_FIELDS["RestoreSummary"]
RECORD_KEYS = CONTRACT_FIELDS["SnapshotRecord"]
DIFF_KEYS = CONTRACT_FIELDS["Diff"]
COPY_KEYS = CONTRACT_FIELDS["CopySummary"]
GC_KEYS = CONTRACT_FIELDS["GcSummary"]
FSCK_KEYS = CONTRACT_FIELDS["FsckReport"]
STATS_KEYS = CONTRACT_FIELDS["StoreStats"]


def test_every_command_with_json(tmp_path: Path) -> None:
    store, other = tmp_path / "store", tmp_path / "other"
    src = tmp_path / "src"
    sizes = write_random_tree(src, files=12, total_bytes=200_000, seed=1)

    assert ami_json("init", "--store", store) == {"store": str(store)}

    first = ami_json("snapshot", "--store", store, src)
    assert set(first) == SNAPSHOT_KEYS
    assert SNAPSHOT_ID.fullmatch(first["id"])
    assert first["files"] == 12
    assert first["logical_bytes"] == sum(sizes.values())
    assert first["skipped"] == []

    root_mtime = src.stat().st_mtime_ns
    (src / "added.txt").write_text("added")
    os.utime(src, ns=(root_mtime, root_mtime))  # only added.txt differs
    second = ami_json("snapshot", "--store", store, src, "--parent", first["id"][:8])
    assert set(second) == SNAPSHOT_KEYS

    listing = ami_json("ls", "--store", store)
    assert [set(r) for r in listing] == [RECORD_KEYS, RECORD_KEYS]
    assert [r["id"] for r in listing] == [first["id"], second["id"]]
    assert [r["parent"] for r in listing] == [None, first["id"]]
    assert [r["encrypted"] for r in listing] == [False, False]
    assert listing[0]["source"] == str(src)

    restored = ami_json("restore", "--store", store, second["id"], tmp_path / "out")
    assert set(restored) == RESTORE_KEYS
    assert restored["id"] == second["id"]
    assert restored["files"] == 13
    assert_same_tree(src, tmp_path / "out")

    diff = ami_json("diff", "--store", store, first["id"], second["id"])
    assert diff == {"added": ["added.txt"], "removed": [], "changed": []}

    assert ami_json("init", "--store", other) == {"store": str(other)}
    copied = ami_json("copy", "--from", store, "--to", other, second["id"])
    assert set(copied) == COPY_KEYS
    assert copied["id"] == second["id"]
    assert copied["objects_sent"] > 12

    fsck = ami_json("fsck", "--store", store, "--read-data")
    assert set(fsck) == FSCK_KEYS
    assert fsck["ok"] is True
    assert fsck["errors"] == []
    assert fsck["damaged"] == {}

    stats = ami_json("stats", "--store", store)
    assert set(stats) == STATS_KEYS
    assert stats["snapshots"] == 2

    assert ami_json("delete", "--store", store, first["id"]) == {"id": first["id"]}
    gc = ami_json("gc", "--store", store)
    assert set(gc) == GC_KEYS
    assert [r["id"] for r in ami_json("ls", "--store", store)] == [second["id"]]
    assert ami_json("stats", "--store", store)["snapshots"] == 1


def test_snapshot_prints_the_id(tmp_path: Path) -> None:
    store, src = tmp_path / "store", tmp_path / "src"
    write_random_tree(src, files=3, total_bytes=3000, seed=2)
    assert ami("init", "--store", store).returncode == 0
    proc = ami("snapshot", "--store", store, src)
    assert proc.returncode == 0, proc.stderr
    snap = proc.stdout.strip()
    assert SNAPSHOT_ID.fullmatch(snap), proc.stdout
    assert [r["id"] for r in ami_json("ls", "--store", store)] == [snap]


def test_human_output_of_ls_names_the_snapshots(tmp_path: Path) -> None:
    store, src = tmp_path / "store", tmp_path / "src"
    write_random_tree(src, files=3, total_bytes=3000, seed=3)
    ami_json("init", "--store", store)
    snap = ami_json("snapshot", "--store", store, src)["id"]
    proc = ami("ls", "--store", store)
    assert proc.returncode == 0, proc.stderr
    assert snap[:8] in proc.stdout


def test_encrypted_round_trip_with_key_file(tmp_path: Path, key_file: Path) -> None:
    store, src = tmp_path / "store", tmp_path / "src"
    write_random_tree(src, files=5, total_bytes=50_000, seed=4)
    ami_json("init", "--store", store)
    snap = ami_json("snapshot", "--store", store, src, "--key-file", key_file)["id"]
    assert ami_json("ls", "--store", store)[0]["encrypted"] is True
    ami_json("restore", "--store", store, snap, tmp_path / "out", "--key-file", key_file)
    assert_same_tree(src, tmp_path / "out")
    fsck = ami_json("fsck", "--store", store, "--read-data", "--key-file", key_file)
    assert fsck["ok"] is True


def test_restore_with_force_into_non_empty_directory(tmp_path: Path) -> None:
    store, src, dest = tmp_path / "store", tmp_path / "src", tmp_path / "dest"
    write_random_tree(src, files=5, total_bytes=20_000, seed=5)
    ami_json("init", "--store", store)
    snap = ami_json("snapshot", "--store", store, src)["id"]
    dest.mkdir()
    (dest / "junk").write_text("junk")
    proc = ami("restore", "--store", store, snap[:12], dest, "--force")
    assert proc.returncode == 0, proc.stderr
    for path in src.rglob("*"):
        rel = path.relative_to(src)
        if path.is_file():
            assert (dest / rel).read_bytes() == path.read_bytes(), rel
