"""The Store: a directory of packs, index files and snapshot records.

Composes the pieces (codec, packs, index, scan, restore, diff, transfer, gc,
fsck) into the operations of docs/store-api.md, and owns locking and the
commit order: packs -> index -> snapshot record. Layout: docs/store-format.md.
"""

import dataclasses
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import locking
from .blobs import Blobs
from .codec import Codec
from .diff import Diff, diff_trees
from .errors import (
    CorruptObject,
    KeyRequired,
    SnapshotNotFound,
    StoreError,
    StoreNotFound,
    WrongKey,
)
from .fsck import Findings, FsckReport, check
from .fsutil import reraise_if_full, write_atomic
from .gc import GcSummary, collect, pack_files, plan, reclaimable
from .index import Index, commit_index
from .packs import PackWriter
from .records import SnapshotRecord, decode_record, encode_record, public
from .restore import Restorer, check_destination
from .scan import Progress, Snapshotter, root_node, strip_overlay_xattrs
from .transfer import CopySummary, send_blobs
from .tree import Node

FORMAT_VERSION = 1
_LAYOUT = ("packs", "index", "snapshots", "tmp")


@dataclass(frozen=True)
class SnapshotSummary:
    id: str
    files: int
    dirs: int
    bytes_read: int
    bytes_new_stored: int
    logical_bytes: int
    seconds: float
    skipped: list[str]


@dataclass(frozen=True)
class RestoreSummary:
    id: str
    files: int
    bytes_written: int
    skipped: list[str]
    seconds: float


@dataclass(frozen=True)
class StoreStats:
    snapshots: int
    logical_bytes: int
    stored_bytes: int
    dedup_ratio: float
    objects: int
    packs: int


