"""Benchmark of `ami audit`: its metadata rules over bench/lifecycle.py's speed fleet, and
`--content` on a debootstrapped Debian image (needs root).

* Metadata: the fleet of bench/lifecycle.py's speed comparison, built the same way (its
  `speed_fleet`, once per run) on a fresh data home and served by `ami serve` on
  127.0.0.1: 3 regions × 3,000 images, 300 real instances, 200 launch templates.
  `ami --endpoint-url URL audit --regions us-east-1,eu-west-1,ap-southeast-2 --format
  json` with the default rules plus a rules file enabling `missing-tags` (`keys: [team,
  owner]`, so that it runs rather than skips). Wall time of the subprocess, the median of
  `--repeat` runs after one warm-up run (not counted); API calls counted at the server
  from its request log (bench/lifecycle.py's `calls_since`); findings; seconds per 1,000
  images. As an anchor, when it installs: Cloud Custodian (c7n, the venv
  bench/lifecycle.py installs) with an `aws.ami` policy of the filters `cross-account`
  and `image-age: {days: 180}` (`--dryrun --cache-period 0`), over the same regions,
  taking turns with the audit.
* Content (by default; `--no-debian` skips it): a Debian bookworm minbase root
  debootstrapped with bench/trees.py (cached under `--work`, as bench/bake.py's `--debian`
  does), imported (ImportImage) into a fresh data home, then `ami --home H audit
  --content --image-ids ID --format json --sbom-dir DIR` in-process on the home (no
  serve), and the same with `--vuln-db tests/data/osv`. That database is a small
  hand-made OSV directory of the tests (a handful of advisories), not Debian's: the rows
  say how long matching takes, not what bookworm is exposed to. Seconds of the whole
  audit (launch, scan through SSM, terminate), the median of `--repeat` runs after one
  warm-up round (not counted); packages
  in the SBOM; findings by rule.
Everything launched is terminated at the end and no process or mount may be left
(checked). Writes bench/results/audit-<UTC>.json and prints Markdown tables for
README.md. `--quick` builds a tenth of the fleet and runs each measure once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

import lifecycle
import report
import runner
from store import DEFAULT_WORK

RESULTS = Path(__file__).resolve().parent / "results"
OSV = lifecycle.TESTS / "data" / "osv"
REGIONS = lifecycle.REGIONS
CONTENT_REGION = REGIONS[0]
TAG_KEYS = ["team", "owner"]
RULES = {"rules": {"missing-tags": {"keys": TAG_KEYS}}}
C7N_POLICY = "ami-audit"
C7N_AGE_DAYS = 180  # `too-old`'s default max_age


def log(message: str) -> None:
    print(f"[bench-audit {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ami_head() -> list[str]:
    ami = Path(sys.executable).parent / "ami"
    return [str(ami)] if ami.exists() else [sys.executable, "-m", "amiable.cli"]


def audited(done: lifecycle.Done, what: str) -> dict[str, Any]:
    """The JSON report of an audit that ran (exit 0: no finding at --fail-on, 1: some)."""
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{what} exited {done.returncode}: {done.why()}")
    return dict(json.loads(done.stdout))


def by_rule(found: dict[str, Any]) -> dict[str, int]:
    return dict(Counter(f["rule"] for f in found["findings"]).most_common())


# ----------------------------------------------------------------------------- metadata


def custodian_policy(path: Path) -> Path:
    filters = [{"type": "cross-account"}, {"type": "image-age", "days": C7N_AGE_DAYS}]
    policy = {"name": C7N_POLICY, "resource": "aws.ami", "filters": filters}
    path.write_text(yaml.safe_dump({"policies": [policy]}))
    return path


def metadata(scratch: Path, args: argparse.Namespace, notes: list[str]) -> dict[str, Any]:
    """The fleet built once, then the audit (and Custodian) taking turns over it."""
    venv, c7n_version = None, None
    if not args.no_custodian:
        found, said = lifecycle.ensure_peer(args.work / "lifecycle", lifecycle.C7N)
        if found is None:
            notes.append(f"c7n unavailable: {said}")
            log(f"note: {notes[-1]}")
        else:
            venv, c7n_version = found, said
    build = lifecycle.speed_fleet(scratch, args.images, args.instances, args.templates)
    rules = scratch / "audit-rules.yaml"
    rules.write_text(yaml.safe_dump(RULES))
    c7n_policy = custodian_policy(scratch / "audit-c7n.yml")
    with lifecycle.served(scratch, "speed", build) as (server, fleet):
        log(f"fleet built in {fleet['build_seconds']:.0f} s, served on {server.url}")
        env = lifecycle.tool_env(scratch, server.url, REGIONS[0])
        argv = [*ami_head(), "--endpoint-url", server.url, "audit", "--regions"]
        argv += [",".join(REGIONS), "--rules", str(rules), "--format", "json"]
        tools: dict[str, Callable[[int], dict[str, Any]]] = {}

        def ami(n: int) -> dict[str, Any]:
            done = lifecycle.run_tool(server, argv, env)
            found = audited(done, "ami audit")
            return {
                "seconds": done.seconds,
                "exit_status": done.returncode,
                "calls": done.calls,
                "findings": len(found["findings"]),
                "findings_by_rule": by_rule(found),
                "summary": found["summary"],
            }

        tools["ami"] = ami
        if venv is not None:

            def custodian(n: int) -> dict[str, Any]:
                out = scratch / f"c7n-audit-{n}"
                c7n_argv = lifecycle.custodian_argv(venv, out, c7n_policy, REGIONS)
                done = lifecycle.checked(lifecycle.run_tool(server, c7n_argv, env), "custodian")
                flagged = sum(map(len, lifecycle.custodian_found(out).values()))
                return {"seconds": done.seconds, "calls": done.calls, "findings": flagged}

            tools["custodian"] = custodian
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in tools}
        for n in range(args.repeat + 1):
            for name, measure in tools.items():
                measured = measure(n)
                log(
                    f"round {n}{' (warm-up)' if n == 0 else ''}: {name} "
                    f"{measured['seconds']:.2f} s, {measured['calls']['requests']} calls, "
                    f"{measured['findings']} findings"
                )
                if n:
                    runs[name].append(measured)
    if fleet.get("leftovers"):
        notes.append(f"fleet: {len(fleet['leftovers'])} processes or mounts left behind")
    peers = {"custodian": {"package": lifecycle.C7N[0], "version": c7n_version}}
    return {
        "fleet": fleet,
        "rules": RULES,
        "custodian_policy": yaml.safe_load(c7n_policy.read_text()),
        "peers": peers,
        "runs": runs,
    }


def metadata_table(measured: dict[str, Any], repeat: int) -> str:
    regions = measured["fleet"]["regions"]
    images = sum(r["images"] for r in regions.values())
    instances = sum(r["instances"] for r in regions.values())
    templates = sum(r["templates"] for r in regions.values())
    runs = measured["runs"]
    anchor = lifecycle.median_of(runs.get("custodian", []))
    version = measured["peers"]["custodian"]["version"]
    names = {
        "ami": "`ami audit --format json` (default rules + `missing-tags`)",
        "custodian": f"Cloud Custodian {version}: `aws.ami`, `cross-account` + `image-age`, "
        "`--dryrun`",
    }
    lines = [
        f"| tool ({len(regions)} regions, {images:,} images, {instances} instances, "
        f"{templates} launch templates) | seconds (median of {repeat}) | s per 1,000 images "
        "| API calls | findings | ratio vs Custodian |",
        "|---|---|---|---|---|---|",
    ]
    for name, tool_runs in runs.items():
        seconds = lifecycle.median_of(tool_runs)
        calls = statistics.median(r["calls"]["requests"] for r in tool_runs)
        per_k = None if seconds is None else seconds / (images / 1000)
        ratio = "n/a" if seconds is None or not anchor else f"{seconds / anchor:.2f}×"
        lines.append(
            f"| {names[name]} | {report.seconds(seconds)} | {report.seconds(per_k)} "
            f"| {calls:,.0f} | {tool_runs[-1]['findings']:,} | {ratio} |"
        )
    lines += ["", "| tool | API calls of one run, by action |", "|---|---|"]
    for name, tool_runs in runs.items():
        actions = ", ".join(f"{a} {c:,}" for a, c in tool_runs[-1]["calls"]["by_action"].items())
        lines.append(f"| {names[name]} | {actions} |")
    if runs.get("ami"):
        found = ", ".join(f"{r} {c:,}" for r, c in runs["ami"][-1]["findings_by_rule"].items())
        lines += ["", f"`ami audit` findings by rule: {found or 'none'}."]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- content


def imported(ec2: Any, root: Path) -> tuple[str, float]:
    """`root` imported as an image (ImportImage): its id and the seconds it took."""
    from amiable.tools.waiting import quiet, wait_for_import

    started = time.perf_counter()
    task = ec2.import_image(DiskContainers=[{"Url": f"file://{root}"}])["ImportTaskId"]
    image_id = str(wait_for_import(ec2, task, quiet)["ImageId"])
    return image_id, time.perf_counter() - started


def content(scratch: Path, args: argparse.Namespace, notes: list[str]) -> dict[str, Any] | None:
    """The Debian image's content audits, without and with the OSV database; None
    (with a note) when the Debian root cannot be had."""
    import amiable
    import peers
    import trees
    from amiable.cloud.core.home import Cloud
    from api_helpers import terminate_all
    from instance_leaks import leftovers

    missing = peers.Installer(allowed=True).ensure("debootstrap")
    root, how = (None, missing) if missing else (None, "")
    if not missing:
        log("debian: preparing the debootstrapped root (bookworm, minbase)")
        args.work.mkdir(parents=True, exist_ok=True)
        root, how = trees.debian_tree(args.work)
    if root is None:
        notes.append(f"content rows missing: {how}")
        log(f"note: {notes[-1]}")
        return None
    folder = scratch / "content"
    home = folder / "home"
    cloud = Cloud(home)
    try:
        ec2 = amiable.Session(cloud=cloud, region=CONTENT_REGION).client("ec2")
        log(f"debian: importing {root} ({how})")
        image_id, import_seconds = imported(ec2, root)
    finally:
        cloud.close()
    log(f"debian: {image_id} imported in {import_seconds:.1f} s")
    variants = {"no_vuln_db": [], "osv": ["--vuln-db", str(OSV)]}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    try:
        for n in range(args.repeat + 1):
            for name, extra in variants.items():
                sboms = folder / f"sbom-{name}-{n}"
                argv = [*ami_head(), "--home", str(home), "--region", CONTENT_REGION, "audit"]
                argv += ["--content", "--image-ids", image_id, "--format", "json"]
                argv += ["--sbom-dir", str(sboms), *extra]
                measured = content_run(argv, sboms / f"{image_id}.cdx.json")
                log(
                    f"debian round {n}{' (warm-up)' if n == 0 else ''}: {name} "
                    f"{measured['seconds']:.2f} s, {measured['packages']} packages, "
                    f"findings {measured['findings_by_rule']}"
                )
                if n:
                    runs[name].append(measured)
    finally:
        cloud = Cloud(home)
        terminate_all(amiable.Session(cloud=cloud, region=CONTENT_REGION).client("ec2"))
        cloud.close()
        left = leftovers(folder)
        if left:
            notes.append(f"content: {len(left)} processes or mounts left behind")
    return {
        "root": how,
        "suite": trees.DEBIAN_SUITE,
        "image_id": image_id,
        "import_seconds": import_seconds,
        "vuln_db": str(OSV.relative_to(lifecycle.TESTS.parent)),
        "vuln_db_files": sorted(str(p.relative_to(OSV)) for p in OSV.rglob("*.json")),
        "runs": runs,
        "leftovers": left,
    }


def content_run(argv: list[str], sbom: Path) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=3600, check=False)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        lines = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise RuntimeError(f"ami audit --content exited {done.returncode}: {lines[-1:]}")
    found = json.loads(done.stdout)
    mine = [c for c in found["rules"] if c.get("needs") == "content"]
    skipped = Counter(s["rule"] for s in found["skipped"] if s["image_id"])
    components = json.loads(sbom.read_text()).get("components", []) if sbom.exists() else []
    return {
        "seconds": seconds,
        "exit_status": done.returncode,
        "packages": len(components),
        "findings": len(found["findings"]),
        "findings_by_rule": by_rule(found),
        "vulnerabilities": [
            v["id"]
            for f in found["findings"]
            if f["rule"] == "vulnerable-package"
            for v in f["evidence"]["vulnerabilities"]
        ],
        "content_findings": [
            {"rule": f["rule"], "severity": f["severity"], "message": f["message"][:300]}
            for f in found["findings"]
            if f["rule"] in {r["id"] for r in mine}
        ],
        "content_rules": len(mine),
        "skipped_by_rule": dict(skipped),
        "skip_reasons": sorted({s["reason"] for s in found["skipped"]}),
        "summary": found["summary"],
    }


def content_table(found: dict[str, Any], repeat: int) -> str:
    names = {
        "no_vuln_db": "`ami audit --content --sbom-dir DIR`",
        "osv": "… `--vuln-db tests/data/osv` (hand-made, a few advisories)",
    }
    lines = [
        f"| Debian {found['suite']} minbase image, one region | seconds (median of {repeat}) "
        "| packages (SBOM) | findings by rule |",
        "|---|---|---|---|",
    ]
    for name, runs in found["runs"].items():
        if not runs:
            continue
        seconds = statistics.median(r["seconds"] for r in runs)
        rules = ", ".join(f"{r} {c}" for r, c in runs[-1]["findings_by_rule"].items())
        lines.append(
            f"| {names[name]} | {report.seconds(seconds)} | {runs[-1]['packages']} "
            f"| {rules or 'none'} |"
        )
    lines.append(
        f"| (the import of the root, once) | {report.seconds(found['import_seconds'])} | | |"
    )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000, help="images per region")
    parser.add_argument("--instances", type=int, default=300, help="instances in all")
    parser.add_argument("--templates", type=int, default=200, help="launch templates in all")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measure, median kept")
    parser.add_argument("--quick", action="store_true", help="a tenth of the fleet, one run")
    parser.add_argument("--no-debian", action="store_true", help="skip the content audits")
    parser.add_argument("--no-metadata", action="store_true", help="skip the metadata audits")
    parser.add_argument("--no-custodian", action="store_true", help="no Cloud Custodian anchor")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="c7n, the Debian root")
    parser.add_argument("--json-out", type=Path, help="also write the JSON result here")
    args = parser.parse_args(argv)
    if args.quick:
        lifecycle.quick_fleet(args)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    unavailable = runner.sandbox_unavailable()
    if unavailable:
        log(f"skipped: {unavailable}")
        return 0
    started = dt.datetime.now(dt.UTC)
    notes: list[str] = []
    result: dict[str, Any] = {
        **report.header(started),
        "repeat": args.repeat,
        "counting": "request lines of `ami serve --log-level info`, one per request answered",
    }
    tables = []
    with tempfile.TemporaryDirectory(prefix="amiable-bench-audit-", dir="/var/tmp") as tmp:
        scratch = Path(tmp)
        if not args.no_metadata:
            result["metadata"] = measured = metadata(scratch, args, notes)
            tables.append(metadata_table(measured, args.repeat))
        if not args.no_debian:
            found = content(scratch, args, notes)
            result["content"] = found
            if found is not None:
                tables.append(content_table(found, args.repeat))
    result["seconds"] = (dt.datetime.now(dt.UTC) - started).total_seconds()
    result["notes"] = notes
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"audit-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(result, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2))
    log(f"wrote {out} ({result['seconds']:.0f} s in all)")
    print("\n\n".join(tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
