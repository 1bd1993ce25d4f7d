"""Taking a snapshot: walk a tree, store what is new, return the root tree id.

The walking thread reads directories and metadata; a thread pool reads,
hashes, compresses (and seals) file data, which releases the GIL. Trees are
finished in post-order through a bounded window, so memory stays bounded
whatever the size of the tree. With a parent snapshot, an entry whose inode,
ctime and mtime (and size) match the parent's node is reused without reading
it, and a directory whose nodes all match reuses the parent's tree id.

A `progress` callback hears how far the walk is (entries walked, file bytes
done) after each directory and each stored chunk, from the walking thread and
the pool's threads; an exception it raises stops the snapshot (that is how a
caller cancels one).
"""

import os
import stat
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from .blobs import Blobs
from .errors import SourceError
from .fsutil import reraise_if_full
from .metadata import base_node, node_type, read_xattrs, unchanged
from .tree import DIR, FILE, HARDLINK, MAX_DEPTH, SYMLINK, Node, name_of, put_bytes

CHUNK_BYTES = 1024 * 1024
SEGMENT_BYTES = 8 * CHUNK_BYTES
WINDOW_DIRS = 256
BATCH_FILES = 64
BATCH_BYTES = 4 * CHUNK_BYTES
_O_NOATIME = getattr(os, "O_NOATIME", 0)

Chunks = list[list[object]]
# One task for the pool: (node, path, data ranges) per file or file segment.
Work = list[tuple[Node, bytes, list[tuple[int, int]]]]


@dataclass(frozen=True)
class SnapshotProgress:
    """How far a snapshot is: entries walked (files, links, devices...) and bytes
    of file data done (stored, found unchanged in the parent, or holes)."""

    files: int
    bytes_done: int


Progress = Callable[[SnapshotProgress], None]


@dataclass
class Counters:
    files: int = 0
    dirs: int = 0
    logical_bytes: int = 0
    bytes_read: int = 0
    skipped: list[str] = field(default_factory=list)


@dataclass
class PendingDir:
    """A directory whose nodes may still wait for file data."""

    parent_tree: str | None
    parent_nodes: list[Node] | None
    nodes: list[Node] = field(default_factory=list)
    tasks: list[tuple[Work, Future[list[tuple[Chunks, int]]]]] = field(default_factory=list)
    subdirs: list[tuple[Node, "PendingDir"]] = field(default_factory=list)
    batch: Work = field(default_factory=list)
    batch_bytes: int = 0
    tree_id: str | None = None


def _open_for_read(path: bytes) -> int:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(path, flags | _O_NOATIME)
    except PermissionError:
        return os.open(path, flags)


def data_extents(fd: int, size: int, sparse: bool) -> list[tuple[int, int]]:
    """(offset, length) of the file's data; holes are left out."""
    if not sparse:
        return [(0, size)] if size else []
    extents = []
    pos = 0
    while pos < size:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:  # ENXIO: only a hole remains
            break
        end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        extents.append((start, end - start))
        pos = end
    return extents


