"""Benchmark of the console's AMIs page with 5,000 images, over real HTTP.

Registers N images (default 5,000) against one imported snapshot through an
in-process boto3 client, starts a real `ami serve` on the data home, signs in
as a browser does (GET the sign-in page for its CSRF token and session
cookie, POST the form, keep the new cookie), then walks
GET /console/us-east-1/images and its *Next page* links with http.client on
one keep-alive connection, for at least `--requests` pages. Reports the p50
and p95 time per page (request sent to the whole page read, on loopback: the
server's time plus a little of the client's), for the first page and for the
later pages (whose NextToken is resumed), and the p50/p95 of the
DescribeImages call inside each page, as the server's request log
(`amiable.requests`, marked `(console)`) times it; then GETs one image's
page 20 times (its lineage is searched in every region) and reports its
p50/p95 too. Writes
bench/results/console-<UTC>.json and prints a Markdown table row. The goal is
p50 < 100 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import http.client
import json
import math
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import report
from api import imported_snapshot  # bench/api.py: one small imported tree

RESULTS = Path(__file__).resolve().parent / "results"
REGION = "us-east-1"
GOAL_P50_MS = 100.0
IMAGE_PAGES = 20  # GETs of one image's page
_IMAGE = re.compile(r'id="select-(ami-[0-9a-f]+)"')
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_NEXT = re.compile(r'<a href="([^"]+)" rel="next">')
_COOKIE = "amiable-console"
_DESCRIBED = re.compile(r" ec2:DescribeImages 200 ([0-9.]+) ms \(console\)$", re.MULTILINE)


def log(message: str) -> None:
    print(f"[bench-console {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def register_images(home: Path, scratch: Path, count: int) -> float:
    """`count` images of the default account on one snapshot; seconds taken."""
    import amiable

    ec2 = amiable.Session(home=home, region=REGION).client("ec2")
    snapshot = imported_snapshot(ec2, scratch)
    mapping = [{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot}}]
    started = time.perf_counter()
    for n in range(count):
        ec2.register_image(
            Name=f"console-{n:05d}",
            RootDeviceName="/dev/xvda",
            BlockDeviceMappings=mapping,
            TagSpecifications=[
                {"ResourceType": "image", "Tags": [{"Key": "Name", "Value": f"web {n}"}]}
            ],
        )
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(home: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`ami serve` on loopback, its request log to `log`, once it answers."""
    command = [sys.executable, "-m", "amiable.cli", "serve", "--home", str(home)]
    command += ["--port", str(port), "--log-level", "info"]
    with log.open("wb") as output:
        server = subprocess.Popen(command, stdout=output, stderr=output)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError("ami serve did not start") from None
            time.sleep(0.1)


