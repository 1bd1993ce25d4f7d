"""Restoring a snapshot into a directory, never writing outside it.

Every entry is created relative to an open directory descriptor with
O_NOFOLLOW / follow_symlinks=False, names must be single path components in
strictly increasing order, and hardlinks may only point at files this same
restore created. So `..`, absolute names, duplicate names, symlinks planted
earlier in the restore and hardlinks to outside paths cannot escape `dest`.
File data is written by a thread pool; a directory's own metadata (owner,
mode, xattrs, mtime) is applied once everything inside it is written.
"""

import base64
import contextlib
import errno
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

from .blobs import Blobs
from .errors import DestinationNotEmpty, StoreError, UnsafeSnapshot
from .fsutil import reraise_if_full
from .tree import (
    BLOCK,
    CHAR,
    DIR,
    FIFO,
    FILE,
    HARDLINK,
    MAX_DEPTH,
    SYMLINK,
    TYPES,
    Node,
    get_bytes,
    name_of,
    unsafe_name,
)

_PRIVILEGED_XATTRS = ("security.", "trusted.")
BATCH_FILES = 64
BATCH_BYTES = 4 * 1024 * 1024
# Files one pool task writes: (name, node, path from the snapshot root).
Batch = list[tuple[bytes, Node, bytes]]


@dataclass
class Outcome:
    files: int = 0
    bytes_written: int = 0
    skipped: list[str] = field(default_factory=list)


class DirHandle:
    """An open directory being filled; its metadata lands when the last user lets go."""

    def __init__(self, restorer: "Restorer", fd: int, node: Node) -> None:
        self.restorer = restorer
        self.fd = fd
        self.node = node
        self.users = 1
        self._lock = threading.Lock()

    def hold(self) -> None:
        with self._lock:
            self.users += 1

    def release(self) -> None:
        with self._lock:
            self.users -= 1
            last = self.users == 0
        if last:
            try:
                self.restorer.apply_metadata(self.node, self.fd)
            finally:
                os.close(self.fd)


