"""Benchmark of `ami bake` against a straight-line boto3 script doing the same work (needs root).

Owns `make bench-bake` (also run by `make bench`). Through in-process boto3 clients on a
fresh embedded home, from a busybox base image, with a recipe of 3 steps, 2 tests,
2 regions (us-east-1, eu-west-1, `verify: true`) and one shared account, in one run and
each the median of `--repeat` runs:
* the script: RunInstances from the base, the 3 steps through SSM, stop, CreateImage,
  RunInstances from the image and the 2 tests, terminate both, CopyImage to eu-west-1,
  then the launch permission and the snapshots' createVolumePermission in both regions
  (no journal, no cache, no clean-up script, no verification of the copy);
* a cold bake (a fresh home and state directory each time);
* an unchanged rebuild after it (a new version only: the content cache copies the image);
* the last step changed after that (the step cache serves steps 1-2);
* for reference, a cold bake with `verify: false`, on a fresh home.
The script's waiters poll every 0.01 s, the bake's first (shortest) delay between two
looks (tools/waiting.py's POLL_FIRST), so that it never waits longer than the bake does.
Goals: cold bake <= 1.3x the script; unchanged rebuild <= 0.15x and last step changed
<= 0.4x a cold bake. `--debian` adds a debootstrapped Debian base (bench/trees.py) with
a step installing a package with apt from the mirror and a last step writing a file: a
cold bake, an unchanged rebuild and the last step changed, in seconds. Writes
bench/results/bake-<UTC>.json and prints Markdown tables for README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import io
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

import report
import runner
from store import DEFAULT_WORK

RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
REGIONS = ("us-east-1", "eu-west-1")
POLL_DELAY = 0.01
WAIT = {"Delay": POLL_DELAY, "MaxAttempts": 30000}
STEPS = (
    "mkdir -p /srv/www && echo hello > /srv/www/greeting.txt && echo made it",
    "echo ok > /srv/www/health && echo second step",
    "echo last step > /srv/www/last",
)
CHANGED_LAST_STEP = "echo a new last step > /srv/www/last"
TESTS = {
    "greeting": "grep -q hello /srv/www/greeting.txt",
    "health": "test -s /srv/www/health",
}
DEBIAN_PACKAGE = "jq"
DEBIAN_STEP = (
    "export DEBIAN_FRONTEND=noninteractive && apt-get update -q "
    f"&& apt-get install -y -q --no-install-recommends {DEBIAN_PACKAGE}"
)
STAGE_DONE = re.compile(r"^    (.+): done in ([\d.]+) s$", re.MULTILINE)


def log(message: str) -> None:
    print(f"[bench-bake {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def fresh_home(scratch: Path, base_root: Path, base_name: str) -> Iterator[Any]:
    """A session on a new data home with account OTHER and `base_root` published as
    base image, its EC2 and SSM service models loaded."""
    import amiable
    from amiable.cloud.core.home import Cloud
    from api_helpers import OTHER, base_image, terminate_all

    home = Path(tempfile.mkdtemp(prefix="home-", dir=scratch))
    cloud = Cloud(home)
    session = amiable.Session(cloud=cloud)
    try:
        cloud.accounts.create(OTHER, "other", "AKIAOTHER", "other-secret")
        base_image(cloud, "us-east-1", base_root, base_name)
        for service in ("ec2", "ssm"):
            session.client(service)
        yield session
    finally:
        for region in REGIONS:
            terminate_all(session.client("ec2", region))
        cloud.close()
        shutil.rmtree(home)


@contextmanager
def steady_gc() -> Iterator[None]:
    """Collect, then freeze what is left, so that no full collection of the benchmark's
    long-lived heap (~0.1-0.3 s each, seen in profiles) lands inside a measurement."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def recipe_text(
    version: str,
    base: str,
    steps: tuple[str, ...],
    tests: dict[str, str],
    regions: tuple[str, ...],
    accounts: list[str],
    verify: bool = True,
) -> str:
    recipe = {
        "name": "web",
        "version": version,
        "base": {"owners": ["amazon"], "name": f"{base}-*"},
        "build": {"steps": [{"run": step} for step in steps]},
        "tests": [{"name": name, "run": command} for name, command in tests.items()],
        "image": {"name": "web-{{ version }}-{{ timestamp }}"},
        "distribute": {"regions": list(regions), "accounts": accounts, "verify": verify},
    }
    return yaml.safe_dump(recipe, sort_keys=False)


