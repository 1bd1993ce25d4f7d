"""Benchmark of `ami lifecycle plan` against Cloud Custodian, and what Cloud Custodian,
aws-amicleaner and `ami lifecycle` each do with images in use (needs root).

Owns `make bench-lifecycle`. Each fleet is built in-process on a fresh data home, then
served by `ami serve` on 127.0.0.1, and every tool runs as a subprocess over that HTTP
endpoint (`ami --endpoint-url URL`, the peers with AWS_ENDPOINT_URL=URL, key `test`).
The peers are installed from PyPI into their own venvs under `--work`: c7n (Cloud
Custodian) and aws-amicleaner, pinned below.
* Speed: 3 regions × 3,000 images (10 families of 300, each family on its own imported
  busybox snapshot), 300 real instances (100 per region, 2 per image, one in 10
  stopped) and 200 launch templates (3 versions each, every version naming an older
  image; the default stays version 1). `ami lifecycle plan --json`, whose policy keeps
  the newest 3 of each family and deregisters the rest at once (`stages: {deprecate: 0d,
  deregister: 0d}`), against `custodian run --dryrun --cache-period 0` of an `aws.ami`
  policy with the filters `unused: true` and `image-age: {days: 0}` and the action
  `deregister`, over the same 3 regions. For reference: the plan with a staged policy
  (`disable: 7d, deregister: 30d`: nothing is due yet, so no image gets the per-image
  sharing check that a deregistration needs), and aws-amicleaner (`--keep-previous 3`,
  one run per region, answering "no"). Wall time of each command, the median of
  `--repeat` runs after one warm-up run of each (not counted), the tools taking turns.
  API calls are counted at the server: `ami serve` logs one line per request it answers
  (account, region, service:Action, status, milliseconds), and the lines a run added
  are its calls, per action, with the server's own milliseconds.
* Scenarios: one fleet in us-east-1 and eu-west-1 where each family has an old image
  (60 days, made with the cloud's clock moved back) used in one way (nothing, a running,
  a stopped or only a terminated instance, a launch template without an auto-scaling
  group, only a template's default version, an SSM parameter, another account's
  instance or launch template through sharing, a copy in the second region used there)
  and a newer image. Which images each tool would remove, and the reasons it gives:
  Custodian's resources.json (`image-age: {days: 30}`), aws-amicleaner's report
  (`--keep-previous 1`, answering "no": it deletes nothing), the plan's action.
Goal: the plan in at most 0.5× Custodian's time. Everything launched is terminated at
the end and no process or mount may be left (checked). Writes
bench/results/lifecycle-<UTC>.json and prints Markdown tables for README.md and
docs/lifecycle-comparison.md. `--quick` builds a tenth of the speed fleet, one run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

import report
import runner
from store import DEFAULT_WORK

RESULTS = Path(__file__).resolve().parent / "results"
TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path[:0] = [str(TESTS), str(TESTS / "e2e")]
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
SCENARIO_REGIONS = REGIONS[:2]
FAMILIES = 10
KEEP_NEWEST = 3
TEMPLATE_VERSIONS = 3
PER_IMAGE = 2  # instances launched from each image in use
STOPPED_EVERY = 10  # one instance in 10 is stopped
GOAL = 0.5
C7N = ("c7n", "0.9.53")
AMICLEANER = ("aws-amicleaner", "0.2.2")
WAIT = {"Delay": 0.2, "MaxAttempts": 3000}
OLD = timedelta(days=60)
C7N_POLICY = "ami-unused"
NOW = {"deprecate": "0d", "deregister": "0d"}  # every image out of the keep set goes now
STAGED = {"deprecate": "0d", "disable": "7d", "deregister": "30d"}  # nothing destructive yet
REQUEST = re.compile(r"^\S+ INFO (\S+) (\S+) (\S+):(\S+) (\d{3}) ([\d.]+) ms(?: (\S+))?$", re.M)
AMI_ROW = re.compile(r"^\|\s*(ami-[0-9a-f]+)\s*\|", re.M)
RESOURCE_ID = re.compile(r"\b(i|lt|ami)-[0-9a-f]{8,17}\b")
DEFAULT_KEY, OTHER_KEY = ("test", "test"), ("AKIAOTHER", "other-secret")


def log(message: str) -> None:
    print(f"[bench-lifecycle {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- the tools


@dataclass(frozen=True)
class Done:
    """One finished tool run: its wall time, exit status, output and the calls it made."""

    seconds: float
    returncode: int
    stdout: str
    stderr: str
    calls: dict[str, Any]

    def why(self) -> str:
        lines = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return lines[-1][:300] if lines else f"exit status {self.returncode}"


def ensure_peer(work: Path, package: tuple[str, str]) -> tuple[Path | None, str]:
    """A venv under `work` with `package` pinned (pip from PyPI): (venv, version), or
    (None, why it cannot be had)."""
    name, version = package
    venv = work / f"{name}-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        log(f"installing {name}=={version} into {venv}")
        made = subprocess.run(
            [sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True
        )
        if made.returncode != 0:
            return None, f"python -m venv failed: {made.stderr.strip()[-200:]}"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    done = subprocess.run([*pip, f"{name}=={version}"], capture_output=True, text=True)
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if not ln.startswith("WARNING")]
        return None, f"pip install {name}=={version} failed: {' / '.join(lines[-2:])}"
    return venv, version


def tool_env(scratch: Path, url: str, region: str) -> dict[str, str]:
    """Our environment less any AWS or amiable setting, plus the endpoint and the
    built-in key: the tools find nothing else (no profile, no config, no cache)."""
    home = scratch / "tool-home"
    home.mkdir(exist_ok=True)
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AMI_"))}
    return {
        **kept,
        "HOME": str(home),
        "TERM": "dumb",
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": DEFAULT_KEY[0],
        "AWS_SECRET_ACCESS_KEY": DEFAULT_KEY[1],
        "AWS_DEFAULT_REGION": region,
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "AMI_STATE_DIR": str(scratch / "ami-state"),
    }


def calls_since(server: Any, mark: int) -> dict[str, Any]:
    """The requests `ami serve` logged after offset `mark` of its log: how many, per
    service:Action, the errors, and the server's milliseconds."""
    by_action: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    ms: dict[str, float] = {}
    for found in REQUEST.finditer(server.output()[mark:]):
        action = f"{found[3]}:{found[4]}"
        by_action[action] += 1
        ms[action] = ms.get(action, 0.0) + float(found[6])
        if found[7]:
            errors[f"{action} {found[7]}"] += 1
    return {
        "requests": sum(by_action.values()),
        "by_action": dict(by_action.most_common()),
        "errors": dict(errors),
        "server_ms": round(sum(ms.values()), 1),
        "server_ms_by_action": {a: round(v, 1) for a, v in sorted(ms.items(), key=lambda x: -x[1])},
    }


