"""Benchmark of the snapshot store (`ami store`) against tar | zstd, cp -a, restic and borg.

Owns the command line of `make bench`: it chooses the tree (`--tree DIR`, `--debian`, or a
cached subset of /usr), installs missing peers with apt-get when root, measures the peers
and amiable on the same tree with a warm page cache (best of `--repeat` runs), evaluates the
store's goals as ratios of the same run, writes bench/results/store-<UTC>.json (and
`--json-out`) and prints Markdown tables for README.md. Temporary stores, repositories and
restores are removed afterwards; the cached source trees are kept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import ami_runs
import peers
import report
import runner
import trees

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_WORK = Path("/var/tmp/amiable-bench")
LAST_CLEANUP = "last-cleanup"
OPTIONAL_TOOLS = ("zstd", "restic", "borg")
REQUIRED_TOOLS = ("tar", "cp", "diff", "bash")
NON_ROOT_NOTE = (
    "running as non-root: tar -x, cp -a, restic and borg do not preserve file ownership "
    "or device nodes, so the peers do less work than a root restore would"
)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--tree", type=Path, help="measure this existing directory tree")
    which.add_argument("--debian", action="store_true", help="debootstrap a Debian root (root)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing, best kept")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="cache and scratch dir")
    parser.add_argument("--json-out", type=Path, help="also write the JSON result here")
    parser.add_argument("--seed", type=int, default=1, help="seed of the 1%% change sets")
    parser.add_argument("--no-install", action="store_true", help="never run apt-get")
    parser.add_argument(
        "--settle",
        type=float,
        default=300.0,
        help="seconds to leave between the previous run's cleanup and this run (default 300)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.tree is not None and not args.tree.is_dir():
        parser.error(f"--tree {args.tree}: not a directory")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = _utc_now()
    args.work.mkdir(parents=True, exist_ok=True)
    notes: list[str] = [] if os.geteuid() == 0 else [NON_ROOT_NOTE]
    for note in notes:
        log(f"note: {note}")
    missing = [tool for tool in REQUIRED_TOOLS if runner.output(["which", tool]) is None]
    if missing:
        log(f"error: required tools missing: {', '.join(missing)}")
        return 2
    installer = peers.Installer(allowed=not args.no_install)
    unavailable = _ensure_peers(installer, args.debian)
    source, kind = _choose_tree(args, notes)
    info = trees.describe(source, kind)
    log(f"tree {source}: {info.bytes / 1e6:.0f} MB, {info.files} files, {info.dirs} dirs")
    _wait_for_settling(args.work, args.settle)
    cpu_start = _cpu_sample()
    scratch = runner.Scratch(args.work)
    try:
        trees.warm_up(source)
        timings = peers.measure_all(source, scratch, args.repeat, unavailable, log)
        ami, errors = _measure_amiable(source, scratch, args, timings)
    finally:
        log("removing the scratch directory")
        scratch.close()
        (args.work / LAST_CLEANUP).write_text(f"{time.time()}\n")
    _note_other_load(cpu_start, _cpu_sample(), notes)
    result = _result(args, started, info, unavailable, notes, timings, ami, errors)
    _write(result, args.json_out)
    print(_markdown(result))
    return 1 if errors else 0


def _wait_for_settling(work: Path, settle: float) -> None:
    """Let the deletions of the previous run age out (see runner.Scratch) before measuring."""
    try:
        age = time.time() - float((work / LAST_CLEANUP).read_text())
    except (OSError, ValueError):
        return
    if age < settle:
        log(f"waiting {settle - age:.0f} s: the previous run's deletions slow file creation")
        time.sleep(settle - age)


def _cpu_sample() -> tuple[float, float, float]:
    """(wall clock, CPU seconds of the whole machine, CPU seconds of this benchmark)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    machine = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    ours = sum(
        usage.ru_utime + usage.ru_stime
        for usage in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )
    return time.monotonic(), machine, ours


def _note_other_load(
    start: tuple[float, float, float], end: tuple[float, float, float], notes: list[str]
) -> None:
    """Note how much CPU other processes took during the measurements (noisy timings)."""
    wall = end[0] - start[0]
    others = (end[1] - start[1]) - (end[2] - start[2])
    share = others / (wall * (os.cpu_count() or 1)) if wall > 0 else 0.0
    if share > 0.05:
        notes.append(
            f"other processes used {share:.0%} of the machine's CPU during the measurements "
            f"({others:.0f} CPU seconds in {wall:.0f} s): timings are noisy"
        )
        log(f"note: {notes[-1]}")


def _ensure_peers(installer: peers.Installer, debian: bool) -> dict[str, str]:
    unavailable: dict[str, str] = {}
    for tool in (*OPTIONAL_TOOLS, *(("debootstrap",) if debian else ())):
        reason = installer.ensure(tool)
        if reason:
            unavailable[tool] = reason
            log(f"{tool}: unavailable: {reason}")
    return unavailable


