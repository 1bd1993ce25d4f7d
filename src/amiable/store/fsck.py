"""Checking a store: structure always, every byte with `read_data`.

Structure: every record matches its id, every index file reads, every blob a
snapshot reaches is indexed, and its pack exists and is long enough. With
`read_data`: every pack re-hashes to its name and its trailer agrees with
the index, and every reachable blob
passes its checksum, then (where its codec is known: plain, or encrypted
with the key given) decrypts, decompresses and re-hashes to its id. A
damaged blob is reported with the snapshots that need it.

Data no snapshot needs (what an interrupted write left, or deleted
snapshots') is not damage: the report counts it as reclaimable, which is what
`gc` frees.
"""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from .codec import Codec
from .errors import CorruptObject
from .gc import pack_files
from .index import Index
from .packs import PackReader, read_trailer


@dataclass(frozen=True)
class FsckReport:
    ok: bool
    errors: list[str]
    damaged: dict[str, list[str]]
    objects_checked: int
    reclaimable_objects: int | None = None  # None: unknown (the store is in use)
    reclaimable_bytes: int | None = None


@dataclass
class Findings:
    errors: list[str] = field(default_factory=list)
    damaged: dict[str, set[str]] = field(default_factory=dict)

    def blob(self, blob_id: str, users: set[str], message: str) -> None:
        if blob_id not in self.damaged:
            self.errors.append(message)
        self.damaged.setdefault(blob_id, set()).update(users)


def check(
    root: Path,
    index: Index,
    snapshots: dict[str, tuple[str, Codec | None]],
    findings: Findings,
    read_data: bool,
) -> FsckReport:
    """`snapshots` maps id -> (root tree, codec or None when the key is unknown)."""
    packs_dir = root / "packs"
    users: dict[str, set[str]] = {}
    codecs: dict[str, Codec | None] = {}
    for snap_id, (tree, codec) in snapshots.items():
        for blob_id in index.reachable([tree]):
            users.setdefault(blob_id, set()).add(snap_id)
            if codecs.get(blob_id) is None:
                codecs[blob_id] = codec

    on_disk = pack_files(packs_dir)
    sizes = {p: path.stat().st_size for p, path in on_disk.items()}
    for blob_id, who in sorted(users.items()):
        entry = index.entries.get(blob_id)
        if entry is None:
            findings.blob(blob_id, who, f"object {blob_id} is missing")
        elif entry.pack not in sizes:
            findings.blob(blob_id, who, f"object {blob_id}: pack {entry.pack} is missing")
        elif entry.offset + entry.length > sizes[entry.pack]:
            findings.blob(blob_id, who, f"object {blob_id}: pack {entry.pack} is truncated")

    checked = len(users)
    if read_data:
        _check_packs(on_disk, index, findings)
        checked = _read_blobs(packs_dir, index, users, codecs, findings)
    damaged = {b: sorted(s) for b, s in sorted(findings.damaged.items())}
    return FsckReport(not findings.errors and not damaged, findings.errors, damaged, checked)


def _read_blobs(
    packs_dir: Path,
    index: Index,
    users: dict[str, set[str]],
    codecs: dict[str, Codec | None],
    findings: Findings,
) -> int:
    reader = PackReader(packs_dir)
    checked = 0
    try:
        order = sorted(
            (b for b in users if b in index and b not in findings.damaged),
            key=lambda b: (index[b].pack, index[b].offset),
        )
        for blob_id in order:
            try:
                stored = reader.read(blob_id, index[blob_id])
                codec = codecs[blob_id]
                if codec is not None:
                    codec.unseal(blob_id, stored)
                checked += 1
            except CorruptObject as exc:
                findings.blob(blob_id, users[blob_id], str(exc))
    finally:
        reader.close()
    return checked


def _check_packs(on_disk: dict[str, Path], index: Index, findings: Findings) -> None:
    """Each pack re-hashes to its name and its trailer agrees with the index."""
    indexed: dict[str, set[tuple[str, int, int]]] = {}
    for blob_id, entry in index.entries.items():
        indexed.setdefault(entry.pack, set()).add((blob_id, entry.offset, entry.length))
    for pack_id, path in sorted(on_disk.items()):
        if _file_sha256(path) != pack_id:
            findings.errors.append(f"pack {pack_id} does not match its name")
            continue
        try:
            trailer = {(b, e.offset, e.length) for b, e in read_trailer(path)}
        except CorruptObject as exc:
            findings.errors.append(str(exc))
            continue
        if not indexed.get(pack_id, set()) <= trailer:
            findings.errors.append(f"pack {pack_id}: its trailer disagrees with the index")


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
