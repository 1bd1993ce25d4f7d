"""Turning measurements into ratios, goal verdicts and the Markdown tables for README.md.

A goal is `value / anchor <= limit`, both measured in the same run. A goal whose value or
anchor is missing (a failed step, an unavailable peer) is reported with `met: null`.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from dataclasses import asdict, dataclass
from typing import Any

MB = 1e6
MEMORY_LIMIT_MB = 300.0
TAR_ZSTD = "tar \\| zstd -3"
UNTAR = "zstd -d \\| tar -x"


def header(started: dt.datetime | None = None) -> dict[str, Any]:
    """What every result file starts with: when it ran (UTC), and on what machine."""
    when = started or dt.datetime.now(dt.UTC)
    machine = {
        "nproc": os.cpu_count(),
        "python": sys.version.split()[0],
        "loadavg": os.getloadavg(),
    }
    return {"date": when.isoformat(), "machine": machine}


@dataclass(frozen=True)
class Row:
    """One table row: the measured value, what it is compared with, and the goal if any."""

    name: str
    operation: str
    value: float | None
    value_text: str
    anchor: float | None
    anchor_text: str
    limit: float | None

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.anchor:
            return None
        return self.value / self.anchor

    @property
    def met(self) -> bool | None:
        ratio = self.ratio
        return None if ratio is None or self.limit is None else ratio <= self.limit

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "met": self.met}


def seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def megabytes(value: float | None) -> str:
    return "n/a" if value is None else f"{value / MB:.1f} MB"


# (name, operation, measurement, anchor measurement, anchor label, limit on the ratio)
TIME_GOALS: tuple[tuple[str, str, str, str, str, float], ...] = (
    ("cold_snapshot", "cold snapshot", "amiable_snapshot_cold", "tar_zstd", TAR_ZSTD, 1.0),
    (
        "unchanged_snapshot",
        "re-snapshot, unchanged (--parent)",
        "amiable_snapshot_unchanged",
        "amiable_snapshot_cold",
        "cold snapshot",
        0.1,
    ),
    (
        "changed_snapshot",
        "snapshot after 1% of files changed (--parent)",
        "amiable_snapshot_1pct",
        "amiable_snapshot_cold",
        "cold snapshot",
        0.15,
    ),
    (
        "restore",
        "restore to an empty dir",
        "amiable_restore",
        "tar_restore_alternated",
        f"{UNTAR}, alternated",
        1.0,
    ),
)


def goal_rows(
    best: dict[str, float | None], ami: dict[str, Any], peak_mb: float | None
) -> list[Row]:
    """The seven goals of the store, amiable against its anchor."""
    rows = [
        _time_row(name, op, best, key, anchor, label, limit)
        for name, op, key, anchor, label, limit in TIME_GOALS
    ]
    copy, five = ami.get("copy_child", {}), ami.get("five_snapshots", {})
    rows.append(
        _bytes_row(
            "copy_child",
            "copy child to a store holding its parent: bytes sent",
            copy.get("bytes_sent"),
            copy.get("child_bytes_new_stored"),
            "child bytes_new_stored",
            1.1,
            copy.get("objects_sent"),
        )
    )
    rows.append(
        _bytes_row(
            "five_snapshots",
            "stored bytes after cold + 5 × 1%-changed snapshots",
            five.get("stored_bytes"),
            five.get("expected_bytes"),
            f"first + changes ({TAR_ZSTD})",
            1.1,
            None,
        )
    )
    memory = "n/a" if peak_mb is None else f"{peak_mb:.0f} MB"
    limit = f"limit {MEMORY_LIMIT_MB:.0f} MB"
    rows.append(
        Row(
            "peak_memory",
            "peak memory (max RSS) of any ami process",
            peak_mb,
            memory,
            MEMORY_LIMIT_MB,
            limit,
            1.0,
        )
    )
    return rows


def reference_rows(best: dict[str, float | None]) -> list[Row]:
    """restic, borg and cp -a against the same anchors, for reference."""
    specs = [
        ("cp_a", "cp -a", "tar_zstd", TAR_ZSTD),
        ("restic_backup_cold", "restic backup, cold", "tar_zstd", TAR_ZSTD),
        (
            "restic_backup_unchanged",
            "restic backup, unchanged",
            "restic_backup_cold",
            "restic backup, cold",
        ),
        ("restic_restore", "restic restore", "tar_restore", UNTAR),
        ("borg_create_cold", "borg create, cold", "tar_zstd", TAR_ZSTD),
        (
            "borg_create_unchanged",
            "borg create, unchanged",
            "borg_create_cold",
            "borg create, cold",
        ),
        ("borg_extract", "borg extract", "tar_restore", UNTAR),
        (
            "amiable_snapshot_cold",
            "amiable cold snapshot vs restic",
            "restic_backup_cold",
            "restic backup, cold",
        ),
        (
            "amiable_snapshot_cold",
            "amiable cold snapshot vs borg",
            "borg_create_cold",
            "borg create, cold",
        ),
        ("amiable_restore", "amiable restore vs restic", "restic_restore", "restic restore"),
        ("amiable_restore", "amiable restore vs borg", "borg_extract", "borg extract"),
        (
            "amiable_cli_startup",
            "ami start-up (`ami store ls`, empty store)",
            "amiable_snapshot_unchanged",
            "unchanged re-snapshot",
        ),
    ]
    return [
        _time_row(f"{key}/{anchor}", label, best, key, anchor, anchor_label, None)
        for key, label, anchor, anchor_label in specs
    ]


def in_process_rows(ami: dict[str, Any]) -> list[Row]:
    """The incremental ratios on the time ami itself reports (`seconds` in --json),
    which leaves out the ~0.1 s of interpreter start-up that every command pays."""
    cold = ami.get("cold_snapshot", {}).get("seconds")
    rows = []
    for key, label in (
        ("unchanged_snapshot", "re-snapshot, unchanged, in-process time"),
        ("changed_snapshot", "snapshot after 1% changed, in-process time"),
    ):
        value = ami.get(key, {}).get("seconds")
        rows.append(
            Row(key, label, value, seconds(value), cold, f"cold snapshot: {seconds(cold)}", None)
        )
    return rows


def _time_row(
    name: str,
    operation: str,
    best: dict[str, float | None],
    key: str,
    anchor_key: str,
    anchor_label: str,
    limit: float | None,
) -> Row:
    value, anchor = best.get(key), best.get(anchor_key)
    return Row(
        name, operation, value, seconds(value), anchor, f"{anchor_label}: {seconds(anchor)}", limit
    )


def _bytes_row(
    name: str,
    operation: str,
    value: int | None,
    anchor: int | None,
    anchor_label: str,
    limit: float,
    objects: int | None,
) -> Row:
    text = megabytes(value) + (f" ({objects} objects)" if objects is not None else "")
    anchor_value = float(anchor) if anchor is not None else None
    return Row(
        name,
        operation,
        None if value is None else float(value),
        text,
        anchor_value,
        f"{anchor_label}: {megabytes(anchor)}",
        limit,
    )


def goals_table(rows: list[Row]) -> str:
    lines = ["| operation | amiable | anchor | ratio | goal | met |", "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row.operation} | {row.value_text} | {row.anchor_text} | {_ratio(row.ratio)} "
            f"| ≤ {row.limit} | {_verdict(row.met)} |"
        )
    return "\n".join(lines)


def reference_table(rows: list[Row]) -> str:
    lines = ["| operation | measured | anchor | ratio |", "|---|---|---|---|"]
    for row in rows:
        if row.value is None and row.anchor is None:
            continue
        lines.append(
            f"| {row.operation} | {row.value_text} | {row.anchor_text} | {_ratio(row.ratio)} |"
        )
    return "\n".join(lines)


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _verdict(met: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "n/a"}[met]