def _choose_tree(args: argparse.Namespace, notes: list[str]) -> tuple[Path, str]:
    if args.tree is not None:
        return args.tree.resolve(), "custom"
    if args.debian:
        log("debian: preparing the debootstrapped root (bookworm, minbase)")
        tree, how = trees.debian_tree(args.work)
        if tree is not None:
            return tree, "debian"
        notes.append(f"--debian skipped: {how}; measured the default tree instead")
        log(f"note: {notes[-1]}")
    log("default tree: building or reusing the cached /usr subset")
    return trees.default_tree(args.work), "default"


def _measure_amiable(
    source: Path, scratch: runner.Scratch, args: argparse.Namespace, timings: peers.Timings
) -> tuple[ami_runs.Context, list[str]]:
    ctx = ami_runs.Context(
        ami=ami_runs.Ami(),
        source=source,
        scratch=scratch,
        repeat=args.repeat,
        seed=args.seed,
        timings=timings,
    )
    errors: list[str] = []
    flows = [
        ("command start-up", ami_runs.startup_runs),
        ("cold snapshot, unchanged re-snapshot, restore", ami_runs.snapshot_restore_runs),
        ("1%-changed snapshot and copy", ami_runs.changed_and_copy_runs),
        ("five successive 1%-changed snapshots", ami_runs.five_snapshot_run),
    ]
    for label, flow in flows:
        log(f"amiable: {label}")
        trees.warm_up(source)
        try:
            flow(ctx)
        except (runner.CommandFailed, ami_runs.AmiOutputError, KeyError, TypeError) as exc:
            errors.append(f"{label}: {type(exc).__name__}: {exc}")
            log(f"amiable: {label} failed: {exc}")
        scratch.clear()
    return ctx, errors


def _result(
    args: argparse.Namespace,
    started: str,
    info: trees.TreeInfo,
    unavailable: dict[str, str],
    notes: list[str],
    timings: peers.Timings,
    ctx: ami_runs.Context,
    errors: list[str],
) -> dict[str, Any]:
    best = {name: min(runs) for name, runs in timings.runs.items() if runs}
    peak = ctx.ami.peak_mb or None
    goals = report.goal_rows(dict(best), ctx.results, peak)
    reference = report.reference_rows(dict(best)) + report.in_process_rows(ctx.results)
    return {
        "schema": 1,
        "started": started,
        "finished": _utc_now(),
        "repeat": args.repeat,
        "seed": args.seed,
        "machine": _machine(args.work),
        "tools": {**peers.versions(), "amiable": _amiable_version(), "ami": ctx.ami.base},
        "unavailable": unavailable,
        "tree": info.__dict__,
        "measurements": {
            name: {"seconds": best[name], "runs": runs, "max_rss_mb": timings.max_rss_mb.get(name)}
            for name, runs in timings.runs.items()
        },
        "peers": timings.extra,
        "amiable": {**ctx.results, "max_rss_mb": ctx.ami.max_rss_mb, "peak_rss_mb": peak},
        "goals": [row.as_json() for row in goals],
        "reference": [row.as_json() for row in reference],
        "all_goals_met": all(row.met for row in goals),
        "errors": errors,
        "notes": notes,
        "method": [
            "timings are wall-clock seconds, best of `repeat` runs, warm page cache; dirty pages "
            "are synced before each timed command and are not part of it (peers do not fsync)",
            "borg uses its default compression (lz4); restic 0.14+ compresses with zstd (auto)",
            "deleted trees are kept until the end of the run and the next run waits `--settle` "
            "seconds: on ext4 without a journal, recently deleted inodes make file creation "
            "several times slower for minutes",
        ],
    }


def _machine(work: Path) -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": _cpu_model(),
        "memory_mb": _memory_mb(),
        "kernel": platform.release(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "work_dir": str(work),
        "work_fs": runner.output(["stat", "-f", "-c", "%T", str(work)]),
        "root": os.geteuid() == 0,
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _memory_mb() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def _amiable_version() -> str | None:
    try:
        return metadata.version("amiable")
    except metadata.PackageNotFoundError:
        return None


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write(result: dict[str, Any], extra: Path | None) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = result["started"].replace("-", "").replace(":", "")
    paths = [RESULTS / f"store-{stamp}.json", *([extra] if extra else [])]
    text = json.dumps(result, indent=2, sort_keys=False) + "\n"
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        log(f"wrote {path}")


def _markdown(result: dict[str, Any]) -> str:
    tree, machine = result["tree"], result["machine"]
    goals = [report.Row(**_row_fields(row)) for row in result["goals"]]
    reference = [report.Row(**_row_fields(row)) for row in result["reference"]]
    header = (
        f"Tree: {tree['kind']}, {tree['bytes'] / 1e6:.0f} MB in {tree['files']} files and "
        f"{tree['dirs']} dirs; {machine['nproc']} cores, kernel {machine['kernel']}; "
        f"best of {result['repeat']}, warm page cache."
    )
    parts = [header, "", report.goals_table(goals), "", "Reference (same run):", ""]
    parts.append(report.reference_table(reference))
    messages = [*result["errors"], *result["unavailable"].values(), *result["notes"]]
    if messages:
        parts.append("")
        parts.extend(f"- {message}" for message in messages)
    return "\n".join(parts)


def _row_fields(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key not in ("ratio", "met")}


if __name__ == "__main__":
    sys.exit(main())
