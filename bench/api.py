"""Benchmark of the EC2 API engine against moto's in-process mock, in one run.

Owns `make bench-api` (also run by `make bench`): the same workload through
real boto3 clients on both — register N images (default 5,000) and tag them,
then DescribeImages with a tag filter, a name wildcard, an image-id list and a
full paginated listing — and 16 concurrent HTTP clients against `ami serve`
(p50/p99 latency, requests/s). moto is installed for the benchmark only.
Writes bench/results/api-<UTC>.json and prints Markdown tables for README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3

import report

RESULTS = Path(__file__).resolve().parent / "results"
GOALS = {  # operation -> minimum speed-up over moto
    "register": 3.0,
    "describe_tag_filter": 5.0,
    "describe_name_wildcard": 5.0,
    "describe_id_list": 5.0,
    "describe_paginated": 3.0,
}


def log(message: str) -> None:
    print(f"[bench-api {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ensure_moto() -> None:
    try:
        import moto  # noqa: F401
    except ImportError:
        log("installing moto (for the benchmark only)")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "moto[ec2]"], check=True)


def best(repeat: int, work: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def workload(ec2: Any, snapshot_id: str, count: int, repeat: int) -> dict[str, float]:
    """The same calls on either engine; returns seconds per operation."""
    rng = random.Random(7)
    started = time.perf_counter()
    ids = []
    for n in range(count):
        image_id = ec2.register_image(
            Name=f"img-{n:05d}",
            RootDeviceName="/dev/xvda",
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot_id}}],
        )["ImageId"]
        role = "web" if n % 10 == 0 else "db"
        ec2.create_tags(Resources=[image_id], Tags=[{"Key": "Role", "Value": role}])
        ids.append(image_id)
    register = time.perf_counter() - started
    some = rng.sample(ids, 50)

    def tag_filter() -> None:
        found = ec2.describe_images(
            Owners=["self"], Filters=[{"Name": "tag:Role", "Values": ["web"]}]
        )
        assert len(found["Images"]) == count // 10, len(found["Images"])

    def name_wildcard() -> None:
        found = ec2.describe_images(
            Owners=["self"], Filters=[{"Name": "name", "Values": ["img-0001*"]}]
        )
        assert len(found["Images"]) == min(10, max(0, count - 10)), len(found["Images"])

    def id_list() -> None:
        assert len(ec2.describe_images(ImageIds=some)["Images"]) == 50

    def paginated() -> None:
        pages = ec2.get_paginator("describe_images").paginate(
            Owners=["self"], PaginationConfig={"PageSize": 1000}
        )
        assert sum(len(p["Images"]) for p in pages) == count

    return {
        "register": register,
        "describe_tag_filter": best(repeat, tag_filter),
        "describe_name_wildcard": best(repeat, name_wildcard),
        "describe_id_list": best(repeat, id_list),
        "describe_paginated": best(repeat, paginated),
    }


def run_moto(count: int, repeat: int) -> dict[str, float]:
    from moto import mock_aws

    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        volume = ec2.create_volume(Size=8, AvailabilityZone="us-east-1a")["VolumeId"]
        snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
        return workload(ec2, snapshot, count, repeat)


def imported_snapshot(ec2: Any, scratch: Path) -> str:
    root = scratch / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text("ID=bench\n")
    task = ec2.import_snapshot(DiskContainer={"Url": f"file://{root}"})["ImportTaskId"]
    ec2.get_waiter("snapshot_imported").wait(ImportTaskIds=[task], WaiterConfig={"Delay": 0.2})
    detail = ec2.describe_import_snapshot_tasks(ImportTaskIds=[task])["ImportSnapshotTasks"][0]
    return str(detail["SnapshotTaskDetail"]["SnapshotId"])


def run_amiable(home: Path, scratch: Path, count: int, repeat: int) -> dict[str, float]:
    import amiable

    ec2 = amiable.Session(home=home).client("ec2")
    return workload(ec2, imported_snapshot(ec2, scratch), count, repeat)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_load(home: Path, clients: int, per_client: int) -> dict[str, float]:
    """16 concurrent boto3 clients over HTTP against `ami serve` on this home."""
    port = free_port()
    server = subprocess.Popen(
        # --log-level warning: measure serving, not the request log
        [
            sys.executable,
            "-m",
            "amiable.cli",
            "serve",
            "--home",
            str(home),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("ami serve did not start") from None
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}"
        probe = boto3.client(
            "ec2",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        ids = [
            i["ImageId"] for i in probe.describe_images(Owners=["self"], MaxResults=1000)["Images"]
        ]

        def one_client(seed: int) -> list[float]:
            ec2 = boto3.client(
                "ec2",
                endpoint_url=url,
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",
            )
            rng = random.Random(seed)
            latencies = []
            for _ in range(per_client):
                started = time.perf_counter()
                ec2.describe_images(ImageIds=[rng.choice(ids)])
                latencies.append(time.perf_counter() - started)
            return latencies

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            latencies = [x for result in pool.map(one_client, range(clients)) for x in result]
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=10)
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
        "requests_per_s": len(ordered) / elapsed,
    }


def tables(
    amiable_s: dict[str, float], moto_s: dict[str, float], load: dict[str, float], count: int
) -> str:
    lines = [
        f"| operation ({count:,} images) | amiable | moto | speed-up | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for name, goal in GOALS.items():
        speedup = moto_s[name] / amiable_s[name]
        lines.append(
            f"| {name.replace('_', ' ')} | {amiable_s[name]:.3f} s | {moto_s[name]:.3f} s "
            f"| {speedup:.1f}× | ≥ {goal:.0f}× | {'yes' if speedup >= goal else '**no**'} |"
        )
    ratio = load["p99_ms"] / load["p50_ms"]
    lines += [
        "",
        "| 16 concurrent HTTP clients (DescribeImages by id) | value |",
        "|---|---|",
        f"| requests | {load['requests']:.0f} |",
        f"| p50 latency | {load['p50_ms']:.1f} ms |",
        f"| p99 latency | {load['p99_ms']:.1f} ms |",
        f"| requests/s | {load['requests_per_s']:.0f} |",
        f"| p99 / p50 (goal < 10) | {ratio:.1f} ({'met' if ratio < 10 else '**missed**'}) |",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=100, help="per HTTP client")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)
    ensure_moto()
    with tempfile.TemporaryDirectory(prefix="amiable-bench-api-") as scratch_dir:
        scratch = Path(scratch_dir)
        home = scratch / "home"
        log(f"amiable: {args.images} images in-process")
        amiable_s = run_amiable(home, scratch, args.images, args.repeat)
        log(f"moto: {args.images} images in-process")
        moto_s = run_moto(args.images, args.repeat)
        log(f"ami serve: {args.clients} clients x {args.requests} requests")
        load = http_load(home, args.clients, args.requests)
    result = {
        **report.header(),
        "images": args.images,
        "amiable_seconds": amiable_s,
        "moto_seconds": moto_s,
        "speedup": {k: moto_s[k] / amiable_s[k] for k in GOALS},
        "goals": GOALS,
        "http_load": load,
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"api-{stamp}.json"
    out.write_text(json.dumps(result, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2))
    log(f"wrote {out}")
    print(tables(amiable_s, moto_s, load, args.images))
    return 0


if __name__ == "__main__":
    sys.exit(main())