class Restorer:
    def __init__(self, blobs: Blobs, workers: int, force: bool) -> None:
        self.blobs = blobs
        self.force = force
        self.is_root = os.geteuid() == 0
        self.owner = (os.geteuid(), os.getegid())
        self.umask = current_umask()
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="restore")
        self.inflight = threading.BoundedSemaphore(workers * 8)
        self.futures: list[Future[None]] = []
        self.outcome = Outcome()
        self.created: set[bytes] = set()
        self.links: list[tuple[DirHandle, bytes, bytes, bytes]] = []
        self._lock = threading.Lock()

    def run(self, tree_id: str, root: Node, dest: bytes) -> Outcome:
        root_fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        top = DirHandle(self, os.dup(root_fd), root)
        try:
            try:
                self._fill(tree_id, top, b"", depth=0)
                self._drain()
                self._make_links(root_fd)
            finally:
                self.pool.shutdown(wait=True, cancel_futures=True)
        except OSError as exc:
            reraise_if_full(exc, "restoring")
            raise
        finally:
            os.close(root_fd)
        return self.outcome

    # -- walking trees (the calling thread) --

    def _fill(self, tree_id: str, handle: DirHandle, rel: bytes, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise UnsafeSnapshot(f"snapshot trees nest deeper than {MAX_DEPTH} levels")
        previous = None
        batch: Batch = []
        batch_bytes = 0
        for node in self.blobs.tree(tree_id):
            name = name_of(node)
            if unsafe_name(name) or (previous is not None and name <= previous):
                raise UnsafeSnapshot(f"unsafe or duplicate entry name {name!r} in tree {tree_id}")
            previous = name
            kind = node.get("type")
            if kind not in TYPES:
                raise UnsafeSnapshot(f"unknown entry type {kind!r} in tree {tree_id}")
            relpath = rel + b"/" + name if rel else name
            if kind == DIR:
                with _context(relpath):
                    self._dir(node, handle, name, relpath, depth)
            elif kind == FILE:
                batch.append((name, node, relpath))
                batch_bytes += node["size"]
                if len(batch) >= BATCH_FILES or batch_bytes >= BATCH_BYTES:
                    self._submit(handle, batch)
                    batch, batch_bytes = [], 0
            elif kind == HARDLINK:
                handle.hold()
                self.links.append((handle, name, get_bytes(node, "link"), relpath))
            else:
                with _context(relpath):
                    self._special(node, kind, handle, name, relpath)
        if batch:
            self._submit(handle, batch)
        handle.release()

    def _dir(self, node: Node, parent: DirHandle, name: bytes, relpath: bytes, depth: int) -> None:
        try:
            os.mkdir(name, 0o700, dir_fd=parent.fd)
        except FileExistsError:
            if not self.force:
                raise
            if not stat.S_ISDIR(os.stat(name, dir_fd=parent.fd, follow_symlinks=False).st_mode):
                self._remove(parent.fd, name)
                os.mkdir(name, 0o700, dir_fd=parent.fd)
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        child = DirHandle(self, os.open(name, flags, dir_fd=parent.fd), node)
        self._fill(node["tree"], child, relpath, depth + 1)

    def _special(self, node: Node, kind: str, handle: DirHandle, name: bytes, rel: bytes) -> None:
        fd = handle.fd
        if kind in (CHAR, BLOCK) and not self.is_root:
            self._skip(f"skipped device node {os.fsdecode(rel)}: needs root")
            return
        self._clear(fd, name)
        if kind == SYMLINK:
            os.symlink(get_bytes(node, "target"), name, dir_fd=fd)
        elif kind == FIFO:
            os.mkfifo(name, 0o600, dir_fd=fd)
        else:
            major, minor = node["rdev"]
            dev_type = stat.S_IFCHR if kind == CHAR else stat.S_IFBLK
            os.mknod(name, 0o600 | dev_type, os.makedev(major, minor), dir_fd=fd)
        self.apply_metadata_at(node, fd, name)
        self._created(rel)

    def _clear(self, dir_fd: int, name: bytes) -> None:
        if self.force:
            with contextlib.suppress(FileNotFoundError):
                self._remove(dir_fd, name)

    @staticmethod
    def _remove(dir_fd: int, name: bytes) -> None:
        if stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            shutil.rmtree(name, dir_fd=dir_fd)
        else:
            os.unlink(name, dir_fd=dir_fd)

    def _created(self, rel: bytes) -> None:
        with self._lock:
            self.created.add(rel)
            self.outcome.files += 1

    # -- file data (pool threads) --

    def _submit(self, handle: DirHandle, batch: Batch) -> None:
        handle.hold()
        self.inflight.acquire()
        future = self.pool.submit(self._write_batch, handle, batch)
        future.add_done_callback(lambda _: self.inflight.release())
        self.futures.append(future)
        if len(self.futures) > 4096:
            self._drain(keep_running=True)

    def _write_batch(self, handle: DirHandle, batch: Batch) -> None:
        try:
            for name, node, rel in batch:
                self._write_file(handle.fd, name, node, rel)
        finally:
            handle.release()

    def _write_file(self, dir_fd: int, name: bytes, node: Node, rel: bytes) -> None:
        """Create one file; if its data cannot be had, leave no file at all."""
        # A file with xattrs is created writable: setting them needs write access.
        mode = 0o600 if node.get("xattrs") else node["mode"] & 0o777
        with _context(rel):
            self._clear(dir_fd, name)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(name, flags, mode, dir_fd=dir_fd)
        try:
            end = 0
            for offset, length, blob_id in node["chunks"]:
                data = self.blobs.read(blob_id)
                if len(data) != length:
                    raise UnsafeSnapshot(f"chunk {blob_id} of {os.fsdecode(rel)} has a bad length")
                os.pwrite(fd, data, offset)
                end = offset + length
            if end != node["size"]:
                os.ftruncate(fd, node["size"])
            with _context(rel):
                self.apply_metadata(node, fd, mode & ~self.umask, fresh=not self.force)
        except BaseException:
            os.unlink(name, dir_fd=dir_fd)
            raise
        finally:
            os.close(fd)
        with self._lock:
            self.outcome.bytes_written += end
        self._created(rel)

    def _drain(self, keep_running: bool = False) -> None:
        futures, self.futures = self.futures, []
        for future in futures:
            if keep_running and not future.done():
                self.futures.append(future)
            else:
                future.result()

    def _make_links(self, root_fd: int) -> None:
        for handle, name, target, rel in self.links:
            try:
                if target not in self.created:
                    raise UnsafeSnapshot(
                        f"hardlink {os.fsdecode(rel)} points outside the snapshot's files"
                    )
                self._clear(handle.fd, name)
                os.link(
                    target, name, src_dir_fd=root_fd, dst_dir_fd=handle.fd, follow_symlinks=False
                )
                self._created(rel)
            finally:
                handle.release()

    # -- metadata: owner, then mode (chown clears setuid), then xattrs, then times --

    def apply_metadata(
        self, node: Node, fd: int, created_mode: int | None = None, fresh: bool = False
    ) -> None:
        """Skips what already holds: the mode the entry was created with, and
        the owner of a `fresh` file (just created by us in a directory we made)."""
        owner = (node["uid"], node["gid"])
        if self.is_root and not (fresh and owner == self.owner):
            os.fchown(fd, *owner)
        for key, value in node.get("xattrs", {}).items():
            self._set_xattr(fd, key, value)
        if node["mode"] != created_mode:
            os.fchmod(fd, node["mode"])
        os.utime(fd, ns=(node["mtime"], node["mtime"]))

    def apply_metadata_at(self, node: Node, dir_fd: int, name: bytes) -> None:
        """The same for an entry that cannot be opened (symlink, fifo, device)."""
        if self.is_root:
            os.chown(name, node["uid"], node["gid"], dir_fd=dir_fd, follow_symlinks=False)
        for key, value in node.get("xattrs", {}).items():
            self._set_xattr(b"/proc/self/fd/%d/%s" % (dir_fd, name), key, value)
        if node["type"] != SYMLINK:
            os.chmod(name, node["mode"], dir_fd=dir_fd)
        os.utime(name, ns=(node["mtime"], node["mtime"]), dir_fd=dir_fd, follow_symlinks=False)

    def _set_xattr(self, target: int | bytes, key: str, value: str) -> None:
        if not self.is_root and key.startswith(_PRIVILEGED_XATTRS):
            self._skip(f"skipped xattr {key}: needs root")
            return
        try:
            follow = {} if isinstance(target, int) else {"follow_symlinks": False}
            os.setxattr(target, key, base64.b64decode(value), **follow)
        except OSError as exc:
            if exc.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
                raise
            self._skip(f"skipped xattr {key}: {exc.strerror}")

    def _skip(self, message: str) -> None:
        with self._lock:
            self.outcome.skipped.append(message)


@contextmanager
def _context(rel: bytes) -> Iterator[None]:
    """Name the entry in an OS error; a full disk stays StoreFull."""
    try:
        yield
    except OSError as exc:
        reraise_if_full(exc, "restoring")
        raise StoreError(f"cannot restore {os.fsdecode(rel)}: {exc.strerror}") from exc


def check_destination(dest: bytes, force: bool) -> None:
    """The target must be a directory (or absent) and empty unless forced."""
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        raise StoreError(f"restore target {os.fsdecode(dest)} exists and is not a directory")
    if not force and os.listdir(dest):
        raise DestinationNotEmpty(
            f"restore target {os.fsdecode(dest)} is not empty (use --force to restore into it)"
        )


def current_umask() -> int:
    """The process umask, read without changing it (Linux 4.7+), else assumed 022."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022