def run_tool(server: Any, argv: list[str], env: dict[str, str], answer: str = "") -> Done:
    """Run one tool to its end over the server, timed; its calls are the request
    lines the server logged meanwhile (each is written before its answer is sent)."""
    mark = len(server.output())
    started = time.perf_counter()
    done = subprocess.run(
        argv, input=answer, capture_output=True, text=True, env=env, timeout=3600, check=False
    )
    seconds = time.perf_counter() - started
    return Done(seconds, done.returncode, done.stdout, done.stderr, calls_since(server, mark))


def ami_argv(url: str, policy: Path) -> list[str]:
    ami = Path(sys.executable).parent / "ami"
    head = [str(ami)] if ami.exists() else [sys.executable, "-m", "amiable.cli"]
    return [*head, "--endpoint-url", url, "lifecycle", "plan", str(policy), "--json"]


def custodian_argv(venv: Path, out: Path, policy: Path, regions: tuple[str, ...]) -> list[str]:
    where = [arg for region in regions for arg in ("--region", region)]
    run = [str(venv / "bin" / "custodian"), "run", "--dryrun", "--cache-period", "0"]
    return [*run, "-s", str(out), *where, str(policy)]


def custodian_policy(path: Path, days: int) -> Path:
    filters = [{"type": "unused", "value": True}, {"type": "image-age", "days": days}]
    policy = {"name": C7N_POLICY, "resource": "aws.ami", "filters": filters}
    path.write_text(yaml.safe_dump({"policies": [{**policy, "actions": ["deregister"]}]}))
    return path


def custodian_found(out: Path) -> dict[str, set[str]]:
    """Region -> the image ids Custodian would deregister (its resources.json)."""
    found: dict[str, set[str]] = {}
    for path in out.rglob("resources.json"):
        region = next((part for part in path.parts if part in REGIONS), "?")
        found.setdefault(region, set()).update(r["ImageId"] for r in json.loads(path.read_text()))
    return found


