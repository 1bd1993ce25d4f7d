"""`ami import --endpoint-url` against a real `ami serve`: Ctrl-C cancels the
server's task, a name taken meanwhile leaves no snapshot, and a server that
stops cancels its imports; nothing is left on the server."""

import signal
import subprocess
import sys
from pathlib import Path

from serving import Server

import amiable
from import_helpers import DEADLINE, Feed, assert_nothing_left, small_tree, tar_bytes

REGION = "us-east-1"


def ami_import(server: Server, source: Path, name: str) -> "subprocess.Popen[str]":
    over_http = ["--endpoint-url", server.url, "--region", REGION]
    return subprocess.Popen(
        [sys.executable, "-m", "amiable.cli", *over_http, "import", str(source), "--name", name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def tasks(server: Server) -> list[dict[str, str]]:
    found = server.aws_json("ec2", "describe-import-snapshot-tasks")["ImportSnapshotTasks"]
    return [t["SnapshotTaskDetail"] for t in found]


def test_ctrl_c_cancels_the_servers_task(server: Server, tmp_path: Path) -> None:
    feed = Feed(tmp_path / "root.tar")
    process = ami_import(server, feed.path, "over-http")
    feed.open()  # the server's worker reads it
    assert process.stderr is not None
    while "unpacking root.tar" not in process.stderr.readline():
        assert process.poll() is None
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=DEADLINE) == 130
    feed.close()
    (task,) = tasks(server)
    assert (task["Status"], task["StatusMessage"]) == ("deleted", "import cancelled: interrupted")
    assert_nothing_left(server.home, REGION)


def test_a_name_taken_during_the_import_leaves_no_snapshot(server: Server, tmp_path: Path) -> None:
    data = tar_bytes(small_tree(tmp_path / "tree"))
    feed = Feed(tmp_path / "root.tar")
    slow = ami_import(server, feed.path, "racy-name")
    feed.open()
    fast = ami_import(server, small_tree(tmp_path / "other", seed=2), "racy-name")
    out, err = fast.communicate(timeout=DEADLINE)
    assert fast.returncode == 0, err
    feed.write(data)
    feed.close()
    _, err = slow.communicate(timeout=DEADLINE)
    assert slow.returncode == 1
    assert err.splitlines()[-1].startswith("error: InvalidAMIName.Duplicate: ")
    (image,) = server.aws_json("ec2", "describe-images", "--owners", "self")["Images"]
    assert image["ImageId"] == out.strip()
    snapshots = server.aws_json("ec2", "describe-snapshots", "--owner-ids", "self")["Snapshots"]
    assert [s["SnapshotId"] for s in snapshots] == [
        image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    ]
    again = ami_import(server, tmp_path / "other", "racy-name")  # checked before importing
    _, err = again.communicate(timeout=DEADLINE)
    assert again.returncode == 1 and err.startswith("error: InvalidAMIName.Duplicate: ")
    assert len(tasks(server)) == 2


def test_a_server_that_stops_cancels_its_imports(server: Server, tmp_path: Path) -> None:
    feed = Feed(tmp_path / "root.tar.gz")
    started = server.aws_json(
        "ec2", "import-snapshot", "--disk-container", f"Url=file://{feed.path}"
    )
    feed.open()
    server.stop()  # returns once the server has exited: its import ended first
    feed.close()
    ec2 = amiable.Session(home=server.home, region=REGION).client("ec2")
    (task,) = ec2.describe_import_snapshot_tasks(ImportTaskIds=[started["ImportTaskId"]])[
        "ImportSnapshotTasks"
    ]
    assert task["SnapshotTaskDetail"]["Status"] == "deleted"
    assert task["SnapshotTaskDetail"]["StatusMessage"] == "import cancelled: the server stopped"
    assert_nothing_left(server.home, REGION)
