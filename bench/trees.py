"""The benchmark's source trees: building and caching them, describing them, warming the
page cache, and making the seeded 1% change sets that the incremental measurements use.

The default tree is a deterministic subset of /usr/bin, /usr/lib and /usr/share copied with
`cp -a` into the work directory; `--debian` debootstraps a minimal Debian root instead. Both
are built once and kept between runs; the benchmark never modifies them.
"""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import runner

MB = 2**20
RECIPE = "usr-subset-v1"
CHUNK = 2**20
# (source root, byte budget, entry budget): about 460 MB and 20-25k entries in all.
BUDGETS: tuple[tuple[Path, int, int], ...] = (
    (Path("/usr/bin"), 120 * MB, 2_000),
    (Path("/usr/lib"), 200 * MB, 14_000),
    (Path("/usr/share"), 140 * MB, 12_000),
)
UNIT_CAP = 16 * MB  # larger directories are split into their entries, larger files skipped
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"


@dataclass(frozen=True)
class TreeInfo:
    """What a tree holds; bytes are the apparent sizes of its regular files."""

    path: str
    kind: str
    bytes: int
    files: int
    dirs: int
    symlinks: int
    other: int


def describe(path: Path, kind: str) -> TreeInfo:
    """Count a tree's regular files, directories, symlinks and other entries."""
    counts = {"bytes": 0, "files": 0, "dirs": 0, "symlinks": 0, "other": 0}
    for st in _walk_stats(path):
        if stat.S_ISREG(st.st_mode):
            counts["files"] += 1
            counts["bytes"] += st.st_size
        elif stat.S_ISDIR(st.st_mode):
            counts["dirs"] += 1
        elif stat.S_ISLNK(st.st_mode):
            counts["symlinks"] += 1
        else:
            counts["other"] += 1
    return TreeInfo(path=str(path), kind=kind, **counts)


def warm_up(path: Path) -> None:
    """Read every regular file once so that the measurements run on a warm page cache."""
    for file in regular_files(path):
        try:
            with open(path / file, "rb", buffering=0) as handle:
                while handle.read(CHUNK):
                    pass
        except OSError:
            continue


