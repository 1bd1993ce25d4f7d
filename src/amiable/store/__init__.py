"""The snapshot store: content-addressed, incremental, deduplicated, verifiable.

Knows trees and objects only (no EC2). API: docs/store-api.md; on-disk
format: docs/store-format.md.
"""

from . import errors
from .codec import load_key
from .diff import Diff
from .fsck import FsckReport
from .gc import GcSummary
from .records import SnapshotRecord
from .repository import RestoreSummary, SnapshotSummary, Store, StoreStats
from .transfer import CopySummary

__all__ = [
    "CopySummary",
    "Diff",
    "FsckReport",
    "GcSummary",
    "RestoreSummary",
    "SnapshotRecord",
    "SnapshotSummary",
    "Store",
    "StoreStats",
    "errors",
    "load_key",
]
