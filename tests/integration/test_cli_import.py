"""`ami import` as a subprocess on a data home: what ImportSnapshot takes, as
long as it takes, with its progress; Ctrl-C, SIGTERM and kill -9 leave
nothing behind (the next start reclaims what a killed one wrote)."""

import fcntl
import gzip
import os
import pty
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest
import zstandard
from botocore.exceptions import WaiterError

import amiable
from amiable.store import Store
from amiable.units import human_bytes
from api_helpers import store_snapshot_of
from helpers import assert_same_tree, pack_files
from import_helpers import (
    DEADLINE,
    Feed,
    Lines,
    ami,
    ami_command,
    ami_json,
    assert_nothing_left,
    only_task,
    small_tree,
    tar_bytes,
    wait_for_message,
)

CHUNK = 128 * 1024
REGION = "eu-west-1"


def archive(tree: Path, path: Path) -> Path:
    data = tar_bytes(tree)
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("kind", ["directory", "root.tar", "root.tar.gz", "root.tar.zst"])
def test_import_takes_what_import_snapshot_takes(tmp_path: Path, kind: str) -> None:
    home, tree = tmp_path / "home", small_tree(tmp_path / "tree")
    source = tree if kind == "directory" else archive(tree, tmp_path / kind)
    done = ami(home, "import", str(source), "--name", "golden-1")
    assert done.returncode == 0, done.stderr
    image_id = done.stdout.strip()
    assert image_id.startswith("ami-")
    assert f"importing {source.name}: completed 100%" in done.stderr  # progress: stderr only

    session = amiable.Session(home=home, region=REGION)
    (image,) = session.client("ec2").describe_images(ImageIds=[image_id])["Images"]
    assert (image["Name"], image["State"]) == ("golden-1", "available")
    snapshot = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    stored = store_snapshot_of(session.cloud, REGION, snapshot)
    session.cloud.region(REGION).store.restore(stored, tmp_path / "out")
    assert_same_tree(tree, tmp_path / "out")


