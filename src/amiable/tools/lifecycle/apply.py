"""Taking a plan's steps, journaled (docs/lifecycle.md).

Before each step its values (the retired time, the DeprecateAt, the launch
permissions an image had before DisableImage) are written to the journal,
and after it the step is marked done. An interrupted apply, run again with
the same policy on the same cloud, plans afresh from what the cloud now
says, takes the unfinished journal, reuses the values it recorded and skips
the steps it marked done, so nothing is done twice.

Just before DisableImage and DeregisterImage the image is read again and
what holds it asked again: an image launched a second earlier survives.
"""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from amiable.tools.journal import Journal

from .fleet import PREVIOUS_DEPRECATION, RETIRED, Image
from .holds import Holds
from .plan import DESTRUCTIVE, MAX_PARALLEL, Decision, Plan, Step, Target
from .policy import InUse

RESUMABLE = ("running",)
Echo = Callable[[str], None]


class Skipped(Exception):
    """A step not taken because the cloud changed since the plan."""


@dataclass
class Applied:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass
class _Run:
    journal: Journal
    in_use: InUse
    now: Callable[[], datetime]
    echo: Echo
    stop: threading.Event
    applied: Applied
    lock: threading.Lock = field(default_factory=threading.Lock)

    def tell(self, bucket: list[str], line: str) -> None:
        with self.lock:
            bucket.append(line)
            self.echo(line)


def apply(
    plan: Plan,
    targets: list[Target],
    journal: Journal,
    in_use: InUse,
    now: Callable[[], datetime],
    echo: Echo,
) -> Applied:
    """Every decision's steps, targets at once; stops at Ctrl-C between steps."""
    run = _Run(journal, in_use, now, echo, threading.Event(), Applied())
    by_target: dict[tuple[str, str], list[Decision]] = {}
    for decision in plan.decisions:
        if decision.steps:
            by_target.setdefault((decision.account, decision.region), []).append(decision)
    work = [
        (t, by_target[t.account, t.region]) for t in targets if (t.account, t.region) in by_target
    ]
    with ThreadPoolExecutor(max_workers=max(1, min(MAX_PARALLEL, len(work)))) as pool:
        futures = [pool.submit(_apply_target, run, target, ds) for target, ds in work]
        try:
            for future in futures:
                future.result()
        except BaseException:
            run.stop.set()
            raise
    return run.applied


def _apply_target(run: _Run, target: Target, decisions: list[Decision]) -> None:
    holds = Holds(target.ec2, run.in_use)
    for decision in decisions:
        for step in decision.steps:
            if run.stop.is_set():
                return
            if not _take(run, target, holds, decision, step):
                break  # the image's later steps depend on this one


def _take(run: _Run, target: Target, holds: Holds, decision: Decision, step: Step) -> bool:
    image = decision.image
    key = f"{decision.account}/{decision.region}/{image.image_id}/{step.kind}"
    where = f"{decision.region} {image.image_id} {image.name}"
    recorded = run.journal.finished(key)
    if recorded and recorded.get("done"):
        return True
    values = dict(recorded["values"]) if recorded else dict(step.values)
    run.journal.finish(key, values=values, done=False)
    try:
        if step.kind in DESTRUCTIVE:
            _check_again(target, holds, image, step.kind, run.now())
        said = _STEPS[step.kind](target.ec2, image, values)
    except Skipped as skipped:
        run.tell(run.applied.skipped, f"{where}: {step.kind} not done: {skipped}")
        run.journal.finish(key, values=values, done=True, skipped=str(skipped))
        return False
    except (ClientError, BotoCoreError) as exc:
        run.tell(run.applied.failed, f"{where}: {step.kind} failed: {exc}")
        return False
    run.journal.finish(key, values=values, done=True)
    run.tell(run.applied.done, f"{where}: {said}")
    return True


def _check_again(target: Target, holds: Holds, image: Image, kind: str, now: datetime) -> None:
    """Read the image and what holds it once more, just before `kind`."""
    fresh = target.view().image(image.image_id)
    if fresh is None:
        raise Skipped("the image is gone")
    if kind == "disable" and fresh.state != "available":
        raise Skipped(f"the image is {fresh.state}")
    if kind == "deregister" and fresh.protected:
        raise Skipped("deregistration protection is on")
    held = holds.local([image.image_id], fresh=True)[image.image_id] + holds.shared(fresh, now)
    if held:
        raise Skipped(f"in use now: {'; '.join(held)}")


def _retire(ec2: Any, image: Image, values: dict[str, str]) -> str:
    tags = [{"Key": RETIRED, "Value": values["retired"]}]
    if values.get("previous_deprecation"):
        tags.append({"Key": PREVIOUS_DEPRECATION, "Value": values["previous_deprecation"]})
    ec2.create_tags(Resources=[image.image_id], Tags=tags)
    return f"left the keep set at {values['retired']}"


def _deprecate(ec2: Any, image: Image, values: dict[str, str]) -> str:
    ec2.enable_image_deprecation(ImageId=image.image_id, DeprecateAt=values["deprecate_at"])
    return f"deprecated at {values['deprecate_at']}"


def _disable(ec2: Any, image: Image, values: dict[str, str]) -> str:
    permissions = ec2.describe_image_attribute(
        ImageId=image.image_id, Attribute="launchPermission"
    ).get("LaunchPermissions", [])
    values["launch_permissions_removed"] = repr(permissions)
    ec2.disable_image(ImageId=image.image_id)
    return "disabled" + (f" (sharing removed: {len(permissions)})" if permissions else "")


def _deregister(ec2: Any, image: Image, values: dict[str, str]) -> str:
    answer = ec2.deregister_image(ImageId=image.image_id, DeleteAssociatedSnapshots=True)
    kept = [
        f"{r['SnapshotId']} ({r.get('ReturnCode', 'error')})"
        for r in answer.get("DeleteSnapshotResults", [])
        if r.get("ReturnCode") not in (None, "success", "skipped")  # skipped: another image uses it
    ]
    return "deregistered" + (f"; snapshots not deleted: {', '.join(kept)}" if kept else "")


def _enable(ec2: Any, image: Image, values: dict[str, str]) -> str:
    ec2.enable_image(ImageId=image.image_id)
    return "enabled again"


def _undeprecate(ec2: Any, image: Image, values: dict[str, str]) -> str:
    ec2.disable_image_deprecation(ImageId=image.image_id)
    return "deprecation cancelled"


def _unretire(ec2: Any, image: Image, values: dict[str, str]) -> str:
    ec2.delete_tags(
        Resources=[image.image_id], Tags=[{"Key": RETIRED}, {"Key": PREVIOUS_DEPRECATION}]
    )
    return "kept again"


_STEPS: dict[str, Callable[[Any, Image, dict[str, str]], str]] = {
    "retire": _retire,
    "deprecate": _deprecate,
    "disable": _disable,
    "deregister": _deregister,
    "enable": _enable,
    "undeprecate": _undeprecate,
    "unretire": _unretire,
}