def segments(extents: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Group data into chunk ranges of at most SEGMENT_BYTES, chunk-aligned."""
    out: list[list[tuple[int, int]]] = [[]]
    filled = 0
    for start, length in extents:
        pos, end = start, start + length
        while pos < end:
            chunk_end = min(end, (pos // CHUNK_BYTES + 1) * CHUNK_BYTES)
            if filled + (chunk_end - pos) > SEGMENT_BYTES and out[-1]:
                out.append([])
                filled = 0
            out[-1].append((pos, chunk_end - pos))
            filled += chunk_end - pos
            pos = chunk_end
    return [s for s in out if s]


class Snapshotter:
    """Stores one tree into the store's packs through `blobs`."""

    def __init__(
        self,
        blobs: Blobs,
        parent_tree: Callable[[str], list[Node]] | None,
        workers: int,
        progress: Progress | None = None,
    ) -> None:
        self.blobs = blobs
        self.parent_tree = parent_tree
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="snapshot")
        self.inflight = threading.BoundedSemaphore(workers * 8)
        self.counters = Counters()
        self.window: deque[PendingDir] = deque()
        self.hardlinks: dict[tuple[int, int], bytes] = {}
        self.progress = progress
        self._bytes_done = 0
        self._done_lock = threading.Lock()

    def _advance(self, data_bytes: int) -> None:
        """Count file bytes done and tell the caller (who may stop us by raising)."""
        if self.progress is None:
            return
        with self._done_lock:
            self._bytes_done += data_bytes
            done = self._bytes_done
        self.progress(SnapshotProgress(self.counters.files, done))

    def run(self, source: bytes, parent_root: str | None) -> str:
        return self._run(lambda: self._walk(source, b"", parent_root))

    def run_changes(self, upper: bytes, parent_root: str) -> str:
        """The tree of `parent_root` with an overlayfs upper directory's changes
        applied: only what the upper directory holds is read."""
        return self._run(lambda: self._merge(upper, b"", parent_root))

    def _run(self, walk: Callable[[], PendingDir]) -> str:
        try:
            top = walk()
            while self.window:
                self._finish(self.window.popleft())
            assert top.tree_id is not None
            return top.tree_id
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)

    # -- walking (the calling thread) --

    def _walk(self, path: bytes, rel: bytes, parent_tree: str | None) -> PendingDir:
        if rel.count(b"/") >= MAX_DEPTH:
            raise SourceError(
                f"{os.fsdecode(path)} nests directories deeper than {MAX_DEPTH} levels"
            )
        parent_nodes = self.parent_tree(parent_tree) if parent_tree and self.parent_tree else None
        by_name = {name_of(n): n for n in parent_nodes or ()}
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError as exc:
            raise SourceError(f"cannot read {os.fsdecode(path)}: {exc.strerror}") from exc
        pending = PendingDir(parent_tree, parent_nodes)
        for entry in entries:
            node = self._entry(entry, rel, by_name, pending)
            if node is not None:
                pending.nodes.append(node)
        return self._queue(pending)

    def _merge(self, path: bytes, rel: bytes, parent_tree: str) -> PendingDir:
        """A directory present in both layers: the parent's nodes, with the
        upper directory's entries over them and its whiteouts taken out."""
        parent_nodes = self.parent_tree(parent_tree) if self.parent_tree else []
        merged = {name_of(n): n for n in parent_nodes}
        pending = PendingDir(parent_tree, parent_nodes)
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError as exc:
            raise SourceError(f"cannot read {os.fsdecode(path)}: {exc.strerror}") from exc
        for entry in entries:
            st = entry.stat(follow_symlinks=False)
            if is_whiteout(st):
                merged.pop(entry.name, None)
                continue
            previous = merged.get(entry.name)
            kind = node_type(st)
            if kind is None:
                continue
            node = base_node(kind, st)
            put_bytes(node, "name", entry.name)
            relpath = rel + b"/" + entry.name if rel else entry.name
            if kind == DIR:
                self._describe(node, kind, entry.path, st, pending)
                strip_overlay_xattrs(node)
                below = previous.get("tree") if previous and previous["type"] == DIR else None
                if below is not None and not is_opaque(entry.path):
                    child = self._merge(entry.path, relpath, below)
                else:  # new, or replacing what was below: all of it is in the upper layer
                    child = self._walk(entry.path, relpath, None)
                pending.subdirs.append((node, child))
            else:
                if kind == FILE:
                    node["size"] = st.st_size
                self._describe(node, kind, entry.path, st, pending)
                strip_overlay_xattrs(node)
                self.counters.files += 1
            merged[entry.name] = node
        pending.nodes = [merged[name] for name in sorted(merged)]
        return self._queue(pending)

    def _queue(self, pending: PendingDir) -> PendingDir:
        """A walked directory waits in the window for its files' data."""
        self._submit(pending)
        self.counters.dirs += 1
        self._advance(0)
        self.window.append(pending)
        while len(self.window) > WINDOW_DIRS:
            self._finish(self.window.popleft())
        return pending

    def _entry(
        self, entry: "os.DirEntry[bytes]", rel: bytes, old: dict[bytes, Node], pending: PendingDir
    ) -> Node | None:
        path, name = entry.path, entry.name
        relpath = rel + b"/" + name if rel else name
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            return None  # vanished while we walked
        kind = node_type(st)
        if kind is None:
            self.counters.skipped.append(f"skipped socket {os.fsdecode(relpath)}")
            return None
        if kind != DIR and st.st_nlink > 1:
            first = self.hardlinks.setdefault((st.st_dev, st.st_ino), relpath)
            if first != relpath:
                self.counters.files += 1
                node = base_node(HARDLINK, st)  # metadata shown by diff; restore links
                put_bytes(node, "name", name)
                put_bytes(node, "link", first)
                return node
        node = base_node(kind, st)
        put_bytes(node, "name", name)
        previous = old.get(name)
        if kind == FILE:
            node["size"] = st.st_size
        if unchanged(previous, node) and (kind != FILE or previous["size"] == st.st_size):  # type: ignore[index]
            node = dict(previous)  # type: ignore[arg-type]
            if kind == FILE:
                self._advance(st.st_size)
        else:
            self._describe(node, kind, path, st, pending)
        if kind == FILE:
            self.counters.files += 1
            self.counters.logical_bytes += st.st_size
        elif kind == DIR:
            child = self._walk(path, relpath, previous.get("tree") if previous else None)
            pending.subdirs.append((node, child))
        else:
            self.counters.files += 1
        return node

    def _describe(
        self, node: Node, kind: str, path: bytes, st: os.stat_result, pending: PendingDir
    ) -> None:
        """Fill in what a new or changed entry holds (reading its data later)."""
        try:
            xattrs = read_xattrs(path)
            if xattrs:
                node["xattrs"] = xattrs
            if kind == SYMLINK:
                put_bytes(node, "target", os.readlink(path))
            elif kind == FILE:
                node["chunks"] = []
                self._read_file(node, path, st, pending)
        except OSError as exc:
            raise SourceError(f"cannot read {os.fsdecode(path)}: {exc.strerror}") from exc

    def _read_file(self, node: Node, path: bytes, st: os.stat_result, pending: PendingDir) -> None:
        """Queue the file's data in segments; small files share one task."""
        if st.st_blocks * 512 >= st.st_size:  # no holes
            small = st.st_size <= CHUNK_BYTES
            parts = [[(0, st.st_size)]] if small and st.st_size else segments([(0, st.st_size)])
        else:
            fd = _open_for_read(path)
            try:
                extents = data_extents(fd, st.st_size, sparse=True)
            finally:
                os.close(fd)
            parts = segments(extents)
            self._advance(st.st_size - sum(length for _, length in extents))  # the holes
        for part in parts:
            pending.batch.append((node, path, part))
            pending.batch_bytes += part[-1][0] + part[-1][1] - part[0][0]
            if len(pending.batch) >= BATCH_FILES or pending.batch_bytes >= BATCH_BYTES:
                self._submit(pending)

    def _submit(self, pending: PendingDir) -> None:
        if not pending.batch:
            return
        work, pending.batch, pending.batch_bytes = pending.batch, [], 0
        self.inflight.acquire()
        future = self.pool.submit(self._store_batch, work)
        future.add_done_callback(lambda _: self.inflight.release())
        pending.tasks.append((work, future))

    # -- file data (pool threads) --

    def _store_batch(self, work: Work) -> list[tuple[Chunks, int]]:
        return [self._store_chunks(path, part) for _, path, part in work]

    def _store_chunks(self, path: bytes, part: list[tuple[int, int]]) -> tuple[Chunks, int]:
        try:
            fd = _open_for_read(path)
        except OSError as exc:
            raise SourceError(f"cannot read {os.fsdecode(path)}: {exc.strerror}") from exc
        chunks: Chunks = []
        read = 0
        try:
            for offset, length in part:
                data = os.pread(fd, length, offset)
                read += len(data)
                if not data:
                    break
                blob_id, _ = self.blobs.put_data(data)
                chunks.append([offset, len(data), blob_id])
                self._advance(len(data))
        except OSError as exc:
            reraise_if_full(exc, "storing file data")
            raise SourceError(f"cannot read {os.fsdecode(path)}: {exc.strerror}") from exc
        finally:
            os.close(fd)
        return chunks, read

    # -- finishing trees (the calling thread) --

    def _finish(self, pending: PendingDir) -> None:
        for work, future in pending.tasks:
            for (node, _, _), (chunks, read) in zip(work, future.result(), strict=True):
                node["chunks"].extend(chunks)
                self.counters.bytes_read += read
        for node, child in pending.subdirs:
            assert child.tree_id is not None
            node["tree"] = child.tree_id
        if pending.parent_tree is not None and pending.nodes == pending.parent_nodes:
            pending.tree_id = pending.parent_tree
        else:
            pending.tree_id, _ = self.blobs.put_tree(pending.nodes)
        pending.nodes, pending.tasks, pending.subdirs = [], [], []


_OVERLAY_XATTRS = "trusted.overlay."


def is_whiteout(st: os.stat_result) -> bool:
    """An overlayfs whiteout: a character device 0:0 marking a deleted entry."""
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: bytes) -> bool:
    """An overlayfs opaque directory hides everything below it."""
    try:
        return os.getxattr(path, _OVERLAY_XATTRS + "opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def strip_overlay_xattrs(node: Node) -> None:
    """overlayfs's own attributes are not the file's."""
    xattrs = node.get("xattrs")
    if xattrs:
        kept = {k: v for k, v in xattrs.items() if not k.startswith(_OVERLAY_XATTRS)}
        if kept:
            node["xattrs"] = kept
        else:
            del node["xattrs"]


def root_node(source: bytes) -> Node:
    """Metadata of the snapshot's top directory, kept in the snapshot record."""
    try:
        st = os.lstat(source)
    except OSError as exc:
        raise SourceError(f"cannot read {os.fsdecode(source)}: {exc.strerror}") from exc
    if not stat.S_ISDIR(st.st_mode):
        raise SourceError(f"{os.fsdecode(source)} is not a directory")
    node = base_node(DIR, st)
    xattrs = read_xattrs(source)
    if xattrs:
        node["xattrs"] = xattrs
    return node