def test_import_waits_as_long_as_the_import_takes(tmp_path: Path) -> None:
    """The import reads a named pipe that the test feeds a chunk at a time: each
    chunk shows as new progress on the terminal, so ami looked at the task at
    least once per chunk; 45 chunks are more looks than botocore's waiter
    makes before it gives up (40), and it still waits, then succeeds."""
    home, chunks = tmp_path / "home", 45
    data = tar_bytes(small_tree(tmp_path / "tree", total_bytes=8_000_000))
    assert len(data) > chunks * CHUNK
    feed = Feed(tmp_path / "root.tar")
    terminal, their_end = pty.openpty()
    fcntl.ioctl(their_end, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
    process = subprocess.Popen(
        ami_command(home, "import", str(feed.path), "--name", "slow-1"),
        stdout=subprocess.PIPE,
        stderr=their_end,
        env={**os.environ, "TERM": "xterm", "COLUMNS": "200"},
        text=True,
    )
    os.close(their_end)
    try:
        shown = Lines(terminal)
        for chunk in range(1, chunks + 1):
            feed.write(data[(chunk - 1) * CHUNK : chunk * CHUNK])
            shown.wait_for(f"unpacking root.tar: {human_bytes(chunk * CHUNK)} read")
        ec2 = amiable.Session(home=home, region=REGION).client("ec2")
        task_id = only_task(home)["ImportTaskId"]
        with pytest.raises(WaiterError, match="Max attempts exceeded"):
            ec2.get_waiter("snapshot_imported").wait(
                ImportTaskIds=[task_id], WaiterConfig={"Delay": 0}
            )
        assert process.poll() is None  # ami still waits
        feed.write(data[chunks * CHUNK :])
        feed.close()
        out, _ = process.communicate(timeout=DEADLINE)
    finally:
        process.kill()
        process.wait()
        os.close(terminal)
    assert process.returncode == 0
    (image,) = ec2.describe_images(ImageIds=[out.strip()])["Images"]
    assert (image["Name"], image["State"]) == ("slow-1", "available")


@pytest.mark.parametrize(("sent", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_cancels_the_import_and_leaves_nothing(
    tmp_path: Path, sent: signal.Signals, status: int
) -> None:
    home = tmp_path / "home"
    feed = Feed(tmp_path / "root.tar.zst")
    process = subprocess.Popen(
        ami_command(home, "import", str(feed.path), "--name", "cancelled-1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    feed.open()
    while "unpacking root.tar.zst" not in process.stderr.readline():
        assert process.poll() is None
    process.send_signal(sent)
    assert process.wait(timeout=DEADLINE) == status
    lines = process.stderr.read().splitlines()
    assert lines[-1].startswith("error: interrupted: import-snap-")
    assert lines[-1].endswith("cancelled, nothing was left")
    feed.close()
    task = only_task(home)["SnapshotTaskDetail"]
    assert (task["Status"], task["StatusMessage"]) == ("deleted", "import cancelled: interrupted")
    assert_nothing_left(home)


def start_and_signal_once_packs_appear(home: Path, tree: Path, name: str, sent: int) -> int:
    """`ami import` of `tree`, sent `sent` once its first pack is written; its exit status."""
    store_dir = home / "regions" / REGION / "store"
    process = subprocess.Popen(
        ami_command(home, "import", str(tree), "--name", name),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + DEADLINE
    while not (store_dir.is_dir() and pack_files(store_dir)) and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    process.send_signal(sent)
    return process.wait(timeout=DEADLINE)


def test_ctrl_c_while_converting_leaves_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for attempt in range(3):  # until Ctrl-C lands before the import is done
        tree = small_tree(tmp_path / f"tree-{attempt}", total_bytes=40_000_000, seed=attempt)
        code = start_and_signal_once_packs_appear(home, tree, f"cancel-{attempt}", signal.SIGINT)
        assert code == 130
        # done before the cancel reached it, its snapshot is deleted: nothing is left either way
        assert_nothing_left(home)
        ec2 = amiable.Session(home=home, region=REGION).client("ec2")
        tasks = ec2.describe_import_snapshot_tasks()["ImportSnapshotTasks"]
        if any(t["SnapshotTaskDetail"]["Status"] == "deleted" for t in tasks):
            break
    else:
        pytest.fail("every import finished before Ctrl-C reached it")


def test_kill_9_then_the_next_start_reclaims(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for attempt in range(3):  # until the kill lands before the import is done
        tree = small_tree(tmp_path / f"tree-{attempt}", total_bytes=40_000_000, seed=attempt)
        code = start_and_signal_once_packs_appear(home, tree, f"killed-{attempt}", signal.SIGKILL)
        if code == -signal.SIGKILL:
            break
        assert code == 0  # done first: its image goes, for a clean slate
        ec2 = amiable.Session(home=home, region=REGION).client("ec2")
        (image,) = ec2.describe_images(Owners=["self"])["Images"]
        ec2.deregister_image(ImageId=image["ImageId"], DeleteAssociatedSnapshots=True)
    else:
        pytest.fail("every import finished before it could be killed")
    left = Store.open(home / "regions" / REGION / "store").fsck()
    assert left.reclaimable_bytes, "the killed import left nothing to reclaim"

    assert ami_json(home, "snapshots") == []  # the next start
    ec2 = amiable.Session(home=home, region=REGION).client("ec2")
    tasks = [
        t["SnapshotTaskDetail"] for t in ec2.describe_import_snapshot_tasks()["ImportSnapshotTasks"]
    ]
    (task,) = [t for t in tasks if t["Status"] != "completed"]  # the killed one
    assert task["Status"] == "deleted"
    assert task["StatusMessage"] == "import interrupted: the server stopped before it finished"
    assert_nothing_left(home)


def test_kill_9_while_unpacking_then_the_next_start_removes_the_scratch(tmp_path: Path) -> None:
    home = tmp_path / "home"
    data = tar_bytes(small_tree(tmp_path / "tree"))
    feed = Feed(tmp_path / "root.tar")
    process = subprocess.Popen(
        ami_command(home, "import", str(feed.path), "--name", "killed-2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its tar too
    )
    feed.write(data[: 4 * CHUNK])
    ec2 = amiable.Session(home=home, region=REGION).client("ec2")
    wait_for_message(ec2, only_task(home)["ImportTaskId"], "unpacking root.tar: 512.0 KiB")
    scratch = home / "regions" / REGION / "tmp"
    assert list(scratch.iterdir())  # the tree being unpacked
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    feed.close()
    assert ami_json(home, "images") == []  # the next start
    assert only_task(home)["SnapshotTaskDetail"]["Status"] == "deleted"
    assert_nothing_left(home)


def test_no_wait_prints_the_task_and_the_image_follows(tmp_path: Path) -> None:
    home, tree = tmp_path / "home", small_tree(tmp_path / "tree")
    done = ami(home, "import", str(tree), "--no-wait")
    assert done.returncode == 0, done.stderr
    task_id = done.stdout.strip()
    assert task_id.startswith("import-ami-")
    assert "runs in this process" in done.stderr
    ec2 = amiable.Session(home=home, region=REGION).client("ec2")
    (task,) = ec2.describe_import_image_tasks(ImportTaskIds=[task_id])["ImportImageTasks"]
    assert task["Status"] == "completed"  # the process ended when the import did
    (image,) = ec2.describe_images(ImageIds=[task["ImageId"]])["Images"]
    assert image["Name"] == task_id  # as EC2 names imported images
    named = ami(home, "import", str(tree), "--no-wait", "--name", "x-named")
    assert named.returncode == 2 and "leave out --name" in named.stderr


@pytest.mark.parametrize(
    ("name", "code"), [("no", "InvalidAMIName.Malformed"), ("bad*name", "InvalidAMIName.Malformed")]
)
def test_an_invalid_name_fails_before_any_work(tmp_path: Path, name: str, code: str) -> None:
    home = tmp_path / "home"
    done = ami(home, "import", str(small_tree(tmp_path / "tree")), "--name", name)
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: {code}: ") and len(done.stderr.splitlines()) == 1
    ec2 = amiable.Session(home=home, region=REGION).client("ec2")
    assert ec2.describe_import_snapshot_tasks()["ImportSnapshotTasks"] == []
    assert_nothing_left(home)
