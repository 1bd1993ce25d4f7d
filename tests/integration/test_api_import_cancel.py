"""Import tasks report how far they are, can be cancelled (CancelImportTask, in
this process or another), end with the cloud that runs them, and leave
nothing when they do not complete."""

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, WaiterError

import amiable
from amiable.cloud.core.home import Cloud
from amiable.units import human_bytes
from import_helpers import (
    Feed,
    assert_nothing_left,
    small_tree,
    tar_bytes,
    task,
    wait_for_message,
)

CHUNK = 128 * 1024


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def start(ec2: Any, url: str, **params: Any) -> str:
    return str(ec2.import_snapshot(DiskContainer={"Url": url}, **params)["ImportTaskId"])


def held(home: Path, feed: Feed) -> tuple[Cloud, Any, str]:
    """A cloud, its client and a task reading `feed`, which holds it unpacking."""
    cloud = Cloud(home)
    ec2 = amiable.Session(cloud=cloud, region="eu-west-1").client("ec2")
    task_id = start(ec2, f"file://{feed.path}")
    feed.open()
    wait_for_message(ec2, task_id, "unpacking")
    return cloud, ec2, task_id


def test_a_task_reports_its_progress_as_it_goes(home: Path, tmp_path: Path) -> None:
    archive = tar_bytes(small_tree(tmp_path / "tree"))
    feed = Feed(tmp_path / "root.tar")
    cloud = Cloud(home)
    ec2 = amiable.Session(cloud=cloud, region="eu-west-1").client("ec2")
    task_id = start(ec2, f"file://{feed.path}")
    for step in (1, 2, 3):
        feed.write(archive[(step - 1) * CHUNK : step * CHUNK])
        detail = wait_for_message(ec2, task_id, f"unpacking root.tar: {human_bytes(step * CHUNK)}")
        assert (detail["Status"], detail["Progress"]) == ("active", "0")  # a pipe has no size
    feed.write(archive[3 * CHUNK :])
    feed.close()
    cloud.close()
    detail = task(ec2, task_id)
    assert (detail["Status"], detail["Progress"]) == ("completed", "100")
    assert "StatusMessage" not in detail


def test_cancel_stops_the_task_and_leaves_nothing(home: Path, tmp_path: Path) -> None:
    feed = Feed(tmp_path / "root.tar.gz")
    cloud, ec2, task_id = held(home, feed)
    answer = ec2.cancel_import_task(ImportTaskId=task_id, CancelReason="changed my mind")
    assert (answer["ImportTaskId"], answer["PreviousState"], answer["State"]) == (
        task_id,
        "active",
        "deleting",
    )
    cloud.close()  # returns once the work has stopped
    detail = task(ec2, task_id)
    assert (detail["Status"], detail["StatusMessage"]) == (
        "deleted",
        "import cancelled: changed my mind",
    )
    feed.close()
    with pytest.raises(ClientError) as caught:
        ec2.cancel_import_task(ImportTaskId=task_id)
    assert caught.value.response["Error"]["Code"] == "IncorrectState"
    assert_nothing_left(home)


def test_cancel_refusals(home: Path, tmp_path: Path) -> None:
    ec2 = amiable.Session(home=home, region="eu-west-1").client("ec2")
    for params, code in (
        ({"ImportTaskId": "import-snap-0123456789abcdef0"}, "InvalidConversionTaskId"),
        ({}, "MissingParameter"),
    ):
        with pytest.raises(ClientError) as caught:
            ec2.cancel_import_task(**params)
        assert caught.value.response["Error"]["Code"] == code
    done = start(ec2, f"file://{small_tree(tmp_path / 'tree')}")
    ec2.get_waiter("snapshot_imported").wait(ImportTaskIds=[done], WaiterConfig={"Delay": 0.1})
    with pytest.raises(ClientError) as caught:
        ec2.cancel_import_task(ImportTaskId=done)
    assert caught.value.response["Error"]["Code"] == "IncorrectState"
    other = amiable.Session(home=home, region="eu-west-1")
    other.cloud.accounts.create("222222222222", None, "AKIAOTHER", "other-secret")
    stranger = amiable.Session(home=home, region="eu-west-1", account="222222222222")
    with pytest.raises(ClientError) as caught:
        stranger.client("ec2").cancel_import_task(ImportTaskId=done)
    assert caught.value.response["Error"]["Code"] == "InvalidConversionTaskId"