def amicleaner_argv(venv: Path, prefixes: list[str], keep: int) -> list[str]:
    mapping = ["--mapping-key", "name", "--mapping-values", *prefixes]
    keeping = ["--keep-previous", str(keep), "--full-report"]
    return [str(venv / "bin" / "amicleaner"), *mapping, *keeping]


def plan_actions(done: Done) -> dict[tuple[str, str], dict[str, Any]]:
    """(region, image id) -> the plan's decision."""
    return {(d["region"], d["image_id"]): d for d in json.loads(done.stdout)["images"]}


# ----------------------------------------------------------------------------- fleets


@contextmanager
def served(scratch: Path, name: str, build: Callable[[Any], dict[str, Any]]) -> Iterator[Any]:
    """A fresh data home with account 222222222222 besides the default one, `build`
    run on it in-process, then served by `ami serve` on loopback. Yields (server,
    what build returned); at the end every instance of both accounts is terminated,
    the server stopped, and what is left running or mounted is killed and noted."""
    from serving import start_server

    import amiable
    from api_helpers import OTHER, cloud_with_other_account, terminate_all
    from instance_leaks import leftovers

    folder = scratch / name
    cloud = cloud_with_other_account(folder / "home")
    try:
        started = time.perf_counter()
        built = build(cloud)
        built["build_seconds"] = time.perf_counter() - started
    except BaseException:
        for account in ("000000000000", OTHER):
            for region in REGIONS:
                terminate_all(
                    amiable.Session(cloud=cloud, account=account, region=region).client("ec2")
                )
        cloud.close()
        raise
    cloud.close()
    server = start_server(folder / "home")
    try:
        yield server, built
    finally:
        log(f"{name}: terminating every instance")
        for key, secret in (DEFAULT_KEY, OTHER_KEY):
            for region in REGIONS:
                terminate_all(server.client("ec2", key=key, secret=secret, region=region))
        server.stop()
        built["leftovers"] = leftovers(folder)
        if built["leftovers"]:
            log(f"{name}: left behind (killed): {len(built['leftovers'])}")


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if n < total % parts else 0) for n in range(parts)]


def launch(ec2: Any, image: str, count: int) -> list[str]:
    reservation = ec2.run_instances(ImageId=image, MinCount=count, MaxCount=count)
    return [i["InstanceId"] for i in reservation["Instances"]]


def wait_for(ec2: Any, waiter: str, ids: list[str]) -> None:
    for start in range(0, len(ids), 100):
        ec2.get_waiter(waiter).wait(InstanceIds=ids[start : start + 100], WaiterConfig=WAIT)


def speed_fleet(scratch: Path, images: int, instances: int, templates: int) -> Callable:
    """What builds the speed fleet: per region `images` images in FAMILIES families
    registered in turns, the newest KEEP_NEWEST of each family left unused; instances
    and launch templates on random older ones."""
    import amiable
    from api_helpers import imported_snapshot, register
    from busybox import busybox_root

    def build(cloud: Any) -> dict[str, Any]:
        root = busybox_root(scratch / "busybox-root")
        rng = random.Random(11)
        made: dict[str, Any] = {"regions": {}}
        for region, launches, lts in zip(
            REGIONS, split(instances, len(REGIONS)), split(templates, len(REGIONS)), strict=True
        ):
            log(f"speed fleet: {region}: {images} images, {launches} instances, {lts} templates")
            ec2 = amiable.Session(cloud=cloud, region=region).client("ec2")
            snapshots = [imported_snapshot(ec2, root) for _ in range(FAMILIES)]
            older: list[str] = []
            per_family = math.ceil(images / FAMILIES)
            made_here = 0
            for n in range(per_family):
                for family in range(FAMILIES):
                    if made_here == images:
                        break
                    image = register(ec2, snapshots[family], f"app{family}-{n:04d}")
                    made_here += 1
                    if n < per_family - KEEP_NEWEST:
                        older.append(image)
            template_images: set[str] = set()
            for t in range(lts):
                chosen = rng.sample(older, TEMPLATE_VERSIONS)
                template_images.update(chosen)
                lt = ec2.create_launch_template(
                    LaunchTemplateName=f"app-{t:03d}", LaunchTemplateData={"ImageId": chosen[0]}
                )["LaunchTemplate"]["LaunchTemplateId"]
                for image in chosen[1:]:
                    ec2.create_launch_template_version(
                        LaunchTemplateId=lt, LaunchTemplateData={"ImageId": image}
                    )
            ids: list[str] = []
            used = rng.sample(older, math.ceil(launches / PER_IMAGE))
            for image in used:
                ids += launch(ec2, image, min(PER_IMAGE, launches - len(ids)))
            wait_for(ec2, "instance_running", ids)
            stopped = ids[::STOPPED_EVERY]
            if stopped:
                ec2.stop_instances(InstanceIds=stopped)
                wait_for(ec2, "instance_stopped", stopped)
            made["regions"][region] = {
                "images": made_here,
                "instances": len(ids),
                "stopped": len(stopped),
                "templates": lts,
                "images_of_instances": len(used),
                "images_of_templates": len(template_images),
                "images_in_use": len(template_images | set(used)),
            }
        return made

    return build


