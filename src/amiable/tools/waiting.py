"""Waiting for long work through the EC2 API, as long as it takes: import
tasks (`DescribeImportSnapshotTasks`, `DescribeImportImageTasks`) and
pending images (`DescribeImages`, their snapshots' `Progress`), telling a
callback what the work reports each time it changes; and instances reaching
a state (`DescribeInstances`), for the tools that launch them.

botocore's waiters give up after a fixed number of attempts (40: with
`snapshot_imported`'s one-second delays, a large import failed after ~40 s);
these polls never do. The first look after the start comes after
POLL_FIRST seconds (local work is often done by then); they poll every
POLL_ON_CHANGE seconds while what the work reports changes, backing off to
every POLL_SLOWEST while it does not, so a long quiet task costs one call
every two seconds.
"""

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

POLL_FIRST = 0.01
POLL_ON_CHANGE = 0.05
POLL_SLOWEST = 2.0
RUNNING_TASK = ("active", "deleting")


@dataclass(frozen=True)
class Status:
    """What long work reports: its state, a percentage if it gives one, and a
    message (the step, files, bytes)."""

    state: str
    percent: int | None
    message: str


Report = Callable[[Status], None]


def quiet(_: Status) -> None:
    """A Report that shows nothing."""


class WorkFailed(Exception):
    """The work ended without its result (the message says why)."""


class Backoff:
    """The delay between two looks at work in progress: `first`, then half
    as long again each time, up to `slowest`."""

    def __init__(self, first: float = POLL_FIRST, slowest: float = POLL_SLOWEST) -> None:
        self.delay = first
        self._slowest = slowest

    def sleep(self) -> None:
        time.sleep(self.delay)
        self.delay = min(self._slowest, self.delay * 1.5)


class Poll:
    """The delay between two looks: short while things change, longer while not."""

    def __init__(self) -> None:
        self._backoff = Backoff()
        self._last: Status | None = None

    def saw(self, status: Status, report: Report) -> None:
        if status != self._last:
            report(status)
            if self._last is not None:
                self._backoff.delay = POLL_ON_CHANGE
        self._last = status

    def sleep(self) -> None:
        self._backoff.sleep()


def _percent(value: Any) -> int | None:
    try:
        return int(str(value).rstrip("%"))
    except ValueError:
        return None


def import_task(ec2: Any, task_id: str) -> dict[str, Any]:
    """The task's detail (ImportSnapshot's SnapshotTaskDetail, or ImportImage's task)."""
    if task_id.startswith("import-ami-"):
        (task,) = ec2.describe_import_image_tasks(ImportTaskIds=[task_id])["ImportImageTasks"]
        return dict(task)
    (task,) = ec2.describe_import_snapshot_tasks(ImportTaskIds=[task_id])["ImportSnapshotTasks"]
    return dict(task["SnapshotTaskDetail"])


def task_status(detail: dict[str, Any]) -> Status:
    return Status(
        detail.get("Status", ""),
        _percent(detail["Progress"]) if "Progress" in detail else None,
        detail.get("StatusMessage", ""),
    )


def wait_for_import(ec2: Any, task_id: str, report: Report) -> dict[str, Any]:
    """Wait until the task is done; its detail then, or WorkFailed."""
    poll = Poll()
    while True:
        detail = import_task(ec2, task_id)
        status = task_status(detail)
        poll.saw(status, report)
        if status.state == "completed":
            return detail
        if status.state not in RUNNING_TASK:
            raise WorkFailed(f"{task_id}: {status.message or status.state}")
        poll.sleep()


def cancel_import(ec2: Any, task_id: str, reason: str) -> dict[str, Any]:
    """Cancel the task and wait until its work has stopped; its last detail
    (`completed` if it finished before the cancel reached it)."""
    from botocore.exceptions import ClientError

    with contextlib.suppress(ClientError):  # not running any more: see how it ended
        ec2.cancel_import_task(ImportTaskId=task_id, CancelReason=reason)
    poll = Poll()
    while True:
        detail = import_task(ec2, task_id)
        if detail.get("Status") not in RUNNING_TASK:
            return detail
        poll.saw(task_status(detail), quiet)
        poll.sleep()


def wait_for_image(ec2: Any, image_id: str, report: Report) -> None:
    """Wait until the image is available (a pending image's progress is its
    snapshots' `Progress`); WorkFailed if it fails or vanishes."""
    from botocore.exceptions import ClientError

    poll = Poll()
    while True:
        try:
            found = ec2.describe_images(ImageIds=[image_id])["Images"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "InvalidAMIID.NotFound":
                raise
            found = []
        if not found:  # a pending image that failed is removed whole
            raise WorkFailed(f"{image_id} failed: it no longer exists")
        state = found[0].get("State", "")
        poll.saw(Status(state, *_snapshots_progress(ec2, found[0])), report)
        if state == "available":
            return
        if state != "pending":
            reason = found[0].get("StateReason", {}).get("Message", state)
            raise WorkFailed(f"{image_id} failed: {reason}")
        poll.sleep()


def _snapshots_progress(ec2: Any, image: dict[str, Any]) -> tuple[int | None, str]:
    ids = [
        m["Ebs"]["SnapshotId"]
        for m in image.get("BlockDeviceMappings", [])
        if m.get("Ebs", {}).get("SnapshotId")
    ]
    if image.get("State") != "pending" or not ids:
        return None, ""
    found = ec2.describe_snapshots(SnapshotIds=ids)["Snapshots"]
    percents = [p for p in (_percent(s.get("Progress", "")) for s in found) if p is not None]
    if not percents:
        return None, ""
    least = min(percents)
    return least, f"snapshotting: {least}%"


def wait_for_instances(
    ec2: Any, instance_ids: list[str], state: str, timeout: float = 600.0
) -> None:
    """Until every instance is in `state`, or RuntimeError if one cannot get
    there (a terminated instance never runs again)."""
    deadline, backoff = time.monotonic() + timeout, Backoff()
    while True:
        found = ec2.describe_instances(InstanceIds=instance_ids)["Reservations"]
        states = {i["InstanceId"]: i["State"]["Name"] for r in found for i in r["Instances"]}
        if all(states.get(i) == state for i in instance_ids):
            return
        dead = [i for i in instance_ids if states.get(i) in ("terminated", "shutting-down")]
        if (dead and state != "terminated") or time.monotonic() > deadline:
            raise RuntimeError(f"{', '.join(dead or instance_ids)} did not become {state}")
        backoff.sleep()
