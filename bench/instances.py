"""Benchmark of instances: launch latency, CreateImage after a small change,
and many instances of one image (needs root).

Owns `make bench-instances` (also run by `make bench`). Through real boto3
clients on the embedded default:
* launch-to-running for images of 10 MB, 200 MB and 1 GB: the first launch
  on this host (the image's files are restored into the cache) and later
  launches (median of 5), from RunInstances to DescribeInstances saying
  `running`;
* CreateImage after changing 10 files of the 1 GB image, against a cold
  snapshot of the same tree (`ami store snapshot` into an empty store);
* 100 instances of one image: time to launch them all, and the disk they
  use (cache plus every instance's own layer) against the image's size;
* with `--debian` (the image `ami bootstrap debian` makes, debootstrapped once
  per machine under /var/tmp/amiable-tests): launch to SSH-ready, from
  RunInstances until an SSH login with the key pair succeeds (systemd boots,
  cloud-init takes the key from the metadata service), first and median of 3;
* with `--packer` (Debian's packer): `packer build` of tests/packer_template.py
  against `ami serve` and `ami bake` of a recipe with the same steps, base,
  regions, accounts and tags, both on amiable, one run each (both install a
  package from the mirror: its speed is in both).
Every instance has its own network (address, security groups, metadata
service). Goals: a later launch under 100 ms whatever the size; CreateImage
after a small change under 5% of the cold snapshot; 100 instances under 1.1x
the image's size on disk; SSH-ready under 2 s (EC2 takes tens of seconds);
`ami bake` under 0.5x `packer build`.
Writes bench/results/instances-<UTC>.json and prints a Markdown table for
README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import report
import runner

RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
MiB = 1024**2
WAIT = {"Delay": 0.2, "MaxAttempts": 3000}


def log(message: str) -> None:
    print(f"[bench-instances {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def image_tree(root: Path, size: int) -> Path:
    """A busybox tree with `size` bytes of files (1 MiB each, half compressible)."""
    from busybox import busybox_root

    busybox_root(root)
    data = root / "data"
    data.mkdir()
    for n in range(max(1, size // MiB)):
        half = os.urandom(MiB // 2)
        (data / f"f{n:05d}.bin").write_bytes(half + bytes(MiB // 2))
    return root


def imported(ec2: Any, root: Path, name: str) -> str:
    task = ec2.import_snapshot(DiskContainer={"Url": f"file://{root}"})["ImportTaskId"]
    ec2.get_waiter("snapshot_imported").wait(ImportTaskIds=[task], WaiterConfig=WAIT)
    detail = ec2.describe_import_snapshot_tasks(ImportTaskIds=[task])["ImportSnapshotTasks"][0]
    image = ec2.register_image(
        Name=name,
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[
            {
                "DeviceName": "/dev/xvda",
                "Ebs": {"SnapshotId": detail["SnapshotTaskDetail"]["SnapshotId"]},
            }
        ],
    )["ImageId"]
    return str(image)


def launch_seconds(ec2: Any, image: str, count: int = 1) -> tuple[float, list[str]]:
    """From RunInstances to every instance `running`, polled every 2 ms."""
    started = time.perf_counter()
    ids = [
        i["InstanceId"]
        for i in ec2.run_instances(ImageId=image, MinCount=count, MaxCount=count)["Instances"]
    ]
    while True:
        states = {
            i["State"]["Name"]
            for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
            for i in r["Instances"]
        }
        if states == {"running"}:
            return time.perf_counter() - started, ids
        if states & {"terminated", "stopped"}:
            raise RuntimeError(f"launch failed: {states}")
        time.sleep(0.002)


def terminate(ec2: Any, ids: list[str]) -> None:
    ec2.terminate_instances(InstanceIds=ids)
    ec2.get_waiter("instance_terminated").wait(InstanceIds=ids, WaiterConfig=WAIT)


def store_snapshot_of(session: Any, ec2: Any, image: str) -> str:
    """The store snapshot (and so the cache entry) behind an image's root."""
    from sqlalchemy import select

    from amiable.catalog.regional import snapshots

    mapping = ec2.describe_images(ImageIds=[image])["Images"][0]["BlockDeviceMappings"][0]
    with session.cloud.region("us-east-1").catalog.connect() as conn:
        return str(
            conn.execute(
                select(snapshots.c.store_snapshot).where(
                    snapshots.c.snapshot_id == mapping["Ebs"]["SnapshotId"]
                )
            ).scalar_one()
        )


def ssh_login(key: Path, address: str) -> bool:
    from debian_cloud import ssh

    return ssh(key, address, "true", timeout=1).returncode == 0


def ssh_ready_seconds(ec2: Any, image: str, key: Path, group: str) -> float:
    """From RunInstances until an SSH login with the key pair succeeds."""
    started = time.perf_counter()
    (instance,) = [
        i["InstanceId"]
        for i in ec2.run_instances(
            ImageId=image, MinCount=1, MaxCount=1, KeyName="bench", SecurityGroupIds=[group]
        )["Instances"]
    ]
    address = None
    while address is None:
        found = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
        address = found.get("PrivateIpAddress") if found["State"]["Name"] == "running" else None
        time.sleep(0.002)
    while not ssh_login(key, address):
        if time.perf_counter() - started > 120:
            raise RuntimeError("no SSH login within 120 s")
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    terminate(ec2, [instance])
    return seconds


