"""Snapshot records: the small JSON document whose presence *is* the snapshot.

A record names the root tree, the top directory's metadata, the parent, the
source, whether (and under which key) the snapshot is encrypted, and the
caller's label if it gave one (the work it was made for, so that a caller
who died before noting the id can still find it). Its id is the SHA-256 of
its bytes; writing `snapshots/<id>` is the commit point.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .errors import CorruptObject


@dataclass(frozen=True)
class SnapshotRecord:
    id: str
    time: str
    parent: str | None
    source: str
    encrypted: bool
    files: int
    logical_bytes: int
    label: str | None = None


def encode_record(doc: dict[str, Any]) -> tuple[str, bytes]:
    data = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(data).hexdigest(), data


def decode_record(snapshot_id: str, data: bytes) -> dict[str, Any]:
    if hashlib.sha256(data).hexdigest() != snapshot_id:
        raise CorruptObject(f"snapshot record {snapshot_id} does not match its id")
    try:
        doc: dict[str, Any] = json.loads(data)
    except ValueError as exc:
        raise CorruptObject(f"snapshot record {snapshot_id} is not valid JSON") from exc
    return doc


def public(snapshot_id: str, doc: dict[str, Any]) -> SnapshotRecord:
    return SnapshotRecord(
        id=snapshot_id,
        time=doc["time"],
        parent=doc.get("parent"),
        source=doc["source"],
        encrypted=doc.get("key_check") is not None,
        files=doc["files"],
        logical_bytes=doc["logical_bytes"],
        label=doc.get("label"),
    )
