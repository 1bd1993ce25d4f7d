"""`ami bake sweep`: every leftover of dead builds, found by the tags every
bake puts on what it creates — no journal needed, on amiable and on AWS.

A build is dead unless a bake on this host holds it now (its journal's
lock). Its instances are terminated, its staged images (candidates,
copies) deregistered with their snapshots, and its snapshots that no image
uses deleted. Published images are never touched; the step cache only
with `cache_older_than`. `older_than` spares what is younger (bakes on
other hosts sharing the account).
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from amiable.tools.journal import Journal

from . import tags
from .journal import RESUMABLE
from .progress import Reporter
from .resources import GONE, Clouds, code_of, remove_image, snapshots_of, terminate

LIVE_STATES = ["pending", "running", "stopping", "stopped"]


def _age(value: Any, now: datetime) -> timedelta:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return now - value if isinstance(value, datetime) else timedelta(0)


class Sweep:
    def __init__(
        self,
        clouds: Clouds,
        report: Reporter,
        running: set[str],
        only: str | None = None,
        older_than: timedelta = timedelta(0),
        cache_older_than: timedelta | None = None,
    ) -> None:
        self.clouds = clouds
        self.report = report
        self.running = running
        self.only = only
        self.older_than = older_than
        self.cache_older_than = cache_older_than
        self.now = datetime.now(UTC)
        self.removed: dict[str, list[str]] = {"instances": [], "images": [], "snapshots": []}
        self.builds: set[str] = set()

    def _dead(self, resource: dict[str, Any], made: Any) -> bool:
        build = tags.of(resource).get(tags.BUILD, "")
        if self.only is not None and build != self.only:
            return False
        return build not in self.running and _age(made, self.now) >= self.older_than

    def _filters(self) -> list[dict[str, Any]]:
        if self.only is not None:
            return [{"Name": f"tag:{tags.BUILD}", "Values": [self.only]}]
        return [{"Name": "tag-key", "Values": [tags.BUILD]}]

    def region(self, region: str) -> None:
        ec2 = self.clouds.ec2(region)
        self._instances(ec2)
        self._images(ec2)
        self._snapshots(ec2)

    def _instances(self, ec2: Any) -> None:
        found = ec2.describe_instances(
            Filters=[*self._filters(), {"Name": "instance-state-name", "Values": LIVE_STATES}]
        )["Reservations"]
        dead = [i for r in found for i in r["Instances"] if self._dead(i, i.get("LaunchTime"))]
        ids = [i["InstanceId"] for i in dead]
        terminate(ec2, ids)
        self._note("instances", ids, dead)

    def _images(self, ec2: Any) -> None:
        found = ec2.describe_images(Owners=["self"], Filters=self._filters())["Images"]
        doomed = []
        for image in found:
            labels = tags.of(image)
            if labels.get(tags.STATUS) == "published":
                continue
            if labels.get(tags.ROLE) == "cache":
                limit = self.cache_older_than
                if limit is None or _age(image.get("CreationDate"), self.now) < limit:
                    continue
            elif not self._dead(image, image.get("CreationDate")):
                continue
            doomed.append(image)
        for image in doomed:
            remove_image(ec2, image["ImageId"])
        self._note("images", [i["ImageId"] for i in doomed], doomed)

    def _snapshots(self, ec2: Any) -> None:
        used = {s for i in ec2.describe_images(Owners=["self"])["Images"] for s in snapshots_of(i)}
        found = ec2.describe_snapshots(OwnerIds=["self"], Filters=self._filters())["Snapshots"]
        doomed = [
            s
            for s in found
            if s["SnapshotId"] not in used
            and tags.of(s).get(tags.STATUS) != "published"
            and (tags.of(s).get(tags.ROLE) == "cache" or self._dead(s, s.get("StartTime")))
        ]
        for snapshot in doomed:
            try:
                ec2.delete_snapshot(SnapshotId=snapshot["SnapshotId"])
            except ClientError as exc:
                if code_of(exc) not in GONE:
                    raise
        self._note("snapshots", [s["SnapshotId"] for s in doomed], doomed)

    def _note(self, kind: str, ids: list[str], resources: list[dict[str, Any]]) -> None:
        self.removed[kind] += ids
        for resource, resource_id in zip(resources, ids, strict=True):
            build = tags.of(resource).get(tags.BUILD, "")
            self.builds.add(build)
            self.report.line(f"    removed {resource_id} (build {build})")


def running_here(folder: Path) -> set[str]:
    return {j.build_id for j in Journal.all_in(folder) if j.running_elsewhere()}


def sweep(
    clouds: Clouds,
    regions: list[str],
    folder: Path,
    report: Reporter,
    older_than: timedelta = timedelta(0),
    cache_older_than: timedelta | None = None,
) -> dict[str, Any]:
    """Remove the leftovers of every dead build in `regions`."""
    work = Sweep(clouds, report, running_here(folder), None, older_than, cache_older_than)
    for region in regions:
        work.region(region)
    for journal in Journal.all_in(folder):
        if journal.status in RESUMABLE and journal.build_id not in work.running:
            journal.end("abandoned")
    return {**work.removed, "builds": sorted(b for b in work.builds if b)}


def sweep_build(clouds: Clouds, regions: list[str], build_id: str, report: Reporter) -> None:
    """Remove what one build (not running) left, cache aside."""
    work = Sweep(clouds, report, set(), build_id)
    for region in regions:
        work.region(region)
