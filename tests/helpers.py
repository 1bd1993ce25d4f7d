"""Helpers shared by the store tests: tree builders, tree comparison, the CLI runner.

Everything here works on real files. Paths inside trees are handled as bytes so that
names which are not UTF-8 survive untouched.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import shutil
import stat
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

IS_ROOT = os.geteuid() == 0

# A valid VFS_CAP_REVISION_2 blob (what `setcap cap_net_raw+ep FILE` writes):
# magic_etc = revision 2 | effective flag, permitted = CAP_NET_RAW (bit 13).
CAP_NET_RAW_EP = struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0)

MiB = 1024 * 1024


def require_root(what: str) -> None:
    """Skip the calling test, saying why, unless running as root."""
    if not IS_ROOT:
        pytest.skip(f"needs root: {what}")


# --------------------------------------------------------------------------- specs


@dataclasses.dataclass(frozen=True)
class Content:
    """Reproducible file content: `size` bytes derived from `seed`."""

    seed: int
    size: int
    compressible: bool = False

    def data(self) -> bytes:
        if self.compressible:
            unit = f"line {self.seed} of compressible text\n".encode()
            return (unit * (self.size // len(unit) + 1))[: self.size]
        return random.Random(self.seed).randbytes(self.size)


@dataclasses.dataclass(frozen=True)
class FileSpec:
    content: Content
    mode: int = 0o644
    mtime_ns: int = 1_600_000_000_123_456_789
    xattrs: tuple[tuple[str, bytes], ...] = ()
    owner: tuple[int, int] | None = None
    capability: bool = False


@dataclasses.dataclass(frozen=True)
class SparseSpec:
    size: int
    writes: tuple[tuple[int, Content], ...]
    mode: int = 0o644
    mtime_ns: int = 1_600_000_000_000_000_001


@dataclasses.dataclass(frozen=True)
class SymlinkSpec:
    target: bytes
    mtime_ns: int = 1_500_000_000_987_654_321
    owner: tuple[int, int] | None = None


@dataclasses.dataclass(frozen=True)
class FifoSpec:
    mode: int = 0o640
    mtime_ns: int = 1_400_000_000_000_000_007
    owner: tuple[int, int] | None = None


@dataclasses.dataclass(frozen=True)
class DeviceSpec:
    char: bool
    major: int
    minor: int
    mode: int = 0o660
    mtime_ns: int = 1_300_000_000_000_000_003
    owner: tuple[int, int] | None = None


@dataclasses.dataclass(frozen=True)
class DirSpec:
    children: tuple[tuple[bytes, Spec], ...] = ()
    mode: int = 0o755
    mtime_ns: int = 1_200_000_000_000_000_011
    xattrs: tuple[tuple[str, bytes], ...] = ()
    owner: tuple[int, int] | None = None


Spec = FileSpec | SparseSpec | SymlinkSpec | FifoSpec | DeviceSpec | DirSpec


@dataclasses.dataclass(frozen=True)
class TreeSpec:
    root: DirSpec
    # (index into the regular files, index into the directories, new name)
    hardlinks: tuple[tuple[int, int, bytes], ...] = ()


@dataclasses.dataclass
class Built:
    """What build_tree made: relative paths (bytes) of the interesting entries."""

    files: list[bytes] = dataclasses.field(default_factory=list)
    sparse: list[bytes] = dataclasses.field(default_factory=list)
    dirs: list[bytes] = dataclasses.field(default_factory=list)
    hardlinks: list[bytes] = dataclasses.field(default_factory=list)


def _join(rel: bytes, name: bytes) -> bytes:
    return name if not rel else rel + b"/" + name


def build_tree(root: Path, spec: TreeSpec) -> Built:
    """Create the tree described by `spec` under `root` (which may already exist, empty).

    Order matters for metadata that the kernel resets: content is written first, then
    user xattrs, then owner (chown clears setuid/setgid and capabilities), then mode,
    then the capability, and last of all, bottom-up, the mtimes (creating an entry
    changes its directory's mtime).
    """
    root_b = os.fsencode(root)
    os.makedirs(root_b, exist_ok=True)
    built = Built()
    finish: list[tuple[bytes, Spec]] = []  # post-order: children before their directory

    def make(rel: bytes, entry: Spec) -> None:
        path = os.path.join(root_b, rel)
        if isinstance(entry, DirSpec):
            os.mkdir(path, 0o700)
            built.dirs.append(rel)
            for name, child in entry.children:
                make(_join(rel, name), child)
            for name, value in entry.xattrs:
                os.setxattr(path, name, value)
            if entry.owner is not None:
                os.chown(path, *entry.owner)
        elif isinstance(entry, FileSpec):
            with open(path, "wb") as f:
                f.write(entry.content.data())
            built.files.append(rel)
            for name, value in entry.xattrs:
                os.setxattr(path, name, value)
            if entry.owner is not None:
                os.chown(path, *entry.owner)
            os.chmod(path, entry.mode)
            if entry.capability:
                os.setxattr(path, "security.capability", CAP_NET_RAW_EP)
        elif isinstance(entry, SparseSpec):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.ftruncate(fd, entry.size)
                for offset, content in entry.writes:
                    os.pwrite(fd, content.data(), offset)
            finally:
                os.close(fd)
            os.chmod(path, entry.mode)
            built.sparse.append(rel)
        elif isinstance(entry, SymlinkSpec):
            os.symlink(entry.target, path)
            if entry.owner is not None:
                os.chown(path, *entry.owner, follow_symlinks=False)
        elif isinstance(entry, FifoSpec):
            os.mkfifo(path, 0o600)
            if entry.owner is not None:
                os.chown(path, *entry.owner)
            os.chmod(path, entry.mode)
        elif isinstance(entry, DeviceSpec):
            kind = stat.S_IFCHR if entry.char else stat.S_IFBLK
            os.mknod(path, kind | 0o600, os.makedev(entry.major, entry.minor))
            if entry.owner is not None:
                os.chown(path, *entry.owner)
            os.chmod(path, entry.mode)
        else:  # pragma: no cover - exhaustive
            raise TypeError(entry)
        finish.append((rel, entry))

    for name, child in spec.root.children:
        make(name, child)

    for file_index, dir_index, name in spec.hardlinks:
        if not built.files:
            break
        target = built.files[file_index % len(built.files)]
        dirs = [b"", *built.dirs]
        rel = _join(dirs[dir_index % len(dirs)], name)
        if os.path.lexists(os.path.join(root_b, rel)):
            continue
        os.link(os.path.join(root_b, target), os.path.join(root_b, rel))
        built.hardlinks.append(rel)

    for rel, entry in finish:
        path = os.path.join(root_b, rel)
        if isinstance(entry, DirSpec):
            os.chmod(path, entry.mode)
        os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns), follow_symlinks=False)
    return built


# A fixed tree with one of everything a normal user can make.
KITCHEN_SINK = TreeSpec(
    root=DirSpec(
        children=(
            (b"empty", FileSpec(Content(0, 0))),
            (b"small.txt", FileSpec(Content(1, 100, compressible=True), mtime_ns=1_234_567_891)),
            (b"chunk-edge", FileSpec(Content(2, 512 * 1024 + 1), mode=0o600)),
            (b"multi-chunk", FileSpec(Content(3, 9 * MiB + 17))),
            (b"setuid", FileSpec(Content(4, 10), mode=0o4755)),
            (b"setgid", FileSpec(Content(5, 10), mode=0o2755)),
            (b"sticky-dir", DirSpec(mode=0o1777)),
            (b"setgid-dir", DirSpec(children=((b"f", FileSpec(Content(6, 3))),), mode=0o2775)),
            (b"readonly-dir", DirSpec(children=((b"f", FileSpec(Content(7, 3))),), mode=0o555)),
            (b"xattrs", FileSpec(Content(8, 5), xattrs=(("user.one", b"1"), ("user.empty", b"")))),
            (b"abs-link", SymlinkSpec(b"/etc/hostname", mtime_ns=1_111_111_111_222_222_222)),
            (b"rel-link", SymlinkSpec(b"small.txt")),
            (b"dangling", SymlinkSpec(b"../../nowhere/at/all")),
            (b"fifo", FifoSpec()),
            (b"\xff\xfe", DirSpec(children=((b"\xe9t\xe9", FileSpec(Content(9, 33))),))),
            (
                b"sparse",
                SparseSpec(
                    size=8 * MiB,
                    writes=((0, Content(10, 5000)), (3 * MiB + 7, Content(11, 70_000))),
                ),
            ),
            (b"sparse-tail-hole", SparseSpec(size=2 * MiB, writes=((100, Content(12, 10)),))),
            (
                b"deep",
                DirSpec(
                    children=((b"er", DirSpec(children=((b"est", FileSpec(Content(13, 1))),))),),
                    xattrs=(("user.dir", b"yes"),),
                ),
            ),
        )
    ),
    hardlinks=((1, 0, b"small-hardlink"), (1, 2, b"another-link"), (4, 0, b"setuid-link")),
)


# --------------------------------------------------------------------- random trees


def write_random_tree(
    root: Path,
    *,
    files: int,
    total_bytes: int,
    seed: int,
    dirs: int = 8,
    big_files: int = 0,
) -> dict[str, int]:
    """Fill `root` with `files` regular files of incompressible content in `dirs` folders.

    The first `big_files` files share half of `total_bytes` evenly; the others get random
    sizes around the mean of the rest. Returns relative path (str) -> size.
    """
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    folders = [Path(f"d{i:02d}") / f"e{i % 3}" for i in range(dirs)]
    for folder in folders:
        (root / folder).mkdir(parents=True, exist_ok=True)
    big_share = total_bytes // 2 if big_files else 0
    small_total = total_bytes - big_share
    sizes: dict[str, int] = {}
    for i in range(files):
        folder = folders[i % len(folders)]
        if i < big_files:
            size = big_share // big_files
        else:
            mean = small_total // max(1, files - big_files)
            size = rng.randint(0, 2 * mean)
        rel = str(folder / f"f{i:04d}.bin")
        (root / rel).write_bytes(rng.randbytes(size))
        sizes[rel] = size
    return sizes


# ------------------------------------------------------------------- tree snapshots


@dataclasses.dataclass(frozen=True)
class Entry:
    """Everything a restore must reproduce about one entry (ctime and atime excluded)."""

    kind: str
    mode: int
    uid: int
    gid: int
    size: int | None
    digest: str | None
    mtime_ns: int
    target: bytes | None
    rdev: int | None
    xattrs: tuple[tuple[str, bytes], ...]


def file_digest(path: str | bytes | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(MiB):
            h.update(chunk)
    return h.hexdigest()


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISREG, "file"),
        (stat.S_ISDIR, "dir"),
        (stat.S_ISLNK, "symlink"),
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISCHR, "chr"),
        (stat.S_ISBLK, "blk"),
        (stat.S_ISSOCK, "sock"),
    ):
        if test(mode):
            return name
    return "unknown"


def _xattrs(path: bytes) -> tuple[tuple[str, bytes], ...]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return ()
    return tuple(sorted((n, os.getxattr(path, n, follow_symlinks=False)) for n in names))


def walk(root: Path | bytes | str) -> Iterator[tuple[bytes, os.stat_result]]:
    """Yield (relative path, lstat) for every entry below root, root excluded."""
    root_b = os.fsencode(root)
    stack = [b""]
    while stack:
        rel = stack.pop()
        for de in sorted(os.scandir(os.path.join(root_b, rel) if rel else root_b), key=_name):
            child = _join(rel, de.name)
            st = os.lstat(de.path)
            yield child, st
            if stat.S_ISDIR(st.st_mode):
                stack.append(child)


def _name(de: os.DirEntry[bytes]) -> bytes:
    return de.name


def scan_tree(root: Path | bytes | str) -> dict[bytes, Entry]:
    root_b = os.fsencode(root)
    out: dict[bytes, Entry] = {}
    for rel, st in walk(root_b):
        path = os.path.join(root_b, rel)
        kind = _kind(st.st_mode)
        out[rel] = Entry(
            kind=kind,
            mode=stat.S_IMODE(st.st_mode),
            uid=st.st_uid,
            gid=st.st_gid,
            size=st.st_size if kind == "file" else None,
            digest=file_digest(path) if kind == "file" else None,
            mtime_ns=st.st_mtime_ns,
            target=os.readlink(path) if kind == "symlink" else None,
            rdev=st.st_rdev if kind in ("chr", "blk") else None,
            xattrs=_xattrs(path),
        )
    return out


def link_groups(root: Path | bytes | str) -> set[frozenset[bytes]]:
    """Sets of paths (non-directories) that share an inode within the tree."""
    by_inode: dict[int, set[bytes]] = {}
    for rel, st in walk(root):
        if not stat.S_ISDIR(st.st_mode):
            by_inode.setdefault(st.st_ino, set()).add(rel)
    return {frozenset(paths) for paths in by_inode.values() if len(paths) > 1}


def tree_differences(
    src: Path | bytes | str, dst: Path | bytes | str, *, only: set[bytes] | None = None
) -> list[str]:
    """Human-readable list of every difference between two trees (empty if identical).

    With `only`, just those relative paths of src are checked (extra files in dst are
    then allowed).
    """
    a = scan_tree(src)
    b = scan_tree(dst)
    problems: list[str] = []
    if only is None:
        for rel in sorted(set(a) - set(b)):
            problems.append(f"missing in restore: {rel!r} ({a[rel].kind})")
        for rel in sorted(set(b) - set(a)):
            problems.append(f"unexpected in restore: {rel!r} ({b[rel].kind})")
        common = sorted(set(a) & set(b))
    else:
        problems += [f"missing in restore: {rel!r}" for rel in sorted(only - set(b))]
        common = sorted(only & set(b))
    for rel in common:
        ea, eb = a[rel], b[rel]
        for field in dataclasses.fields(Entry):
            va, vb = getattr(ea, field.name), getattr(eb, field.name)
            if va != vb:
                if field.name == "mode":
                    va, vb = oct(va), oct(vb)
                problems.append(f"{rel!r}: {field.name} differs: source {va!r}, restored {vb!r}")
    if only is None:
        ga, gb = link_groups(src), link_groups(dst)
        if ga != gb:
            problems.append(
                f"hardlink groups differ: source {sorted(map(sorted, ga))}, "
                f"restored {sorted(map(sorted, gb))}"
            )
    return problems


def assert_same_tree(src: Path | bytes | str, dst: Path | bytes | str) -> None:
    problems = tree_differences(src, dst)
    assert not problems, "restored tree differs:\n" + "\n".join(problems[:50])


def allocated(path: Path | bytes | str) -> int:
    """Bytes actually allocated on disk."""
    return os.lstat(path).st_blocks * 512


def tree_bytes(root: Path) -> int:
    """Sum of the sizes of all regular files below root."""
    return sum(st.st_size for _, st in walk(root) if stat.S_ISREG(st.st_mode))


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def remove_tree(path: Path) -> None:
    """rm -rf that also copes with read-only directories when not root."""
    if not path.exists():
        return
    for dirpath, _dirnames, _files in os.walk(path):
        os.chmod(dirpath, 0o700)
    shutil.rmtree(path)


def is_empty_or_missing(path: Path) -> bool:
    return not path.exists() or not any(path.iterdir())


# ------------------------------------------------------------------------- sparse


def data_segments(path: Path | str) -> list[tuple[int, int]]:
    """(start, end) of the data regions of a file, as SEEK_DATA / SEEK_HOLE report them."""
    segments: list[tuple[int, int]] = []
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        pos = 0
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:  # ENXIO: no more data
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            segments.append((start, end))
            pos = end
    finally:
        os.close(fd)
    return segments


def sparse_files_equal(a: Path, b: Path) -> bool:
    """Compare two (possibly huge, sparse) files by reading only where either has data."""
    if a.stat().st_size != b.stat().st_size:
        return False
    ranges = sorted(data_segments(a) + data_segments(b))
    with open(a, "rb") as fa, open(b, "rb") as fb:
        for start, end in ranges:
            pos = start
            while pos < end:
                n = min(4 * MiB, end - pos)
                fa.seek(pos)
                fb.seek(pos)
                if fa.read(n) != fb.read(n):
                    return False
                pos += n
    return True


# ---------------------------------------------------------------------------- CLI


def ami_command(*args: str | os.PathLike[str]) -> list[str]:
    """`ami ARGS...` as a command line, run from this checkout's interpreter."""
    return [sys.executable, "-m", "amiable.cli", *(os.fspath(a) for a in args)]


def ami_cmd(*args: str | os.PathLike[str]) -> list[str]:
    return ami_command("store", *args)


def run_ami(
    *args: str | os.PathLike[str], timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `ami ARGS...` (any command) as a subprocess, with `env` added to ours."""
    return subprocess.run(
        ami_command(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def run_ami_json(*args: str | os.PathLike[str]) -> Any:
    """`ami ARGS... --json`, required to succeed, its output parsed."""
    done = run_ami(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def tiny_rootfs(path: Path) -> Path:
    """A directory tree to import as an image: just /etc/os-release."""
    (path / "etc").mkdir(parents=True)
    (path / "etc" / "os-release").write_text("ID=demo\n")
    return path


def ami(*args: str | os.PathLike[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run `ami store ARGS...` as a subprocess and return the completed process."""
    return subprocess.run(
        ami_cmd(*args), capture_output=True, text=True, timeout=timeout, check=False
    )


def ami_json(*args: str | os.PathLike[str], timeout: float = 600) -> Any:
    """Run `ami store ARGS... --json`, require exit status 0, return the parsed output."""
    proc = ami(*args, "--json", timeout=timeout)
    assert proc.returncode == 0, (
        f"ami store {' '.join(map(str, args))} exited {proc.returncode}\n"
        f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
    )
    return json.loads(proc.stdout)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit status 1 and exactly one line `error: ...` on stderr; return that line."""
    assert proc.returncode == 1, (
        f"expected exit status 1, got {proc.returncode}\n"
        f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
    )
    lines = proc.stderr.strip("\n").splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{proc.stderr}"
    line = lines[0]
    assert line.startswith("error:"), f"stderr line does not start with 'error:': {line!r}"
    for word in words:
        assert word.lower() in line.lower(), f"{word!r} not in error line {line!r}"
    return line


def store_files(store: Path) -> list[Path]:
    """Every regular file of a store directory."""
    return all_files(store)


def store_size(store: Path) -> int:
    return sum(p.stat().st_size for p in store_files(store))


def pack_files(store: Path) -> list[Path]:
    return sorted(p for p in (store / "packs").glob("*/*") if p.is_file())


def wait_for_ctime_tick(scratch: Path) -> None:
    """Return once the kernel's (coarse) file timestamp clock has moved on.

    After this, any change to a file gives it a ctime later than every ctime before the
    call, so a files cache keyed on ctime can tell the change apart.
    """
    probe = scratch / ".ctime-probe"
    probe.write_bytes(b"")
    first = os.stat(probe).st_ctime_ns
    while os.stat(probe).st_ctime_ns == first:
        time.sleep(0.001)
        os.chmod(probe, 0o600 if os.stat(probe).st_mode & 0o077 else 0o644)
    probe.unlink()


# The result fields of docs/store-api.md: Python dataclasses and CLI --json alike.
CONTRACT_FIELDS = {
    "SnapshotSummary": {
        "id",
        "files",
        "dirs",
        "bytes_read",
        "bytes_new_stored",
        "logical_bytes",
        "seconds",
        "skipped",
    },
    "RestoreSummary": {"id", "files", "bytes_written", "skipped", "seconds"},
    "SnapshotRecord": {
        "id",
        "time",
        "parent",
        "source",
        "encrypted",
        "files",
        "logical_bytes",
        "label",
    },
    "Diff": {"added", "removed", "changed"},
    "CopySummary": {"id", "objects_sent", "bytes_sent"},
    "GcSummary": {"objects_removed", "packs_removed", "packs_rewritten", "bytes_freed"},
    "FsckReport": {
        "ok",
        "errors",
        "damaged",
        "objects_checked",
        "reclaimable_objects",
        "reclaimable_bytes",
    },
    "StoreStats": {"snapshots", "logical_bytes", "stored_bytes", "dedup_ratio", "objects", "packs"},
}