def regular_files(root: Path) -> list[str]:
    """Relative paths of the regular files under root, sorted."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if stat.S_ISREG(os.lstat(full).st_mode):
                found.append(os.path.relpath(full, root))
    found.sort()
    return found


def default_tree(work: Path) -> Path:
    """The cached /usr subset under work, built on first use."""
    tree, manifest = work / "tree", work / "tree.json"
    if tree.is_dir() and manifest.is_file():
        recorded = json.loads(manifest.read_text())
        if recorded.get("recipe") == RECIPE:
            return tree
    units = select_units()
    building = runner.fresh_dir(work / "tree.building")
    _copy_units(units, building)
    runner.remove(tree)
    building.rename(tree)
    info = describe(tree, "default")
    manifest.write_text(json.dumps({"recipe": RECIPE, "units": units, "tree": asdict(info)}))
    return tree


def select_units() -> list[str]:
    """Deterministically choose the paths to copy: sorted walk, greedy within each budget."""
    units: list[str] = []
    for root, byte_budget, entry_budget in BUDGETS:
        if root.is_dir():
            _fill(str(root), byte_budget, entry_budget, units)
    return units


def _fill(root: str, bytes_left: int, entries_left: int, units: list[str]) -> tuple[int, int]:
    for name in sorted(_listdir(root)):
        path = os.path.join(root, name)
        size, entries = _measure(path)
        if size <= min(bytes_left, UNIT_CAP) and entries <= entries_left:
            units.append(path)
            bytes_left, entries_left = bytes_left - size, entries_left - entries
        elif os.path.isdir(path) and not os.path.islink(path):
            bytes_left, entries_left = _fill(path, bytes_left, entries_left, units)
        if bytes_left < 64 * 1024 or entries_left < 1:
            break
    return bytes_left, entries_left


@functools.cache
def _measure(path: str) -> tuple[int, int]:
    """(apparent bytes of regular files, entries) under path, path included."""
    try:
        st = os.lstat(path)
    except OSError:
        return 0, 1
    if not stat.S_ISDIR(st.st_mode):
        return (st.st_size if stat.S_ISREG(st.st_mode) else 0), 1
    size, entries = 0, 1
    for name in _listdir(path):
        child_size, child_entries = _measure(os.path.join(path, name))
        size, entries = size + child_size, entries + child_entries
    return size, entries


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _copy_units(units: list[str], dest: Path, batch: int = 200) -> None:
    for start in range(0, len(units), batch):
        # Relative to / : cp 9.1 --parents mis-resolves existing parents of absolute sources.
        chunk = [unit.lstrip("/") for unit in units[start : start + batch]]
        argv = ["cp", "-a", "--parents", *chunk, str(dest.resolve())]
        done = runner.run(argv, cwd=Path("/"), check=False, settle=False)
        if done.returncode != 0:
            print(f"warning: cp -a left out some files: {done.stderr.strip()[:300]}")


def debian_tree(work: Path) -> tuple[Path | None, str]:
    """The cached debootstrapped Debian root under work, or None and why it is skipped."""
    tree, done_marker = work / "debian-root", work / "debian-root.done"
    if tree.is_dir() and done_marker.is_file():
        return tree, "cached"
    if os.geteuid() != 0:
        return None, "--debian needs root (debootstrap creates device nodes and chroots)"
    if shutil.which("debootstrap") is None:
        return None, "debootstrap is not installed and could not be installed"
    building = work / "debian-root.building"
    runner.remove(building)
    argv = ["debootstrap", "--variant=minbase", DEBIAN_SUITE, str(building), DEBIAN_MIRROR]
    result = runner.run(argv, check=False, settle=False)
    if result.returncode != 0:
        tail = " / ".join(result.stderr.strip().splitlines()[-2:])
        runner.remove(building)
        return None, f"debootstrap failed (exit {result.returncode}): {tail}"
    runner.remove(tree)
    building.rename(tree)
    done_marker.write_text(DEBIAN_SUITE + "\n")
    return tree, "built"


def working_copy(source: Path, dest: Path) -> Path:
    """A `cp -a` copy of source at dest (which must not exist) that change sets may modify."""
    runner.run(["cp", "-a", str(source), str(dest)])
    return dest


def apply_changes(tree: Path, seed: int, step: int, fraction: float = 0.01) -> list[str]:
    """Change `fraction` of the regular files, chosen with a seeded RNG; return their paths.

    Even picks get 1 KiB appended in place; odd picks are rewritten as a package upgrade
    would (new file renamed over the old one) with one 4 KiB block replaced.
    """
    files = regular_files(tree)
    rng = random.Random(f"amiable-bench:{seed}:{step}")
    picks = rng.sample(files, max(1, round(len(files) * fraction)))
    for index, rel in enumerate(picks):
        path = tree / rel
        if index % 2 == 0 or path.stat().st_size == 0:
            _append(path, rng.randbytes(1024))
        else:
            _rewrite(path, rng)
    return sorted(picks)


def _append(path: Path, data: bytes) -> None:
    with _writable(path), open(path, "ab") as handle:
        handle.write(data)


def _rewrite(path: Path, rng: random.Random) -> None:
    content = bytearray(path.read_bytes())
    block = min(4096, len(content))
    offset = rng.randrange(0, len(content) - block + 1)
    content[offset : offset + block] = rng.randbytes(block)
    st = path.stat()
    temp = path.with_name(f".{path.name}.bench-new")
    temp.write_bytes(bytes(content))
    shutil.copystat(path, temp)
    if os.geteuid() == 0:
        os.chown(temp, st.st_uid, st.st_gid)
    os.utime(temp)  # the new version is newer, as after a real upgrade
    os.replace(temp, path)


class _writable:
    """Context manager: give the owner write permission for the duration (non-root runs)."""

    def __init__(self, path: Path) -> None:
        self.path, self.mode = path, path.stat().st_mode

    def __enter__(self) -> None:
        if not self.mode & stat.S_IWUSR:
            os.chmod(self.path, self.mode | stat.S_IWUSR)

    def __exit__(self, *_exc: object) -> None:
        if not self.mode & stat.S_IWUSR:
            os.chmod(self.path, stat.S_IMODE(self.mode))


def compare_metadata(source: Path, copy: Path, limit: int = 5) -> dict[str, object]:
    """Entries of copy whose type, mode, owner, size, mtime, device or link target differ."""
    mismatches: dict[str, list[str]] = {}
    for rel in _relative_entries(source):
        for field_name in _differences(source / rel, copy / rel):
            mismatches.setdefault(field_name, []).append(rel)
    return {
        name: {"count": len(paths), "examples": paths[:limit]}
        for name, paths in sorted(mismatches.items())
    }


def _differences(a: Path, b: Path) -> list[str]:
    try:
        sb = os.lstat(b)
    except OSError:
        return ["missing"]
    sa = os.lstat(a)
    if stat.S_IFMT(sa.st_mode) != stat.S_IFMT(sb.st_mode):
        return ["type"]
    checks = {
        "mode": sa.st_mode == sb.st_mode,
        "owner": (sa.st_uid, sa.st_gid) == (sb.st_uid, sb.st_gid),
        "size": not stat.S_ISREG(sa.st_mode) or sa.st_size == sb.st_size,
        "device": not _is_device(sa) or sa.st_rdev == sb.st_rdev,
        "link_target": not stat.S_ISLNK(sa.st_mode) or os.readlink(a) == os.readlink(b),
        "mtime": stat.S_ISLNK(sa.st_mode) or sa.st_mtime_ns == sb.st_mtime_ns,
    }
    return [name for name, same in checks.items() if not same]


def _is_device(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)


def _relative_entries(root: Path) -> Iterator[str]:
    yield "."
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            yield os.path.relpath(os.path.join(dirpath, name), root)


def _walk_stats(root: Path) -> Iterator[os.stat_result]:
    yield os.lstat(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            yield os.lstat(os.path.join(dirpath, name))
