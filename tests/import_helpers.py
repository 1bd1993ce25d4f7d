"""Helpers for import tests: archives of generated trees, a named pipe that the
test feeds so that an import takes as long as the test wants (no sleeping),
`ami` as a subprocess, and what a data home holds after an import ended."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import amiable
from amiable.cloud.core.home import Cloud
from helpers import write_random_tree

DEADLINE = 60.0  # seconds: only a broken import takes this long


def tar_bytes(tree: Path) -> bytes:
    """GNU tar of `tree` (pax format: nanosecond times)."""
    return subprocess.run(
        ["tar", "-C", str(tree), "--format=posix", "-cf", "-", "."],
        capture_output=True,
        check=True,
    ).stdout


def small_tree(root: Path, total_bytes: int = 3_000_000, seed: int = 1) -> Path:
    write_random_tree(root, files=30, total_bytes=total_bytes, seed=seed)
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc" / "os-release").write_text("ID=imported\n")
    return root


class Feed:
    """A named pipe named like an archive: an import reads it as the test writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path)
        self._fd: int | None = None

    def open(self) -> None:
        """Wait until the import opens the pipe for reading."""
        deadline = time.monotonic() + DEADLINE
        while self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        flags = fcntl.fcntl(self._fd, fcntl.F_GETFL)
        fcntl.fcntl(self._fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)

    def write(self, data: bytes) -> None:
        if self._fd is None:
            self.open()
        assert self._fd is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def ami_command(home: Path, *args: str, region: str = "eu-west-1") -> list[str]:
    return [sys.executable, "-m", "amiable.cli", "--home", str(home), "--region", region, *args]


def ami(home: Path, *args: str, region: str = "eu-west-1") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ami_command(home, *args, region=region), capture_output=True, text=True, timeout=120
    )


def ami_json(home: Path, *args: str) -> Any:
    done = ami(home, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


class Lines:
    """What a subprocess writes to one of its pipes (or a terminal), read in a
    thread, to wait for a line without blocking the test."""

    _ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")

    def __init__(self, fd: int) -> None:
        self.text = ""
        self._fd = fd
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            ready, _, _ = select.select([self._fd], [], [], 1.0)
            if not ready:
                continue
            try:
                data = os.read(self._fd, 65536)
            except OSError:  # a terminal whose other end closed
                data = b""
            with self._changed:
                self.text += self._ANSI.sub("\n", data.decode(errors="replace"))
                self._changed.notify_all()
            if not data:
                return

    def wait_for(self, text: str) -> None:
        deadline = time.monotonic() + DEADLINE
        with self._changed:
            while text not in self.text:
                left = deadline - time.monotonic()
                assert left > 0, f"{text!r} never appeared in:\n{self.text[-2000:]}"
                self._changed.wait(left)


def task(ec2: Any, task_id: str) -> dict[str, Any]:
    (found,) = ec2.describe_import_snapshot_tasks(ImportTaskIds=[task_id])["ImportSnapshotTasks"]
    return dict(found["SnapshotTaskDetail"])


def wait_for_message(ec2: Any, task_id: str, start: str) -> dict[str, Any]:
    """Look at the task until its StatusMessage starts with `start`."""
    deadline = time.monotonic() + DEADLINE
    while True:
        detail = task(ec2, task_id)
        if detail.get("StatusMessage", "").startswith(start):
            return detail
        assert time.monotonic() < deadline, f"{task_id} never said {start!r}: {detail}"
        time.sleep(0.01)


def only_task(home: Path, region: str = "eu-west-1") -> dict[str, Any]:
    ec2 = amiable.Session(home=home, region=region).client("ec2")
    (found,) = ec2.describe_import_snapshot_tasks()["ImportSnapshotTasks"]
    return dict(found)


def assert_nothing_left(home: Path, region: str = "eu-west-1", account: str | None = None) -> None:
    """No snapshot, no image, no volume; no store snapshot, no store data that
    no snapshot needs; no scratch space."""
    cloud = Cloud(home)
    try:
        session = amiable.Session(
            cloud=cloud, region=region, **({"account": account} if account else {})
        )
        ec2 = session.client("ec2")
        assert ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] == []
        assert ec2.describe_images(Owners=["self"])["Images"] == []
        assert ec2.describe_volumes()["Volumes"] == []
        region_ = cloud.region(region)
        assert region_.store.snapshots() == []
        report = region_.store.fsck()
        assert report.ok, report.errors
        assert (report.reclaimable_objects, report.reclaimable_bytes) == (0, 0)
        scratch = region_.root / "tmp"
        assert not scratch.exists() or list(scratch.iterdir()) == []
    finally:
        cloud.close()