@dataclass(frozen=True)
class Scenario:
    code: str  # the family's name prefix (aws-amicleaner groups on it)
    title: str
    in_use: bool


SCENARIOS = (
    Scenario("sc01-unused", "nothing uses it", False),
    Scenario("sc02-running", "a running instance", True),
    Scenario("sc03-stopped", "a stopped instance", True),
    Scenario("sc04-terminated", "only a terminated instance", False),
    Scenario("sc05-template", "a launch template, no auto-scaling group", True),
    Scenario("sc06-default", "only a launch template's default version (v1 of 22)", True),
    Scenario("sc07-parameter", "an SSM parameter (data type aws:ec2:image)", True),
    Scenario("sc08-shared-instance", "shared: another account's instance", True),
    Scenario("sc09-shared-template", "shared: another account's launch template", True),
    Scenario("sc10-copy", "copied to eu-west-1, only the copy used (an instance there)", False),
)
COPY = SCENARIOS[-1]


def scenario_fleet(scratch: Path) -> Callable:
    """What builds the scenario fleet: `<code>-old` (60 days old) used as its scenario
    says, and `<code>-new`; the copy scenario's two images also copied to eu-west-1."""
    import amiable
    from api_helpers import OTHER, imported_snapshot, register, terminate
    from busybox import busybox_root

    def build(cloud: Any) -> dict[str, Any]:
        log("scenario fleet")
        here, there = SCENARIO_REGIONS
        session = amiable.Session(cloud=cloud, region=here)
        ec2, ssm = session.client("ec2"), session.client("ssm")
        far = amiable.Session(cloud=cloud, region=there).client("ec2")
        other = amiable.Session(cloud=cloud, account=OTHER, region=here).client("ec2")
        snapshot = imported_snapshot(ec2, busybox_root(scratch / "scenario-root"))
        images: dict[tuple[str, str], str] = {}
        for age, suffix in ((-OLD, "old"), (OLD, "new")):
            cloud.clock.advance(age)  # the old images are made 60 days ago
            for scenario in SCENARIOS:
                name = f"{scenario.code}-{suffix}"
                images[here, name] = register(ec2, snapshot, name)
                if scenario is COPY:
                    copy = far.copy_image(
                        SourceImageId=images[here, name], SourceRegion=here, Name=name
                    )["ImageId"]
                    far.get_waiter("image_available").wait(ImageIds=[copy], WaiterConfig=WAIT)
                    images[there, name] = copy

        def old(code: str) -> str:
            return images[here, f"{code}-old"]

        running = launch(ec2, old("sc02-running"), 1)
        stopped = launch(ec2, old("sc03-stopped"), 1)
        gone = launch(ec2, old("sc04-terminated"), 1)
        wait_for(ec2, "instance_running", running + stopped + gone)
        ec2.stop_instances(InstanceIds=stopped)
        wait_for(ec2, "instance_stopped", stopped)
        terminate(ec2, gone)
        ec2.create_launch_template(
            LaunchTemplateName="sc05", LaunchTemplateData={"ImageId": old("sc05-template")}
        )
        lt = ec2.create_launch_template(
            LaunchTemplateName="sc06", LaunchTemplateData={"ImageId": old("sc06-default")}
        )["LaunchTemplate"]["LaunchTemplateId"]
        for _ in range(21):  # newer versions, beyond the default version-depth of 20
            ec2.create_launch_template_version(
                LaunchTemplateId=lt,
                LaunchTemplateData={"ImageId": images[here, "sc06-default-new"]},
            )
        ssm.put_parameter(
            Name="/sc07/image", Value=old("sc07-parameter"), Type="String", DataType="aws:ec2:image"
        )
        for code in ("sc08-shared-instance", "sc09-shared-template"):
            ec2.modify_image_attribute(
                ImageId=old(code), LaunchPermission={"Add": [{"UserId": OTHER}]}
            )
        theirs = launch(other, old("sc08-shared-instance"), 1)
        other.create_launch_template(
            LaunchTemplateName="sc09", LaunchTemplateData={"ImageId": old("sc09-shared-template")}
        )
        copied = launch(far, images[there, f"{COPY.code}-old"], 1)
        wait_for(other, "instance_running", theirs)
        wait_for(far, "instance_running", copied)
        return {"images": {f"{r}/{n}": i for (r, n), i in images.items()}}

    return build


