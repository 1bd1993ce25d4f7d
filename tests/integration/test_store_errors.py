"""CLI errors: one line `error: ...` on stderr, exit status 1, nothing half-done."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import ami, ami_json, assert_one_line_error, write_random_tree

UNKNOWN = "0123abcd" * 8


@pytest.fixture
def populated(tmp_path: Path) -> tuple[Path, Path, str]:
    """(store, source tree, snapshot id) with one plain snapshot."""
    store, src = tmp_path / "store", tmp_path / "src"
    write_random_tree(src, files=5, total_bytes=20_000, seed=1)
    ami_json("init", "--store", store)
    snap = ami_json("snapshot", "--store", store, src)["id"]
    return store, src, snap


@pytest.mark.parametrize(
    "args",
    [
        ["restore", "{store}", UNKNOWN, "{tmp}/out"],
        ["delete", "{store}", UNKNOWN],
        ["diff", "{store}", UNKNOWN, "{snap}"],
        ["restore", "{store}", "zz", "{tmp}/out"],
    ],
    ids=["restore", "delete", "diff", "non-hex"],
)
def test_unknown_snapshot(
    populated: tuple[Path, Path, str], tmp_path: Path, args: list[str]
) -> None:
    store, _src, snap = populated
    command, *rest = (a.format(store=store, snap=snap, tmp=tmp_path) for a in args)
    proc = ami(command, "--store", *rest)
    assert_one_line_error(proc)
    assert not (tmp_path / "out").exists()
    assert [r["id"] for r in ami_json("ls", "--store", store)] == [snap]


def test_copy_of_unknown_snapshot(populated: tuple[Path, Path, str], tmp_path: Path) -> None:
    store, _src, _snap = populated
    ami_json("init", "--store", tmp_path / "other")
    assert_one_line_error(ami("copy", "--from", store, "--to", tmp_path / "other", UNKNOWN))
    assert ami_json("ls", "--store", tmp_path / "other") == []


def test_ambiguous_prefix_is_refused(tmp_path: Path) -> None:
    store, src = tmp_path / "store", tmp_path / "src"
    src.mkdir()
    ami_json("init", "--store", store)
    ids = []
    for i in range(17):  # 17 ids, 16 possible first digits
        (src / "f").write_text(str(i))
        ids.append(ami_json("snapshot", "--store", store, src)["id"])
    firsts = [i[0] for i in ids]
    shared = next(c for c in firsts if firsts.count(c) > 1)
    assert_one_line_error(ami("restore", "--store", store, shared, tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    assert_one_line_error(ami("delete", "--store", store, shared))
    assert len(ami_json("ls", "--store", store)) == 17


@pytest.mark.parametrize(
    "args",
    [
        ["ls"],
        ["stats"],
        ["gc"],
        ["fsck"],
        ["snapshot", "{src}"],
        ["restore", UNKNOWN, "{tmp}/out"],
    ],
    ids=["ls", "stats", "gc", "fsck", "snapshot", "restore"],
)
def test_missing_store(tmp_path: Path, args: list[str]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    command, *rest = (a.format(src=src, tmp=tmp_path) for a in args)
    proc = ami(command, "--store", tmp_path / "no-store", *rest)
    assert_one_line_error(proc)
    assert not (tmp_path / "no-store").exists(), "a failed command created the store"


def test_init_on_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("mine")
    assert_one_line_error(ami("init", "--store", tmp_path / "busy"))
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["file"]


def test_snapshot_of_missing_source(populated: tuple[Path, Path, str], tmp_path: Path) -> None:
    store, _src, snap = populated
    assert_one_line_error(ami("snapshot", "--store", store, tmp_path / "nowhere"))
    assert [r["id"] for r in ami_json("ls", "--store", store)] == [snap]


def test_restore_into_non_empty_directory_without_force(
    populated: tuple[Path, Path, str], tmp_path: Path
) -> None:
    store, _src, snap = populated
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "precious").write_text("do not touch")
    assert_one_line_error(ami("restore", "--store", store, snap, dest))
    assert [p.name for p in dest.iterdir()] == ["precious"]
    assert (dest / "precious").read_text() == "do not touch"


@pytest.mark.parametrize(
    "content",
    [None, b"", b"short", b"\x00" * 31, b"g" * 64, b"ab" * 33],
    ids=["missing", "empty", "short", "31-bytes", "non-hex", "66-hex"],
)
def test_bad_key_file(tmp_path: Path, content: bytes | None) -> None:
    store, src = tmp_path / "store", tmp_path / "src"
    write_random_tree(src, files=3, total_bytes=3000, seed=2)
    ami_json("init", "--store", store)
    key_file = tmp_path / "bad.key"
    if content is not None:
        key_file.write_bytes(content)
    assert_one_line_error(ami("snapshot", "--store", store, src, "--key-file", key_file))
    assert ami_json("ls", "--store", store) == []


def test_encrypted_restore_without_key_or_with_wrong_key(tmp_path: Path, key_file: Path) -> None:
    store, src = tmp_path / "store", tmp_path / "src"
    write_random_tree(src, files=3, total_bytes=3000, seed=3)
    ami_json("init", "--store", store)
    snap = ami_json("snapshot", "--store", store, src, "--key-file", key_file)["id"]
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(b"\x07" * 32)

    assert_one_line_error(ami("restore", "--store", store, snap, tmp_path / "a"))
    assert_one_line_error(
        ami("restore", "--store", store, snap, tmp_path / "b", "--key-file", wrong)
    )
    assert_one_line_error(
        ami("restore", "--store", store, snap, tmp_path / "c", "--key-file", tmp_path / "nokey")
    )
    for name in "abc":
        dest = tmp_path / name
        assert not dest.exists() or not any(dest.iterdir()), f"restore {name} wrote files"


def test_errors_with_json_are_still_one_line_on_stderr(tmp_path: Path) -> None:
    proc = ami("ls", "--store", tmp_path / "no-store", "--json")
    assert_one_line_error(proc)
    assert proc.stdout.strip() == ""


def test_copy_to_missing_store(populated: tuple[Path, Path, str], tmp_path: Path) -> None:
    store, _src, snap = populated
    assert_one_line_error(ami("copy", "--from", store, "--to", tmp_path / "nowhere", snap))
    assert not (tmp_path / "nowhere").exists()


def test_restore_onto_a_file(populated: tuple[Path, Path, str], tmp_path: Path) -> None:
    store, _src, snap = populated
    target = tmp_path / "a-file"
    target.write_text("mine")
    assert_one_line_error(ami("restore", "--store", store, snap, target))
    assert_one_line_error(ami("restore", "--store", store, snap, target, "--force"))
    assert target.read_text() == "mine"


def test_too_deep_source_is_one_clear_error(tmp_path: Path) -> None:
    src = tmp_path / "deep"
    path = src
    for _ in range(600):  # past Python's recursion limit, within PATH_MAX
        path = path / "d"
    path.mkdir(parents=True)
    store = tmp_path / "store"
    ami_json("init", "--store", store)
    proc = ami("snapshot", "--store", store, src)
    assert_one_line_error(proc, "nests directories deeper than")
    assert ami_json("ls", "--store", store) == []
