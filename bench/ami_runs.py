"""The amiable measurements, all through the `ami store ... --json` command line.

Owns: cold snapshot, unchanged re-snapshot with --parent, snapshot after a seeded 1% change
with --parent, restore to an empty directory (with the `zstd -d | tar -x` anchor timed beside
each restore), copy of a child snapshot to a store that holds its parent, five successive
1%-changed snapshots against their tar|zstd size, and the peak memory (max RSS, from os.wait4)
of every ami subprocess.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import runner
import trees
from peers import Timings, tar_zstd_commands

Summary = dict[str, Any]
# diff -r cannot compare device nodes and fifos and says so even when they are alike
SPECIAL_FILES = re.compile(r"^File .* is a (character special file|block special file|fifo) while")


def ami_command() -> list[str]:
    """The ami console script next to this interpreter, else `python -m amiable.cli`."""
    script = Path(sys.executable).parent / "ami"
    return [str(script)] if script.exists() else [sys.executable, "-m", "amiable.cli"]


@dataclass
class Ami:
    """Calls `ami store` with --json and keeps the peak memory of every call."""

    base: list[str] = field(default_factory=ami_command)
    max_rss_mb: dict[str, float] = field(default_factory=dict)

    def call(self, command: str, *args: str) -> tuple[runner.Run, Any]:
        result = runner.run([*self.base, "store", command, "--json", *args])
        rss = self.max_rss_mb.get(command, 0.0)
        self.max_rss_mb[command] = max(rss, result.max_rss_mb)
        try:
            return result, json.loads(result.stdout)
        except json.JSONDecodeError as exc:
            argv = shlex.join(result.argv)
            raise AmiOutputError(f"`{argv}` printed no JSON: {result.stdout[:200]!r}") from exc

    def init(self, store: Path) -> None:
        self.call("init", "--store", str(store))

    def snapshot(
        self, store: Path, source: Path, parent: str | None = None
    ) -> tuple[runner.Run, Summary]:
        extra = ["--parent", parent] if parent else []
        return self.call("snapshot", "--store", str(store), *extra, str(source))

    def copy(self, source: Path, dest: Path, snapshot: str) -> tuple[runner.Run, Summary]:
        return self.call("copy", "--from", str(source), "--to", str(dest), snapshot)

    def stored_bytes(self, store: Path) -> int:
        _, stats = self.call("stats", "--store", str(store))
        return int(stats["stored_bytes"])

    @property
    def peak_mb(self) -> float:
        return max(self.max_rss_mb.values(), default=0.0)


class AmiOutputError(RuntimeError):
    """ami exited 0 but its --json output could not be parsed."""


@dataclass
class Context:
    """What every amiable flow needs."""

    ami: Ami
    source: Path
    scratch: runner.Scratch
    repeat: int
    seed: int
    timings: Timings
    results: dict[str, Any] = field(default_factory=dict)


def startup_runs(ctx: Context) -> None:
    """`ami store ls` on an empty store: the fixed cost of every ami command."""
    store = ctx.scratch / "ami-empty"
    ctx.ami.init(store)
    for _ in range(ctx.repeat):
        result, _ = ctx.ami.call("ls", "--store", str(store))
        ctx.timings.add("amiable_cli_startup", result)
    ctx.scratch.discard(store)


def snapshot_restore_runs(ctx: Context) -> None:
    """Cold snapshot, unchanged re-snapshot and restore, each repeat from a fresh store.

    Each restore is paired with a `zstd -d | tar -x` of the same tree, in alternating order:
    how fast this machine creates files swings by 2-3x within minutes, so the restore goal
    compares runs made side by side rather than the peers' runs of minutes earlier."""
    store, target = ctx.scratch / "ami-store", ctx.scratch / "ami-restore"
    archive, anchor_target = ctx.scratch / "anchor.tar.zst", ctx.scratch / "anchor-restore"
    pack, unpack = tar_zstd_commands(ctx.source, archive, anchor_target)
    runner.shell(pack)
    for index in range(ctx.repeat):
        ctx.scratch.discard(store)
        ctx.ami.init(store)
        run, cold = ctx.ami.snapshot(store, ctx.source)
        ctx.timings.add("amiable_snapshot_cold", run)
        run, same = ctx.ami.snapshot(store, ctx.source, parent=cold["id"])
        ctx.timings.add("amiable_snapshot_unchanged", run)
        ctx.scratch.fresh_dir(target)
        ctx.scratch.fresh_dir(anchor_target)

        def anchor() -> None:
            ctx.timings.add("tar_restore_alternated", runner.shell(unpack))

        if index % 2:
            anchor()
        run, restored = ctx.ami.call("restore", "--store", str(store), cold["id"], str(target))
        ctx.timings.add("amiable_restore", run)
        if index % 2 == 0:
            anchor()
        if index == 0:
            ctx.results.update(cold_snapshot=cold, unchanged_snapshot=same, restore=restored)
            ctx.results["restore_check"] = check_restore(ctx.source, target)
            ctx.results["stored_bytes_after_cold"] = ctx.ami.stored_bytes(store)


