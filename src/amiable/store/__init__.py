"""The snapshot store: content-addressed, incremental, deduplicated, verifiable.

Knows trees and objects only (no EC2). API: docs/store-api.md; on-disk
format: docs/store-format.md.
"""

from . import errors
from .codec import load_key
from .diff import Diff
from .fsck import FsckReport
from .gc import GcSummary
from .measure import TreeSize, measure_tree
from .records import SnapshotRecord
from .repository import RestoreSummary, SnapshotSummary, Store, StoreStats
from .scan import SnapshotProgress
from .transfer import CopySummary

__all__ = [
    "CopySummary",
    "Diff",
    "FsckReport",
    "GcSummary",
    "RestoreSummary",
    "SnapshotProgress",
    "SnapshotRecord",
    "SnapshotSummary",
    "Store",
    "StoreStats",
    "TreeSize",
    "errors",
    "load_key",
    "measure_tree",
]