def timed_bake(session: Any, recipe: Path, state: Path, cache: dict[str, int]) -> dict[str, Any]:
    """One bake of `recipe`: its seconds and stage times; fails unless it published
    with these cache counts."""
    from amiable.tools.bake.baking import bake
    from amiable.tools.bake.pipeline import Options
    from amiable.tools.bake.progress import Reporter
    from amiable.tools.bake.recipe import Loaded
    from amiable.tools.bake.resources import Clouds

    stream = io.StringIO()
    with steady_gc():
        started = time.perf_counter()
        outcome = bake(
            Loaded(recipe, {}),
            Clouds(session.client),
            Options(build_region="us-east-1"),
            Reporter(stream),
            f"home:{session.cloud.home}",
            state,
        )
        seconds = time.perf_counter() - started
    found = outcome.manifest
    if found["status"] != "published" or found["cache"] != cache:
        raise RuntimeError(
            f"bake of {recipe}: status {found['status']}, cache {found['cache']} "
            f"(expected published, {cache})\n{stream.getvalue()}"
        )
    stages = [(title, float(s)) for title, s in STAGE_DONE.findall(stream.getvalue())]
    return {"seconds": seconds, "stages": stages}


def shell(ssm: Any, instance: str, command: str) -> None:
    sent = ssm.send_command(
        InstanceIds=[instance],
        DocumentName="AWS-RunShellScript",
        Parameters={"commands": [command]},
    )["Command"]
    ssm.get_waiter("command_executed").wait(
        CommandId=sent["CommandId"], InstanceId=instance, WaiterConfig=WAIT
    )
    done = ssm.get_command_invocation(CommandId=sent["CommandId"], InstanceId=instance)
    if done["Status"] != "Success":
        raise RuntimeError(f"{command!r} on {instance}: {done['Status']}")


def running_instance(ec2: Any, image: str) -> str:
    reservation = ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1)
    instance = str(reservation["Instances"][0]["InstanceId"])
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance], WaiterConfig=WAIT)
    return instance


def by_script(session: Any) -> float:
    """The bake's work done by hand with boto3; its seconds (clients made included)."""
    from api_helpers import OTHER

    started = time.perf_counter()
    ec2, ssm = session.client("ec2"), session.client("ssm")
    (base,) = ec2.describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["base-*"]}]
    )["Images"]
    build = running_instance(ec2, base["ImageId"])
    for step in STEPS:
        shell(ssm, build, step)
    ec2.stop_instances(InstanceIds=[build])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[build], WaiterConfig=WAIT)
    images = {"us-east-1": ec2.create_image(InstanceId=build, Name="script-web")["ImageId"]}
    ec2.get_waiter("image_available").wait(ImageIds=[images["us-east-1"]], WaiterConfig=WAIT)
    tester = running_instance(ec2, images["us-east-1"])
    for test in TESTS.values():
        shell(ssm, tester, test)
    ec2.terminate_instances(InstanceIds=[build, tester])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[build, tester], WaiterConfig=WAIT)
    far = session.client("ec2", "eu-west-1")
    images["eu-west-1"] = far.copy_image(
        SourceImageId=images["us-east-1"], SourceRegion="us-east-1", Name="script-web"
    )["ImageId"]
    far.get_waiter("image_available").wait(ImageIds=[images["eu-west-1"]], WaiterConfig=WAIT)
    for region, image in images.items():
        regional = ec2 if region == "us-east-1" else far
        regional.modify_image_attribute(
            ImageId=image, LaunchPermission={"Add": [{"UserId": OTHER}]}
        )
        (found,) = regional.describe_images(ImageIds=[image])["Images"]
        for mapping in found["BlockDeviceMappings"]:
            regional.modify_snapshot_attribute(
                SnapshotId=mapping["Ebs"]["SnapshotId"],
                Attribute="createVolumePermission",
                OperationType="add",
                UserIds=[OTHER],
            )
    return time.perf_counter() - started