def check_restore(source: Path, target: Path) -> dict[str, Any]:
    """Compare a restored tree with its source: contents (`diff -r`) and metadata."""
    diff = runner.run(["diff", "-r", "--no-dereference", str(source), str(target)], check=False)
    lines = [line for line in diff.stdout.splitlines() if not SPECIAL_FILES.search(line)]
    metadata = trees.compare_metadata(source, target)
    return {
        "identical": diff.returncode in (0, 1) and not lines and not metadata,
        "content_differences": len(lines),
        "content_examples": lines[:5],
        "metadata_differences": metadata,
    }


def changed_and_copy_runs(ctx: Context) -> None:
    """Snapshot after a 1% change with --parent, then copy parent and child to a new store."""
    work, store, dest = ctx.scratch / "work", ctx.scratch / "ami-store", ctx.scratch / "ami-dest"
    for index in range(ctx.repeat):
        ctx.scratch.discard(work, store, dest)
        trees.working_copy(ctx.source, work)
        trees.warm_up(work)
        ctx.ami.init(store)
        _, parent = ctx.ami.snapshot(store, work)
        changed = trees.apply_changes(work, ctx.seed, step=1)
        run, child = ctx.ami.snapshot(store, work, parent=parent["id"])
        ctx.timings.add("amiable_snapshot_1pct", run)
        ctx.ami.init(dest)
        run, sent_parent = ctx.ami.copy(store, dest, parent["id"])
        ctx.timings.add("amiable_copy_parent", run)
        run, sent_child = ctx.ami.copy(store, dest, child["id"])
        ctx.timings.add("amiable_copy_child", run)
        if index == 0:
            ctx.results["changed_snapshot"] = {**child, "changed_files": len(changed)}
            ctx.results["copy_parent"] = sent_parent
            new_stored = child["bytes_new_stored"]
            ctx.results["copy_child"] = {**sent_child, "child_bytes_new_stored": new_stored}


def five_snapshot_run(ctx: Context, steps: int = 5) -> None:
    """A cold snapshot then `steps` snapshots, each after a new 1% change, with --parent."""
    work, store = ctx.scratch / "work", ctx.scratch / "ami-store"
    ctx.scratch.discard(work, store)
    trees.working_copy(ctx.source, work)
    trees.warm_up(work)
    ctx.ami.init(store)
    _, previous = ctx.ami.snapshot(store, work)
    first = ctx.ami.stored_bytes(store)
    rows: list[dict[str, Any]] = []
    for step in range(1, steps + 1):
        changed = trees.apply_changes(work, ctx.seed, step=100 + step)
        compressed = compressed_size(work, changed, ctx.scratch / "changes")
        run, previous = ctx.ami.snapshot(store, work, parent=previous["id"])
        rows.append(
            {
                "step": step,
                "changed_files": len(changed),
                "changes_tar_zstd_bytes": compressed,
                "bytes_new_stored": previous["bytes_new_stored"],
                "seconds": run.seconds,
                "stored_bytes": ctx.ami.stored_bytes(store),
            }
        )
    ctx.results["five_snapshots"] = {
        "first_stored_bytes": first,
        "steps": rows,
        "expected_bytes": first + sum(row["changes_tar_zstd_bytes"] for row in rows),
        "stored_bytes": rows[-1]["stored_bytes"],
    }


def compressed_size(tree: Path, files: list[str], scratch: Path) -> int:
    """Size of `tar | zstd -3` of the given files of tree."""
    listing, archive = scratch.with_suffix(".list"), scratch.with_suffix(".tar.zst")
    listing.write_bytes(b"".join(os.fsencode(name) + b"\0" for name in files))
    tree_q, list_q, out_q = (shlex.quote(str(p)) for p in (tree, listing, archive))
    runner.shell(f"tar -C {tree_q} --null -T {list_q} -cf - | zstd -3 -T0 -q -c > {out_q}")
    size = archive.stat().st_size
    runner.remove(listing)
    runner.remove(archive)
    return size