# ----------------------------------------------------------------------------- speed


def speed(
    scratch: Path, peers: dict[str, Any], args: argparse.Namespace, notes: list[str]
) -> dict[str, Any]:
    build = speed_fleet(scratch, args.images, args.instances, args.templates)
    with served(scratch, "speed", build) as (server, fleet):
        log(f"speed fleet built in {fleet['build_seconds']:.0f} s, served on {server.url}")
        policy = scratch / "speed-policy.yaml"
        policy.write_text(yaml.safe_dump(speed_policy(), sort_keys=False))
        c7n_policy = custodian_policy(scratch / "speed-c7n.yml", 0)
        env = tool_env(scratch, server.url, REGIONS[0])
        tools: dict[str, Callable[[int], tuple[float, dict[str, Any], int]]] = {}

        def ami(n: int) -> tuple[float, dict[str, Any], int]:
            done = checked(run_tool(server, ami_argv(server.url, policy), env), "ami")
            actions = Counter(d["action"] for d in json.loads(done.stdout)["images"])
            return done.seconds, done.calls, actions["deregister"]

        tools["ami"] = ami
        staged = scratch / "speed-policy-staged.yaml"
        staged.write_text(yaml.safe_dump(speed_policy(STAGED), sort_keys=False))

        def ami_staged(n: int) -> tuple[float, dict[str, Any], int]:
            done = checked(run_tool(server, ami_argv(server.url, staged), env), "ami (staged)")
            actions = Counter(d["action"] for d in json.loads(done.stdout)["images"])
            return done.seconds, done.calls, actions["deregister"]

        tools["ami_staged"] = ami_staged
        if peers["custodian"]["venv"]:
            venv = Path(peers["custodian"]["venv"])

            def custodian(n: int) -> tuple[float, dict[str, Any], int]:
                out = scratch / f"c7n-out-{n}"
                argv = custodian_argv(venv, out, c7n_policy, REGIONS)
                done = checked(run_tool(server, argv, env), "custodian")
                return done.seconds, done.calls, sum(map(len, custodian_found(out).values()))

            tools["custodian"] = custodian
        if peers["amicleaner"]["venv"]:
            cleaner = Path(peers["amicleaner"]["venv"])
            prefixes = [f"app{f}-" for f in range(FAMILIES)]

            def amicleaner(n: int) -> tuple[float, dict[str, Any], int]:
                seconds, calls, found, server_ms = 0.0, Counter[str](), 0, 0.0
                for region in REGIONS:
                    argv = amicleaner_argv(cleaner, prefixes, KEEP_NEWEST)
                    regional = tool_env(scratch, server.url, region)
                    done = checked(run_tool(server, argv, regional, "n\n"), "aws-amicleaner")
                    seconds += done.seconds
                    calls.update(done.calls["by_action"])
                    server_ms += done.calls["server_ms"]
                    found += len(AMI_ROW.findall(done.stdout))
                merged = {
                    "requests": sum(calls.values()),
                    "by_action": dict(calls.most_common()),
                    "server_ms": round(server_ms, 1),
                }
                return seconds, merged, found

            tools["amicleaner"] = amicleaner
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in tools}
        for n in range(args.repeat + 1):
            for name, measure in tools.items():
                seconds, calls, deregistered = measure(n)
                log(
                    f"round {n}{' (warm-up)' if n == 0 else ''}: {name} {seconds:.2f} s, "
                    f"{calls['requests']} calls, would deregister {deregistered}"
                )
                if n:
                    runs[name].append(
                        {"seconds": seconds, "calls": calls, "would_deregister": deregistered}
                    )
    if fleet.get("leftovers"):
        notes.append(f"speed fleet: {len(fleet['leftovers'])} processes or mounts left behind")
    policies = {"ami": speed_policy(), "ami_staged": speed_policy(STAGED)}
    return {"fleet": fleet, "policies": policies, "runs": runs}


def speed_policy(stages: dict[str, str] = NOW) -> dict[str, Any]:
    return {
        "regions": list(REGIONS),
        "families": [
            {
                "name": f"app{f}",
                "select": {"name": f"app{f}-*"},
                "keep": {"newest": KEEP_NEWEST},
                "stages": stages,
            }
            for f in range(FAMILIES)
        ],
    }