class Browser:
    """One keep-alive HTTP connection and the console's session cookie."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, str, float]:
        """(status, body, seconds from sending to the body read)."""
        headers = {"Cookie": f"{_COOKIE}={self.cookie}"} if self.cookie else {}
        body = None
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = urlencode(form)
        started = time.perf_counter()
        self.connection.request(method, path, body, headers)
        response = self.connection.getresponse()
        text = response.read().decode()
        seconds = time.perf_counter() - started
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith(f"{_COOKIE}="):
                self.cookie = value.split(";", 1)[0].split("=", 1)[1]
        return response.status, text, seconds

    def sign_in(self, key: str = "test", secret: str = "test") -> None:
        status, page, _ = self.request("GET", "/console/signin")
        found = _CSRF.search(page)
        if status != 200 or found is None:
            raise RuntimeError(f"no sign-in form ({status})")
        form = {"csrf_token": html.unescape(found[1]), "next": f"/console/{REGION}/images"}
        form.update(access_key_id=key, secret_access_key=secret)
        status, _, _ = self.request("POST", "/console/signin", form)
        if status != 303:
            raise RuntimeError(f"sign-in refused ({status})")


def walk(browser: Browser, requests: int) -> tuple[list[float], list[float], int]:
    """Seconds per first page and per later page, over at least `requests` pages,
    starting again from the first page after the last; and the rows seen on a
    full pass."""
    first, later, rows, passes = [], [], 0, 0
    while len(first) + len(later) < requests:
        path: str | None = f"/console/{REGION}/images"
        on_first, seen = True, 0
        while path is not None:
            status, page, seconds = browser.request("GET", path)
            if status != 200:
                raise RuntimeError(f"GET {path}: {status}")
            (first if on_first else later).append(seconds)
            seen += page.count('type="radio" id="select-ami-')
            found = _NEXT.search(page)
            path = html.unescape(found[1]) if found else None
            on_first = False
        rows, passes = seen, passes + 1
    return first, later, rows


def image_pages(browser: Browser, requests: int) -> list[float]:
    """Seconds per GET of the first listed image's page (details, permissions,
    its lineage searched in every region, what uses it)."""
    _, first_page, _ = browser.request("GET", f"/console/{REGION}/images")
    found = _IMAGE.search(first_page)
    if found is None:
        raise RuntimeError("no image on the first page")
    seconds = []
    for _ in range(requests):
        status, _, took = browser.request("GET", f"/console/{REGION}/images/{found[1]}")
        if status != 200:
            raise RuntimeError(f"GET the page of {found[1]}: {status}")
        seconds.append(took)
    return seconds


def percentiles(samples: list[float]) -> dict[str, float]:
    """Count, median and 95th percentile (nearest rank), in ms."""
    ordered = sorted(samples)
    if not ordered:
        return {"requests": 0}
    return {
        "requests": len(ordered),
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[math.ceil(len(ordered) * 0.95) - 1] * 1000,
    }


def described(log: Path) -> list[float]:
    """Seconds of each DescribeImages the console made, from the request log
    (the warm-up's dropped)."""
    return [float(ms) / 1000 for ms in _DESCRIBED.findall(log.read_text())][1:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=150, help="pages to GET, at least")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="amiable-bench-console-") as scratch_dir:
        scratch = Path(scratch_dir)
        home = scratch / "home"
        log(f"registering {args.images} images in-process")
        register_s = register_images(home, scratch, args.images)
        port = free_port()
        log(f"ami serve on port {port}; {args.requests}+ pages")
        server = start_serve(home, port, scratch / "serve.log")
        try:
            browser = Browser(port)
            browser.sign_in()
            browser.request("GET", f"/console/{REGION}/images")  # warm up
            first, later, rows = walk(browser, args.requests)
            detail = image_pages(browser, IMAGE_PAGES)
        finally:
            server.terminate()
            server.wait(timeout=10)
        listed = len(first) + len(later)  # one DescribeImages each, then the image pages'
        handler = percentiles(described(scratch / "serve.log")[:listed])
    every = percentiles(first + later)
    result = {
        **report.header(),
        "images": args.images,
        "rows_listed": rows,
        "register_seconds": register_s,
        "pages": every,
        "first_page": percentiles(first),
        "later_pages": percentiles(later),
        "describe_images_in_page": handler,
        "image_page": percentiles(detail),
        "goal_p50_ms": GOAL_P50_MS,
        "goal_met": every["p50_ms"] < GOAL_P50_MS,
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"console-{stamp}.json"
    out.write_text(json.dumps(result, indent=2))
    log(f"wrote {out}")
    print(
        "| images | pages | p50 ms | p95 ms | first page p50 ms | later pages p50 ms "
        "| DescribeImages p50 / p95 ms |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(
        f"| {args.images} | {every['requests']} | {every['p50_ms']:.1f} | "
        f"{every['p95_ms']:.1f} | {result['first_page']['p50_ms']:.1f} | "
        f"{result['later_pages'].get('p50_ms', 0.0):.1f} | "
        f"{handler.get('p50_ms', 0.0):.1f} / {handler.get('p95_ms', 0.0):.1f} |"
    )
    shown = result["image_page"]
    log(f"an image's page: p50 {shown['p50_ms']:.1f} ms, p95 {shown['p95_ms']:.1f} ms")
    return 0 if rows == args.images else 1


if __name__ == "__main__":
    sys.exit(main())