def test_a_task_running_in_another_process_is_cancelled_there(home: Path, tmp_path: Path) -> None:
    feed = Feed(tmp_path / "root.tar.zst")
    script = textwrap.dedent(
        f"""
        import amiable
        session = amiable.Session(home={str(home)!r}, region="eu-west-1")
        task = session.client("ec2").import_snapshot(DiskContainer={{"Url": "file://{feed.path}"}})
        print(task["ImportTaskId"], flush=True)
        session.cloud.close()  # waits for the work
        """
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert worker.stdout is not None
    task_id = worker.stdout.readline().strip()
    feed.open()
    ec2 = amiable.Session(home=home, region="eu-west-1").client("ec2")
    wait_for_message(ec2, task_id, "unpacking")
    assert ec2.cancel_import_task(ImportTaskId=task_id)["State"] == "deleting"
    assert worker.wait(timeout=60) == 0, worker.stderr.read() if worker.stderr else ""
    detail = task(ec2, task_id)
    assert (detail["Status"], detail["StatusMessage"]) == (
        "deleted",
        "import cancelled: cancelled with CancelImportTask",
    )
    feed.close()
    assert_nothing_left(home)


def test_botocores_waiter_gives_up_on_a_long_task(home: Path, tmp_path: Path) -> None:
    feed = Feed(tmp_path / "root.tar")
    cloud, ec2, task_id = held(home, feed)
    with pytest.raises(WaiterError, match="Max attempts exceeded"):
        ec2.get_waiter("snapshot_imported").wait(ImportTaskIds=[task_id], WaiterConfig={"Delay": 0})
    assert task(ec2, task_id)["Status"] == "active"  # it goes on: waiting longer is the caller's
    cloud.close(cancel="the test is over")
    assert task(ec2, task_id)["StatusMessage"] == "import cancelled: the test is over"
    feed.close()


def test_close_waits_for_running_work(home: Path, tmp_path: Path) -> None:
    cloud = Cloud(home)
    ec2 = amiable.Session(cloud=cloud, region="eu-west-1").client("ec2")
    task_id = start(ec2, f"file://{small_tree(tmp_path / 'tree', total_bytes=20_000_000)}")
    cloud.close()
    assert task(ec2, task_id)["Status"] == "completed"


def test_a_program_that_ends_first_still_finishes_its_import(home: Path, tmp_path: Path) -> None:
    """Python's exit waits for the work before its thread pools stop (this used to
    fail with 'cannot schedule new futures after interpreter shutdown')."""
    tree = small_tree(tmp_path / "tree", total_bytes=20_000_000)
    script = textwrap.dedent(
        f"""
        import amiable
        ec2 = amiable.Session(home={str(home)!r}, region="eu-west-1").client("ec2")
        task = ec2.import_snapshot(DiskContainer={{"Url": "file://{tree}"}})
        print(task["ImportTaskId"])
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    ec2 = amiable.Session(home=home, region="eu-west-1").client("ec2")
    assert task(ec2, done.stdout.strip())["Status"] == "completed"


def test_a_client_token_answers_with_the_first_task(home: Path, tmp_path: Path) -> None:
    cloud = Cloud(home)
    ec2 = amiable.Session(cloud=cloud, region="eu-west-1").client("ec2")
    url = f"file://{small_tree(tmp_path / 'tree')}"
    first = start(ec2, url, ClientToken="token-1")
    assert start(ec2, url, ClientToken="token-1") == first
    with pytest.raises(ClientError) as caught:
        start(ec2, url, ClientToken="token-1", Description="other")
    assert caught.value.response["Error"]["Code"] == "IdempotentParameterMismatch"
    cloud.close()
    assert len(ec2.describe_import_snapshot_tasks()["ImportSnapshotTasks"]) == 1


def test_a_failed_import_leaves_nothing(home: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"\x1f\x8b" + b"not gzip at all" * 1000)
    cloud = Cloud(home)
    ec2 = amiable.Session(cloud=cloud, region="eu-west-1").client("ec2")
    task_id = start(ec2, f"file://{broken}")
    cloud.close()
    detail = task(ec2, task_id)
    assert detail["Status"] == "deleted"
    assert detail["StatusMessage"].startswith("import failed: InvalidParameter: cannot read")
    assert_nothing_left(home)