def ssh_ready(session: Any, ec2: Any, base: Path) -> dict[str, Any]:
    """Launch to SSH-ready for the Debian image `ami bootstrap debian` makes."""
    from api_helpers import base_image
    from debian_cloud import debian_cloud_root, ssh_access

    log("debian: the image ami bootstrap debian makes (debootstrap once per machine)")
    image = base_image(session.cloud, "us-east-1", debian_cloud_root(), "bench-debian-cloud")
    key = base / "bench.pem"
    group = ssh_access(ec2, "bench", key)
    first = ssh_ready_seconds(ec2, image, key, group)
    later = [ssh_ready_seconds(ec2, image, key, group) for _ in range(3)]
    log(f"debian: SSH-ready first {first:.2f} s, later {later}")
    return {"first": first, "later_median": statistics.median(later), "later": later}


def packer_against_bake(base: Path) -> dict[str, Any]:
    """`packer build` of the test template through `ami serve`, and `ami bake`
    of the same steps, each on a fresh data home with the Debian base image."""
    import shutil

    import yaml

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))
    from serving import start_server

    from amiable.cloud.core.home import Cloud
    from api_helpers import OTHER, base_image
    from debian_cloud import debian_cloud_root
    from packer_template import (
        BASE_NAME,
        COPY_REGION,
        REGION,
        STEPS,
        TAGS,
        packer_environment,
        template,
    )

    if shutil.which("packer") is None:
        return {"skipped": "packer is not installed (apt-get install packer)"}

    def fresh(name: str) -> Path:
        home = base / name
        cloud = Cloud(home)
        cloud.accounts.create(OTHER, "other", "AKIAOTHER", "other-secret")
        base_image(cloud, REGION, debian_cloud_root(), BASE_NAME)
        cloud.close()
        return home

    home = fresh("packer-home")
    server = start_server(home)
    try:
        (base / "web.json").write_text(json.dumps(template(server.url)))
        log("packer: packer build (apt reaches the mirror)")
        started = time.perf_counter()
        runner.run(
            ["packer", "build", "-color=false", str(base / "web.json")],
            env=packer_environment(str(base)),
            cwd=base,
        )
        packer = time.perf_counter() - started
    finally:
        server.stop()
    recipe = {
        "name": "web",
        "version": "1",
        "base": {"owners": ["amazon"], "name": "debian-12-amd64-*"},
        "build": {"steps": [{"run": step} for step in STEPS]},
        "image": {"name": "web-{{ version }}-{{ timestamp }}", "tags": TAGS},
        "distribute": {"regions": [REGION, COPY_REGION], "accounts": [OTHER], "verify": False},
    }
    (base / "web.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    home = fresh("bake-home")
    log("packer: ami bake of the same steps")
    started = time.perf_counter()
    runner.run(
        [
            sys.executable,
            "-m",
            "amiable.cli",
            "bake",
            "run",
            "--home",
            str(home),
            str(base / "web.yaml"),
        ],
        cwd=base,
    )
    bake = time.perf_counter() - started
    log(f"packer: packer build {packer:.1f} s, ami bake {bake:.1f} s")
    return {"packer_seconds": packer, "bake_seconds": bake, "ratio": bake / packer}


def disk_bytes(path: Path) -> int:
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            full = os.path.join(directory, name)
            if not os.path.islink(full):
                total += os.lstat(full).st_blocks * 512
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,200,1024", help="image sizes in MiB")
    parser.add_argument("--fleet", type=int, default=100)
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--debian", action="store_true", help="also launch to SSH-ready")
    parser.add_argument("--packer", action="store_true", help="also packer build vs ami bake")
    args = parser.parse_args(argv)
    import amiable
    from amiable.store import Store

    unavailable = runner.sandbox_unavailable()
    if unavailable:
        log(f"skipped: {unavailable}")
        return 0
    result: dict[str, Any] = {
        **report.header(),
        "launch": {},
    }
    with tempfile.TemporaryDirectory(prefix="amiable-bench-inst-", dir="/var/tmp") as scratch:
        base = Path(scratch)
        session = amiable.Session(home=base / "home", region="us-east-1")
        ec2 = session.client("ec2")
        images: dict[int, tuple[str, Path]] = {}
        for size in [int(s) for s in args.sizes.split(",")]:
            log(f"image of {size} MiB")
            root = image_tree(base / f"tree-{size}", size * MiB)
            image = imported(ec2, root, f"bench-{size}")
            images[size] = (image, root)
            first, ids = launch_seconds(ec2, image)
            later = []
            for _ in range(5):
                seconds, more = launch_seconds(ec2, image)
                later.append(seconds)
                ids += more
            terminate(ec2, ids)
            result["launch"][f"{size}MiB"] = {
                "first": first,
                "later_median": statistics.median(later),
            }

        biggest = max(images)
        image, root = images[biggest]
        log(f"CreateImage after changing 10 files of the {biggest} MiB image")
        cold_store = Store.init(base / "cold-store")
        started = time.perf_counter()
        cold_store.snapshot(root)
        cold = time.perf_counter() - started
        ssm = amiable.Session(home=base / "home", region="us-east-1").client("ssm")
        _, (instance,) = launch_seconds(ec2, image)
        sent = ssm.send_command(
            InstanceIds=[instance],
            DocumentName="AWS-RunShellScript",
            Parameters={
                "commands": ["for n in 0 1 2 3 4 5 6 7 8 9; do echo $n > /data/f0000$n.bin; done"]
            },
        )["Command"]
        ssm.get_waiter("command_executed").wait(
            CommandId=sent["CommandId"], InstanceId=instance, WaiterConfig=WAIT
        )
        started = time.perf_counter()
        new = ec2.create_image(InstanceId=instance, Name="bench-changed", NoReboot=True)["ImageId"]
        while ec2.describe_images(ImageIds=[new])["Images"][0]["State"] != "available":
            time.sleep(0.005)
        create_image = time.perf_counter() - started
        terminate(ec2, [instance])
        result["create_image"] = {
            "seconds": create_image,
            "cold_snapshot_seconds": cold,
            "ratio": create_image / cold,
        }

        log(f"{args.fleet} instances of the {biggest} MiB image")
        region_dir = base / "home" / "regions" / "us-east-1"
        image_size = disk_bytes(root)
        started_fleet, ids = launch_seconds(ec2, image, args.fleet)
        cached = region_dir / "cache" / store_snapshot_of(session, ec2, image)
        used = disk_bytes(cached) + disk_bytes(region_dir / "instances")
        result["fleet"] = {
            "instances": args.fleet,
            "seconds": started_fleet,
            "disk_bytes": used,
            "image_bytes": image_size,
            "ratio": used / image_size,
        }
        terminate(ec2, ids)
        if args.debian:
            result["ssh_ready"] = ssh_ready(session, ec2, base)
        if args.packer:
            result["packer_vs_bake"] = packer_against_bake(base)
    result["goals"] = {
        **({"ssh_ready_under_2s": result["ssh_ready"]["later_median"] < 2} if args.debian else {}),
        **(
            {"bake_under_half_packer": result["packer_vs_bake"].get("ratio", 1) <= 0.5}
            if args.packer
            else {}
        ),
        "later_launch_under_100ms": all(v["later_median"] < 0.1 for v in result["launch"].values()),
        "create_image_under_5pct": result["create_image"]["ratio"] < 0.05,
        "fleet_under_1_1x": result["fleet"]["ratio"] < 1.1,
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"instances-{stamp}.json"
    out.write_text(json.dumps(result, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2))
    log(f"wrote {out}")
    print(table(result))
    return 0


def table(result: dict[str, Any]) -> str:
    lines = ["| measure | value | goal | met |", "|---|---|---|---|"]
    for size, figures in result["launch"].items():
        lines.append(f"| first launch, {size} image | {figures['first'] * 1000:.0f} ms | — | — |")
        met = "yes" if figures["later_median"] < 0.1 else "**no**"
        lines.append(
            f"| later launch, {size} image (median of 5) | "
            f"{figures['later_median'] * 1000:.0f} ms | < 100 ms | {met} |"
        )
    c = result["create_image"]
    lines.append(
        f"| CreateImage after 10 changed files vs cold snapshot | {c['seconds']:.2f} s vs "
        f"{c['cold_snapshot_seconds']:.2f} s ({c['ratio'] * 100:.1f}%) | < 5% | "
        f"{'yes' if c['ratio'] < 0.05 else '**no**'} |"
    )
    if "ssh_ready" in result:
        r = result["ssh_ready"]
        met = "yes" if r["later_median"] < 2 else "**no**"
        lines.append(
            f"| Debian (systemd, cloud-init): launch to SSH login, first / median of 3 | "
            f"{r['first']:.2f} s / {r['later_median']:.2f} s | < 2 s | {met} |"
        )
    if "ratio" in result.get("packer_vs_bake", {}):
        p = result["packer_vs_bake"]
        lines.append(
            f"| `ami bake` vs `packer build` of the same steps (Debian, apt from the mirror) | "
            f"{p['bake_seconds']:.1f} s vs {p['packer_seconds']:.1f} s ({p['ratio']:.2f}x) | "
            f"≤ 0.5x | {'yes' if p['ratio'] <= 0.5 else '**no**'} |"
        )
    f = result["fleet"]
    lines.append(
        f"| {f['instances']} instances of one image: time, disk vs image | {f['seconds']:.1f} s, "
        f"{f['ratio']:.3f}x | < 1.1x | {'yes' if f['ratio'] < 1.1 else '**no**'} |"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