def checked(done: Done, tool: str) -> Done:
    if done.returncode != 0:
        raise RuntimeError(f"{tool} exited {done.returncode}: {done.why()}")
    return done


def median_of(runs: list[dict[str, Any]]) -> float | None:
    return statistics.median(r["seconds"] for r in runs) if runs else None


def speed_rows(measured: dict[str, Any], peers: dict[str, Any]) -> list[report.Row]:
    runs = measured["runs"]
    anchor = median_of(runs.get("custodian", []))
    label = f"Cloud Custodian: {report.seconds(anchor)}"
    value = median_of(runs["ami"])
    return [
        report.Row("plan", "ami lifecycle plan", value, report.seconds(value), anchor, label, GOAL)
    ]


def speed_table(measured: dict[str, Any], peers: dict[str, Any], repeat: int) -> str:
    fleet, runs = measured["fleet"], measured["runs"]
    regions = fleet["regions"]
    images = sum(r["images"] for r in regions.values())
    instances = sum(r["instances"] for r in regions.values())
    templates = sum(r["templates"] for r in regions.values())
    anchor = median_of(runs.get("custodian", []))
    names = {
        "ami": "`ami lifecycle plan --json`",
        "ami_staged": "(reference) the plan, staged: `deregister: 30d`, nothing due yet",
        "custodian": f"Cloud Custodian {peers['custodian']['version']}: `unused` + `image-age`, "
        "`--dryrun`",
        "amicleaner": f"aws-amicleaner {peers['amicleaner']['version']} (a run per region, "
        "answers no)",
    }
    lines = [
        f"| tool ({len(regions)} regions, {images:,} images, {instances} instances, "
        f"{templates} launch templates) | seconds (median of {repeat}) | API calls "
        "| would deregister | ratio vs Custodian | goal | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, tool_runs in runs.items():
        seconds = median_of(tool_runs)
        calls = statistics.median(r["calls"]["requests"] for r in tool_runs)
        ratio = seconds / anchor if seconds is not None and anchor else None
        goal, met = ("—", "—")
        if name == "ami":
            goal = f"≤ {GOAL}×"
            met = "n/a" if ratio is None else ("yes" if ratio <= GOAL else "**no**")
        lines.append(
            f"| {names[name]} | {report.seconds(seconds)} | {calls:,.0f} "
            f"| {tool_runs[-1]['would_deregister']:,} | "
            f"{'n/a' if ratio is None else f'{ratio:.2f}×'} | {goal} | {met} |"
        )
    lines += ["", "| tool | API calls of one run, by action |", "|---|---|"]
    for name, tool_runs in runs.items():
        actions = ", ".join(f"{a} {c:,}" for a, c in tool_runs[-1]["calls"]["by_action"].items())
        lines.append(f"| {names[name]} | {actions} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- scenarios


def scenarios(scratch: Path, peers: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """Per tool: (region/name) -> [verdict, reason], and the tool's calls."""
    with served(scratch, "scenarios", scenario_fleet(scratch)) as (server, fleet):
        images: dict[str, str] = fleet["images"]
        by_id = {(key.split("/")[0], image): key for key, image in images.items()}
        env = tool_env(scratch, server.url, SCENARIO_REGIONS[0])
        verdicts: dict[str, Any] = {}
        policy = scratch / "scenario-policy.yaml"
        policy.write_text(yaml.safe_dump(scenario_policy(), sort_keys=False))
        done = run_tool(server, ami_argv(server.url, policy), env)
        verdicts["ami"] = ami_verdicts(done, by_id)
        venv = peers["custodian"]["venv"]
        if venv:
            out = scratch / "c7n-scenarios"
            c7n_policy = custodian_policy(scratch / "scenario-c7n.yml", 30)
            argv = custodian_argv(Path(venv), out, c7n_policy, SCENARIO_REGIONS)
            done = run_tool(server, argv, env)
            verdicts["custodian"] = custodian_verdicts(done, out, images)
        else:
            verdicts["custodian"] = unavailable(peers["custodian"]["why"], images)
        venv = peers["amicleaner"]["venv"]
        if venv:
            verdicts["amicleaner"] = amicleaner_verdicts(server, scratch, Path(venv), images)
        else:
            verdicts["amicleaner"] = unavailable(peers["amicleaner"]["why"], images)
    if fleet.get("leftovers"):
        notes.append(f"scenario fleet: {len(fleet['leftovers'])} processes or mounts left behind")
    return {"fleet": fleet, "policy": scenario_policy(), "tools": verdicts}


def scenario_policy() -> dict[str, Any]:
    return {
        "regions": list(SCENARIO_REGIONS),
        "families": [
            {
                "name": s.code,
                "select": {"name": f"{s.code}-*"},
                "keep": {"newest": 1},
                "stages": {"deprecate": "0d", "deregister": "0d"},
            }
            for s in SCENARIOS
        ],
    }


def unavailable(why: str, images: dict[str, str]) -> dict[str, Any]:
    return {"runs": False, "why": why, "images": {k: ["not run", why] for k in images}}


def short(text: str) -> str:
    """Resource ids elided: `instance i-…`."""
    return RESOURCE_ID.sub(lambda m: f"{m[1]}-…", text)


def ami_verdicts(done: Done, by_id: dict[tuple[str, str], str]) -> dict[str, Any]:
    if done.returncode != 0:
        return {"runs": False, "why": done.why(), "calls": done.calls, "images": {}}
    found = {}
    for (region, image), decision in plan_actions(done).items():
        key = by_id.get((region, image))
        if key is None:
            continue
        action = decision["action"]
        reasons = "; ".join(decision["held_by"] or decision["kept_by"])
        if action in ("deregister", "disable"):
            found[key] = ["removed", f"{action}"]
        else:
            found[key] = ["kept", short(f"{action}: {reasons}" if reasons else action)]
    return {"runs": True, "calls": done.calls, "images": found}


def custodian_verdicts(done: Done, out: Path, images: dict[str, str]) -> dict[str, Any]:
    if done.returncode != 0:
        return {"runs": False, "why": done.why(), "calls": done.calls, "images": {}}
    found = custodian_found(out)
    verdicts = {}
    for key, image in images.items():
        region = key.split("/")[0]
        if image in found.get(region, set()):
            verdicts[key] = ["removed", "in resources.json: matched `unused` and `image-age`"]
        elif key.endswith("-new"):
            verdicts[key] = ["kept", "not in resources.json: younger than 30 days"]
        else:
            verdicts[key] = ["kept", "not in resources.json: `unused` filtered it out"]
    return {"runs": True, "calls": done.calls, "images": verdicts}


def amicleaner_verdicts(server: Any, scratch: Path, venv: Path, images: dict[str, str]) -> Any:
    """aws-amicleaner per region, answering no: the images of its full report would
    be removed; it names no reason for the others (it leaves out the images of the
    account's instances, then keeps the newest `--keep-previous` of each group)."""
    prefixes = [f"{s.code}-" for s in SCENARIOS]
    calls: Counter[str] = Counter()
    listed: dict[str, set[str]] = {}
    for region in SCENARIO_REGIONS:
        env = tool_env(scratch, server.url, region)
        done = run_tool(server, amicleaner_argv(venv, prefixes, 1), env, "n\n")
        calls.update(done.calls["by_action"])
        if done.returncode != 0 or "Traceback" in done.stderr:
            return {"runs": False, "why": f"does not run here: {done.why()}", "images": {}}
        listed[region] = set(AMI_ROW.findall(done.stdout))
    verdicts = {}
    for key, image in images.items():
        region = key.split("/")[0]
        if image in listed[region]:
            verdicts[key] = ["removed", "in its report of AMIs to be removed"]
        elif key.endswith("-new"):
            verdicts[key] = ["kept", "not in its report: `--keep-previous 1`"]
        else:
            verdicts[key] = ["kept", "not in its report: an instance of the account uses it"]
    merged = {"requests": sum(calls.values()), "by_action": dict(calls.most_common())}
    return {"runs": True, "calls": merged, "images": verdicts}


def scenario_rows() -> list[tuple[str, str, str, bool]]:
    """(region/name, used by, region, in use) for the old images, the copy in both."""
    here, there = SCENARIO_REGIONS
    rows = [(f"{here}/{s.code}-old", s.title, here, s.in_use) for s in SCENARIOS]
    rows[-1] = (f"{here}/{COPY.code}-old", "the original of a copy used in eu-west-1", here, False)
    rows.append((f"{there}/{COPY.code}-old", "the copy, used by an instance there", there, True))
    return rows


def cell(verdict: list[str] | None) -> str:
    if verdict is None:
        return "n/a"
    kind, reason = verdict
    word = {"removed": "**removed**", "kept": "kept"}.get(kind, kind)
    return f"{word}: {reason}" if reason else word


def scenario_table(found: dict[str, Any], peers: dict[str, Any]) -> str:
    tools = found["tools"]
    c7n, cleaner = peers["custodian"]["version"], peers["amicleaner"]["version"]
    lines = [
        f"| the old image (60 days) is used by | region | in use? | Cloud Custodian {c7n} "
        f"| aws-amicleaner {cleaner} | `ami lifecycle plan` |",
        "|---|---|---|---|---|---|",
    ]
    for key, title, region, in_use in scenario_rows():
        cells = [cell(tools[t]["images"].get(key)) for t in ("custodian", "amicleaner", "ami")]
        lines.append(f"| {title} | {region} | {'yes' if in_use else 'no'} | " + " | ".join(cells))
        lines[-1] += " |"
    newest = [k for k in found["fleet"]["images"] if k.endswith("-new")]
    summary = []
    for tool in ("custodian", "amicleaner", "ami"):
        verdicts = [tools[tool]["images"].get(k) for k in newest]
        removed = sum(1 for v in verdicts if v and v[0] == "removed")
        summary.append("n/a" if not tools[tool]["runs"] else f"{removed} of {len(newest)} removed")
    lines.append(f"| (the newer image of each family) | both | — | {' | '.join(summary)} |")
    wrong = {
        tool: sum(
            1
            for key, _, _, in_use in scenario_rows()
            if tools[tool]["runs"]
            and in_use
            and tools[tool]["images"].get(key, [""])[0] == "removed"
        )
        for tool in ("custodian", "amicleaner", "ami")
    }
    lines.append(
        "| **images in use it would remove** | | | "
        + " | ".join(f"**{wrong[t]}**" for t in ("custodian", "amicleaner", "ami"))
        + " |"
    )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main


def quick_fleet(args: argparse.Namespace) -> None:
    """--quick: a tenth of the fleet (still more than each family keeps), one run."""
    args.images, args.instances, args.templates = (
        max(FAMILIES * (KEEP_NEWEST + 1), args.images // 10),
        args.instances // 10,
        args.templates // 10,
    )
    args.repeat = 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000, help="images per region")
    parser.add_argument("--instances", type=int, default=300, help="instances in all")
    parser.add_argument("--templates", type=int, default=200, help="launch templates in all")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool, median kept")
    parser.add_argument("--quick", action="store_true", help="a tenth of the fleet, one run")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--speed", action="store_true", help="only the speed comparison")
    which.add_argument("--scenarios", action="store_true", help="only the scenarios")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="the peers' venvs")
    parser.add_argument("--json-out", type=Path, help="also write the JSON result here")
    args = parser.parse_args(argv)
    if args.quick:
        quick_fleet(args)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    unavailable = runner.sandbox_unavailable()
    if unavailable:
        log(f"skipped: {unavailable}")
        return 0
    started = dt.datetime.now(dt.UTC)
    notes: list[str] = []
    peers: dict[str, Any] = {}
    work = args.work / "lifecycle"
    work.mkdir(parents=True, exist_ok=True)
    for name, package in (("custodian", C7N), ("amicleaner", AMICLEANER)):
        venv, said = ensure_peer(work, package)
        peers[name] = {
            "package": package[0],
            "version": said if venv else None,
            "venv": str(venv) if venv else None,
            "why": None if venv else said,
        }
        if venv is None:
            notes.append(f"{package[0]} unavailable: {said}")
            log(f"note: {notes[-1]}")
    result: dict[str, Any] = {
        **report.header(started),
        "repeat": args.repeat,
        "peers": {k: {"package": v["package"], "version": v["version"]} for k, v in peers.items()},
        "counting": "request lines of `ami serve --log-level info`, one per request answered",
    }
    tables = []
    with tempfile.TemporaryDirectory(prefix="amiable-bench-lifecycle-", dir="/var/tmp") as tmp:
        scratch = Path(tmp)
        if not args.scenarios:
            measured = speed(scratch, peers, args, notes)
            goals = speed_rows(measured, peers)
            result["speed"] = measured
            result["goals"] = [r.as_json() for r in goals]
            tables.append(speed_table(measured, peers, args.repeat))
        if not args.speed:
            found = scenarios(scratch, peers, notes)
            result["scenarios"] = found
            tables.append(scenario_table(found, peers))
    result["notes"] = notes
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"lifecycle-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(result, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2))
    log(f"wrote {out}")
    print("\n\n".join(tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