def busybox_runs(scratch: Path, repeat: int) -> dict[str, list[dict[str, Any]]]:
    """Per repetition: the script on a fresh home; on another, a cold bake, the
    unchanged rebuild and the last step changed. A first round warms the process up
    (imports, the instance types' table) and is not counted."""
    from api_helpers import OTHER
    from busybox import busybox_root

    root = busybox_root(scratch / "busybox-root")
    runs: dict[str, list[dict[str, Any]]] = {
        "script": [],
        "cold": [],
        "unchanged": [],
        "last_step": [],
        "cold_unverified": [],
    }

    def write(recipe: Path, version: str, steps: tuple[str, ...], verify: bool = True) -> Path:
        recipe.write_text(recipe_text(version, "base", steps, TESTS, REGIONS, [OTHER], verify))
        return recipe

    for n in range(repeat + 1):
        this_round: dict[str, dict[str, Any]] = {}
        log(f"round {n}/{repeat}{' (warm-up, not counted)' if n == 0 else ''}")
        with fresh_home(scratch, root, "base-1") as session, steady_gc():
            this_round["script"] = {"seconds": by_script(session)}
        with fresh_home(scratch, root, "base-1") as session:
            folder = Path(tempfile.mkdtemp(prefix="bake-", dir=scratch))
            recipe, state = folder / "web.yaml", folder / "state"
            for kind, version, steps, cache in (
                ("cold", "1.0", STEPS, {"hits": 0, "misses": 3}),
                ("unchanged", "1.1", STEPS, {"hits": 3, "misses": 0}),
                ("last_step", "1.2", (*STEPS[:2], CHANGED_LAST_STEP), {"hits": 2, "misses": 1}),
            ):
                this_round[kind] = timed_bake(session, write(recipe, version, steps), state, cache)
        with fresh_home(scratch, root, "base-1") as session:
            folder = Path(tempfile.mkdtemp(prefix="bake-", dir=scratch))
            recipe = write(folder / "web.yaml", "1.0", STEPS, verify=False)
            misses = {"hits": 0, "misses": 3}
            this_round["cold_unverified"] = timed_bake(session, recipe, folder / "state", misses)
        log("  " + ", ".join(f"{kind} {r['seconds']:.2f} s" for kind, r in this_round.items()))
        for kind, measured in this_round.items():
            runs[kind] += [measured] if n else []
    return runs


def debian_runs(scratch: Path, work: Path) -> tuple[dict[str, Any], str | None]:
    """A cold bake and an unchanged rebuild on a debootstrapped Debian base, one region;
    ({}, why) when the base or the mirror is unavailable."""
    import peers
    import trees
    from amiable.tools.bake.errors import BakeFailed

    missing = peers.Installer(allowed=True).ensure("debootstrap")
    if missing:
        return {}, missing
    log("debian: preparing the debootstrapped root (bookworm, minbase)")
    work.mkdir(parents=True, exist_ok=True)
    root, how = trees.debian_tree(work)
    if root is None:
        return {}, how
    tests = {DEBIAN_PACKAGE: f"command -v {DEBIAN_PACKAGE}"}
    folder = Path(tempfile.mkdtemp(prefix="bake-debian-", dir=scratch))
    recipe, state = folder / "web.yaml", folder / "state"
    runs: dict[str, Any] = {}
    with fresh_home(scratch, root, "debian-1") as session:
        try:
            for kind, version, last, cache in (
                ("cold", "1.0", STEPS[2], {"hits": 0, "misses": 2}),
                ("unchanged", "1.1", STEPS[2], {"hits": 2, "misses": 0}),
                ("last_step", "1.2", CHANGED_LAST_STEP, {"hits": 1, "misses": 1}),
            ):
                log(f"debian: {kind} bake")
                steps = (DEBIAN_STEP, f"mkdir -p /srv/www && {last}")
                text = recipe_text(version, "debian", steps, tests, REGIONS[:1], [])
                recipe.write_text(text)
                runs[kind] = timed_bake(session, recipe, state, cache)
        except (BakeFailed, RuntimeError) as exc:
            return runs, f"the Debian bake failed: {str(exc).splitlines()[0]}"
    return runs, None