def _workers() -> int:
    return max(2, os.cpu_count() or 2)


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.packs = path / "packs"
        self.index_dir = path / "index"
        self.records = path / "snapshots"
        self.tmp = path / "tmp"
        self.lock = path / "lock"

    # -- creating and opening --

    @classmethod
    def init(cls, path: str | os.PathLike[str]) -> "Store":
        root = Path(path).absolute()
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise StoreError(f"{root} already exists and is not an empty directory")
        root.mkdir(parents=True, exist_ok=True)
        for name in _LAYOUT:
            (root / name).mkdir()
        config = {"version": FORMAT_VERSION, "id": os.urandom(16).hex()}
        write_atomic(root / "config.json", json.dumps(config).encode(), root / "tmp")
        return cls(root)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> "Store":
        root = Path(path).absolute()
        try:
            data = (root / "config.json").read_bytes()
        except OSError as exc:
            raise StoreNotFound(f"no store at {root} (create one with 'ami store init')") from exc
        try:
            config = json.loads(data)
        except ValueError as exc:
            raise CorruptObject(f"store {root} has a damaged config.json") from exc
        if config.get("version") != FORMAT_VERSION:
            raise StoreError(f"store {root} has format version {config.get('version')}")
        return cls(root)

    # -- snapshot records --

    def resolve(self, ref: str) -> str:
        names = [n for n in os.listdir(self.records) if n.startswith(ref)] if ref else []
        if len(names) == 1:
            return names[0]
        if not names:
            raise SnapshotNotFound(f"no snapshot {ref!r} in {self.path}")
        raise SnapshotNotFound(f"snapshot prefix {ref!r} is ambiguous in {self.path}")

    def _record(self, ref: str) -> tuple[str, dict[str, Any]]:
        snap_id = self.resolve(ref)
        try:
            data = (self.records / snap_id).read_bytes()
        except FileNotFoundError as exc:
            raise SnapshotNotFound(f"no snapshot {ref!r} in {self.path}") from exc
        return snap_id, decode_record(snap_id, data)

    def _all_records(self) -> dict[str, dict[str, Any]]:
        return {
            n: decode_record(n, (self.records / n).read_bytes()) for n in os.listdir(self.records)
        }

    def snapshots(self) -> list[SnapshotRecord]:
        found = [public(i, doc) for i, doc in self._all_records().items()]
        return sorted(found, key=lambda r: (r.time, r.id))

    def labelled(self, label: str) -> list[str]:
        """The ids of the snapshots made with `label`."""
        return [r.id for r in self.snapshots() if r.label == label]

    @staticmethod
    def _codec(snap_id: str, doc: dict[str, Any], key: bytes | None) -> Codec:
        check_value = doc.get("key_check")
        if check_value is None:
            return Codec()
        if key is None:
            raise KeyRequired(f"snapshot {snap_id[:12]} is encrypted: give its key (--key-file)")
        codec = Codec(key)
        if codec.key_check != check_value:
            raise WrongKey(f"the key does not match snapshot {snap_id[:12]}")
        return codec

    def _parent(
        self, ref: str | None, codec: Codec
    ) -> tuple[str, dict[str, Any]] | tuple[None, None]:
        """The parent's record; it must have been made with the same key (or none)."""
        if ref is None:
            return None, None
        parent_id, doc = self._record(ref)
        if doc.get("key_check") != codec.key_check:
            raise WrongKey(f"parent {parent_id[:12]} was made with a different key (or none)")
        return parent_id, doc

    # -- operations --

    def snapshot(
        self,
        source: str | os.PathLike[str],
        *,
        parent: str | None = None,
        key: bytes | None = None,
        progress: Progress | None = None,
        label: str | None = None,
    ) -> SnapshotSummary:
        """`progress` hears how far it is (see `scan.SnapshotProgress`); an
        exception it raises stops the snapshot, which then leaves nothing.
        `label` is kept in the record (see `labelled`)."""
        source_b = os.fsencode(os.path.abspath(source))
        return self._snapshot(
            source_b,
            root_node(source_b),
            parent,
            key,
            lambda scan, parent_tree: scan.run(source_b, parent_tree),
            progress,
            label,
        )

    def snapshot_changes(
        self,
        upper: str | os.PathLike[str],
        *,
        parent: str,
        key: bytes | None = None,
        progress: Progress | None = None,
        label: str | None = None,
    ) -> SnapshotSummary:
        """A snapshot of `parent` with an overlayfs upper directory's changes
        (new and changed entries, whiteouts, opaque directories) applied: only
        the upper directory is read, so it costs what changed. `files`, `dirs`
        and `logical_bytes` count the parent's entries and the changed ones."""
        upper_b = os.fsencode(os.path.abspath(upper))
        root = root_node(upper_b)
        strip_overlay_xattrs(root)
        return self._snapshot(
            upper_b,
            root,
            parent,
            key,
            lambda scan, parent_tree: scan.run_changes(upper_b, parent_tree or ""),
            progress,
            label,
            counts_parent=True,
        )

    def _snapshot(
        self,
        source_b: bytes,
        root: Node,
        parent: str | None,
        key: bytes | None,
        walk: Callable[[Snapshotter, str | None], str],
        progress: Progress | None,
        label: str | None,
        counts_parent: bool = False,
    ) -> SnapshotSummary:
        started = time.perf_counter()
        codec = Codec(key)
        with locking.shared(self.lock):
            parent_id, parent_doc = self._parent(parent, codec)
            writer = PackWriter(self.packs, self.tmp)
            blobs = Blobs(Index(self.index_dir).load(), self.packs, codec, writer)
            parent_tree = blobs.tree if parent_doc else None
            scan = Snapshotter(blobs, parent_tree, _workers(), progress)
            try:
                with writer.committing():
                    tree = walk(scan, parent_doc["tree"] if parent_doc else None)
                    commit_index(self.index_dir, self.tmp, writer)
                c = scan.counters
                base = parent_doc if counts_parent and parent_doc else {}
                doc = {
                    "version": FORMAT_VERSION,
                    "time": datetime.now(UTC).isoformat(timespec="microseconds"),
                    "tree": tree,
                    "root": root,
                    "parent": parent_id,
                    "source": os.fsdecode(source_b),
                    "hostname": socket.gethostname(),
                    "key_check": codec.key_check,
                    "files": base.get("files", 0) + c.files,
                    "dirs": base.get("dirs", 0) + c.dirs,
                    "logical_bytes": base.get("logical_bytes", 0) + c.logical_bytes,
                    **({"label": label} if label is not None else {}),
                }
                snap_id, data = encode_record(doc)
                write_atomic(self.records / snap_id, data, self.tmp)
            except OSError as exc:
                reraise_if_full(exc, "writing the snapshot")
                raise
            finally:
                writer.abort()
                blobs.close()
        return SnapshotSummary(
            snap_id,
            c.files,
            c.dirs,
            c.bytes_read,
            writer.bytes_written,
            c.logical_bytes,
            round(time.perf_counter() - started, 3),
            c.skipped,
        )

    def restore(
        self,
        snapshot: str,
        dest: str | os.PathLike[str],
        *,
        key: bytes | None = None,
        force: bool = False,
    ) -> RestoreSummary:
        started = time.perf_counter()
        with locking.shared(self.lock):
            snap_id, doc = self._record(snapshot)
            codec = self._codec(snap_id, doc, key)
            dest_b = os.fsencode(os.path.abspath(dest))
            check_destination(dest_b, force)
            os.makedirs(dest_b, exist_ok=True)
            blobs = Blobs(Index(self.index_dir).load(), self.packs, codec)
            try:
                outcome = Restorer(blobs, _workers() * 2, force).run(
                    doc["tree"], doc["root"], dest_b
                )
            finally:
                blobs.close()
        seconds = round(time.perf_counter() - started, 3)
        return RestoreSummary(
            snap_id, outcome.files, outcome.bytes_written, outcome.skipped, seconds
        )

    def diff(self, a: str, b: str, *, key: bytes | None = None) -> Diff:
        with locking.shared(self.lock):
            index = Index(self.index_dir).load()
            (id_a, doc_a), (id_b, doc_b) = self._record(a), self._record(b)
            blobs_a = Blobs(index, self.packs, self._codec(id_a, doc_a, key))
            same_key = doc_a.get("key_check") == doc_b.get("key_check")
            blobs_b = (
                blobs_a if same_key else Blobs(index, self.packs, self._codec(id_b, doc_b, key))
            )
            try:
                return diff_trees(blobs_a.tree, doc_a["tree"], blobs_b.tree, doc_b["tree"])
            finally:
                blobs_a.close()
                blobs_b.close()

    def copy(self, snapshot: str, dest: "Store") -> CopySummary:
        with locking.shared(self.lock), locking.shared(dest.lock):
            snap_id = self.resolve(snapshot)
            data = (self.records / snap_id).read_bytes()
            doc = decode_record(snap_id, data)
            writer = PackWriter(dest.packs, dest.tmp)
            try:
                with writer.committing():
                    source, target = Index(self.index_dir).load(), Index(dest.index_dir).load()
                    sent = send_blobs(source, self.packs, doc["tree"], target, writer)
                    commit_index(dest.index_dir, dest.tmp, writer)
                write_atomic(dest.records / snap_id, data, dest.tmp)
            except OSError as exc:
                reraise_if_full(exc, "copying the snapshot")
                raise
            finally:
                writer.abort()
        return CopySummary(snap_id, sent, writer.bytes_written)

    def delete(self, snapshot: str) -> str:
        with locking.shared(self.lock):
            snap_id = self.resolve(snapshot)
            (self.records / snap_id).unlink()
        return snap_id

    def gc(self) -> GcSummary:
        with locking.exclusive(self.lock):
            return self._collect()

    def gc_if_idle(self) -> GcSummary | None:
        """gc now if no one uses the store, else nothing (None): never waits."""
        with locking.exclusive_if_free(self.lock) as free:
            return self._collect() if free else None

    def _collect(self) -> GcSummary:
        index = Index(self.index_dir).load()
        roots = [doc["tree"] for doc in self._all_records().values()]
        unindexed = [b for b in index.reachable(roots) if b not in index]
        if unindexed:
            raise CorruptObject(
                f"{len(unindexed)} objects that snapshots need are not indexed "
                f"(first: {unindexed[0]}); gc refuses to run: see 'ami store fsck'"
            )
        return collect(self.path, index, plan(self.path, index, roots))

    def _reclaimable(self) -> tuple[int, int] | tuple[None, None]:
        """(objects, bytes) gc would free; unknown (None) while another process
        uses the store (its unfinished data would look like garbage) or when the
        store is too damaged to tell what snapshots need."""
        with locking.exclusive_if_free(self.lock) as free:
            if not free:
                return None, None
            try:
                index = Index(self.index_dir).load()
                roots = [doc["tree"] for doc in self._all_records().values()]
                return reclaimable(self.path, plan(self.path, index, roots))
            except CorruptObject:
                return None, None

    def fsck(self, *, read_data: bool = False, key: bytes | None = None) -> FsckReport:
        reclaimable_objects, reclaimable_bytes = self._reclaimable()
        findings = Findings()
        with locking.shared(self.lock):
            index = Index(self.index_dir)
            try:
                index.load()
            except CorruptObject as exc:
                findings.errors.append(str(exc))
            snapshots: dict[str, tuple[str, Codec | None]] = {}
            for name in sorted(os.listdir(self.records)):
                try:
                    doc = decode_record(name, (self.records / name).read_bytes())
                except CorruptObject as exc:
                    findings.errors.append(str(exc))
                    continue
                try:
                    codec: Codec | None = self._codec(name, doc, key)
                except (KeyRequired, WrongKey):
                    codec = None
                snapshots[name] = (doc["tree"], codec)
            found = check(self.path, index, snapshots, findings, read_data)
        return dataclasses.replace(
            found, reclaimable_objects=reclaimable_objects, reclaimable_bytes=reclaimable_bytes
        )

    def stats(self) -> StoreStats:
        with locking.shared(self.lock):
            records = self.snapshots()
            packs = pack_files(self.packs)
            stored = sum(p.stat().st_size for p in packs.values())
            logical = sum(r.logical_bytes for r in records)
            objects = len(Index(self.index_dir).load().entries)
        ratio = round(logical / stored, 3) if stored else 0.0
        return StoreStats(len(records), logical, stored, ratio, objects, len(packs))