def median(runs: list[dict[str, Any]]) -> float | None:
    return statistics.median(r["seconds"] for r in runs) if runs else None


def timed_row(
    name: str,
    operation: str,
    value: float | None,
    anchor: float | None,
    label: str,
    limit: float | None,
) -> report.Row:
    text = f"{label}: {report.seconds(anchor)}"
    return report.Row(name, operation, value, report.seconds(value), anchor, text, limit)


def rows(
    runs: dict[str, list[dict[str, Any]]], debian: dict[str, Any], repeat: int
) -> tuple[list[report.Row], list[report.Row]]:
    """The three goals, and the Debian base in seconds (against the same run's bakes)."""
    script, cold = median(runs["script"]), median(runs["cold"])
    unchanged, last_step = median(runs["unchanged"]), median(runs["last_step"])
    of = f"median of {repeat}"
    goals = [
        timed_row("cold_bake", f"cold bake ({of})", cold, script, "boto3 script", 1.3),
        timed_row(
            "unchanged_rebuild",
            f"unchanged rebuild, new version only ({of})",
            unchanged,
            cold,
            "cold bake",
            0.15,
        ),
        timed_row(
            "last_step_changed", f"last step changed ({of})", last_step, cold, "cold bake", 0.4
        ),
    ]
    debian_cold = debian.get("cold", {}).get("seconds")
    apt = f"Debian base, apt installs {DEBIAN_PACKAGE}, then a last step"
    reference = [
        timed_row(
            "cold_bake_unverified",
            f"cold bake with `verify: false` ({of})",
            median(runs["cold_unverified"]),
            script,
            "boto3 script",
            None,
        ),
        timed_row("debian_cold", f"{apt}: cold bake", debian_cold, cold, "busybox cold bake", None),
        *(
            timed_row(
                f"debian_{kind}",
                f"{apt}: {what}",
                debian.get(kind, {}).get("seconds"),
                debian_cold,
                "Debian cold bake",
                None,
            )
            for kind, what in (
                ("unchanged", "unchanged rebuild"),
                ("last_step", "last step changed"),
            )
        ),
    ]
    return goals, reference


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measure, median kept")
    parser.add_argument("--debian", action="store_true", help="also bake on a Debian base")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="the cached Debian root")
    parser.add_argument("--json-out", type=Path, help="also write the JSON result here")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    unavailable = runner.sandbox_unavailable()
    if unavailable:
        log(f"skipped: {unavailable}")
        return 0
    started = dt.datetime.now(dt.UTC)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="amiable-bench-bake-", dir="/var/tmp") as scratch:
        runs = busybox_runs(Path(scratch), args.repeat)
        debian: dict[str, Any] = {}
        if args.debian:
            debian, why = debian_runs(Path(scratch), args.work)
            if why:
                notes.append(f"Debian rows missing: {why}")
                log(f"note: {notes[-1]}")
    goals, reference = rows(runs, debian, args.repeat)
    result = {
        **report.header(started),
        "repeat": args.repeat,
        "script_poll_seconds": POLL_DELAY,
        "runs": runs,
        "debian": debian if args.debian else None,
        "goals": [r.as_json() for r in goals],
        "reference": [r.as_json() for r in reference],
        "notes": notes,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bake-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(result, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2))
    log(f"wrote {out}")
    print(report.goals_table(goals))
    print()
    print(report.reference_table([r for r in reference if r.value is not None]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
