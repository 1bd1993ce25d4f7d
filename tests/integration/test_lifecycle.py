"""`ami lifecycle` against an amiable cloud through real boto3 clients: what
keeps an image, what holds it (launch templates without an auto-scaling
group, default versions, SSM parameters, other accounts' use of a shared
image), the stages over time, restoring, and what blocks a deregistration.
Instances holding images are in tests/e2e/test_lifecycle_instances.py."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import amiable
from amiable.cloud.core.home import Cloud
from amiable.tools.journal import Journal
from amiable.tools.lifecycle.apply import Applied, apply
from amiable.tools.lifecycle.fleet import RETIRED
from amiable.tools.lifecycle.plan import Decision, Plan, plan
from amiable.tools.lifecycle.policy import Policy, load_policy
from amiable.tools.lifecycle.targets import targets
from api_helpers import OTHER, cloud_with_other_account, imported_snapshot, register

OWNER = "000000000000"
DAY = timedelta(days=1, minutes=1)
POLICY = """\
regions: [us-east-1, eu-west-1]
families:
  - name: web
    select: {name: "web-*"}
    keep: {newest: 2, tagged: {keep: "true"}}
    stages: {deprecate: 0d, disable: 1d, deregister: 2d}
"""


class Fleet:
    """A cloud, its clients, and a policy run against it the way the CLI runs it."""

    def __init__(self, cloud: Cloud, tmp_path: Path, policy: str = POLICY) -> None:
        self.cloud = cloud
        self.tmp_path = tmp_path
        self.policy_path = tmp_path / "policy.yaml"
        self.policy_path.write_text(policy)
        self.runs = 0

    def client(self, service: str = "ec2", region: str = "us-east-1", account: str = OWNER) -> Any:
        return amiable.Session(cloud=self.cloud, account=account, region=region).client(service)

    def _clients(self, service: str, region: str, profile: str | None) -> Any:
        return amiable.Session(cloud=self.cloud, region=region, profile=profile).client(service)

    @property
    def policy(self) -> Policy:
        return load_policy(self.policy_path)

    def plan(self) -> Plan:
        return plan(self.policy, targets(self.policy, self._clients), self.cloud.clock.now())

    def apply(self) -> tuple[Plan, Applied]:
        chosen = targets(self.policy, self._clients)
        found = plan(self.policy, chosen, self.cloud.clock.now())
        self.runs += 1
        journal = Journal.create(self.tmp_path / "journals", f"run-{self.runs}", identity="t")
        try:
            applied = apply(found, chosen, journal, self.policy.in_use, self.cloud.clock.now, print)
        finally:
            journal.release()
        return found, applied

    def images(self, region: str = "us-east-1") -> dict[str, dict[str, Any]]:
        found = self.client(region=region).describe_images(Owners=["self"], IncludeDisabled=True)
        return {i["Name"]: i for i in found["Images"]}


def by_name(found: Plan, region: str = "us-east-1") -> dict[str, Decision]:
    return {d.image.name: d for d in found.decisions if d.region == region}


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    cloud = cloud_with_other_account(tmp_path / "home")
    yield Fleet(cloud, tmp_path)
    cloud.close()


def web_images(fleet: Fleet, count: int, region: str = "us-east-1") -> list[str]:
    """`count` images web-0 (oldest) ..., each on a snapshot of its own."""
    ec2 = fleet.client(region=region)
    made = []
    for n in range(count):
        snapshot = imported_snapshot(ec2, fleet.tmp_path / f"root-{region}-{n}")
        made.append(register(ec2, snapshot, f"web-{n}"))
    return made


def test_the_plan_keeps_the_newest_and_changes_nothing(fleet: Fleet) -> None:
    web_images(fleet, 4)
    before = fleet.images()
    decisions = by_name(fleet.plan())
    assert fleet.images() == before
    assert {n: d.action for n, d in decisions.items()} == {
        "web-3": "keep",
        "web-2": "keep",
        "web-1": "deprecate",
        "web-0": "deprecate",
    }
    assert decisions["web-3"].kept_by == ["newest (1 of 2)"]
    assert [s.kind for s in decisions["web-1"].steps] == ["retire", "deprecate"]
    assert decisions["web-1"].next_stage(fleet.cloud.clock.now())[0] == "disable"  # type: ignore[index]


def test_stages_follow_one_another_and_free_the_snapshots(fleet: Fleet) -> None:
    ids = web_images(fleet, 3)
    _, applied = fleet.apply()
    assert not applied.failed
    old = fleet.images()["web-0"]
    assert RETIRED in {t["Key"] for t in old["Tags"]} and old["DeprecationTime"]
    fleet.cloud.clock.advance(DAY)
    fleet.apply()
    assert fleet.images()["web-0"]["State"] == "disabled"
    fleet.cloud.clock.advance(DAY)
    found, applied = fleet.apply()
    assert by_name(found)["web-0"].action == "deregister"
    assert by_name(found)["web-0"].freed_bytes > 0
    assert "web-0" not in fleet.images() and {"web-1", "web-2"} <= set(fleet.images())
    snapshot = old["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    left = fleet.client().describe_snapshots(OwnerIds=["self"])["Snapshots"]
    assert snapshot not in {s["SnapshotId"] for s in left}
    assert ids[0] not in {i["ImageId"] for i in fleet.images().values()}


def test_launch_templates_without_a_group_and_parameters_hold_images(fleet: Fleet) -> None:
    ids = web_images(fleet, 5)
    ec2, ssm = fleet.client(), fleet.client("ssm")
    template = ec2.create_launch_template(
        LaunchTemplateName="web-lt", LaunchTemplateData={"ImageId": ids[0]}
    )["LaunchTemplate"]["LaunchTemplateId"]
    for _ in range(25):  # the default version falls far behind the newest 20
        ec2.create_launch_template_version(
            LaunchTemplateId=template, LaunchTemplateData={"ImageId": ids[4]}
        )
    ec2.create_launch_template(LaunchTemplateName="recent", LaunchTemplateData={"ImageId": ids[1]})
    ssm.put_parameter(Name="/golden/web", Value=ids[2], Type="String", DataType="aws:ec2:image")
    for _ in range(3):
        fleet.apply()
        fleet.cloud.clock.advance(DAY)
    left = fleet.images()
    assert {"web-0", "web-1", "web-2"} <= set(left)
    assert all(left[n]["State"] == "available" for n in ("web-0", "web-1", "web-2"))
    decisions = by_name(fleet.plan())
    assert decisions["web-0"].held_by == [f"launch template {template}"]
    assert decisions["web-1"].held_by[0].startswith("launch template lt-")
    assert decisions["web-2"].held_by == ["parameter /golden/web"]
    assert decisions["web-0"].action == "held"


def test_use_by_an_account_the_image_is_shared_with_holds_it(fleet: Fleet) -> None:
    ids = web_images(fleet, 3)
    fleet.client().modify_image_attribute(
        ImageId=ids[0], LaunchPermission={"Add": [{"UserId": OTHER}]}
    )
    fleet.client(account=OTHER).create_launch_template(
        LaunchTemplateName="theirs", LaunchTemplateData={"ImageId": ids[0]}
    )
    for _ in range(3):
        fleet.apply()
        fleet.cloud.clock.advance(DAY)
    assert fleet.images()["web-0"]["State"] == "available"
    decision = by_name(fleet.plan())["web-0"]
    assert decision.held_by == [f"account {OTHER}: 1 launch template(s)"]
    reports = fleet.client().describe_image_usage_reports()["ImageUsageReports"]
    assert reports == []  # the usage reports made to ask are deleted


def test_an_image_used_between_plan_and_call_survives(fleet: Fleet) -> None:
    ids = web_images(fleet, 3)
    fleet.apply()
    fleet.cloud.clock.advance(2 * DAY)
    chosen = targets(fleet.policy, fleet._clients)
    found = plan(fleet.policy, chosen, fleet.cloud.clock.now())
    assert by_name(found)["web-0"].action == "deregister"
    fleet.client().create_launch_template(
        LaunchTemplateName="late", LaunchTemplateData={"ImageId": ids[0]}
    )
    journal = Journal.create(fleet.tmp_path / "journals", "late", identity="t")
    applied = apply(found, chosen, journal, fleet.policy.in_use, fleet.cloud.clock.now, print)
    journal.release()
    assert "web-0" in fleet.images()
    assert any(
        "web-0: deregister not done: in use now: launch template" in s for s in applied.skipped
    )


def test_an_image_kept_again_is_restored(fleet: Fleet) -> None:
    ids = web_images(fleet, 3)
    fleet.apply()
    fleet.cloud.clock.advance(DAY)
    fleet.apply()
    assert fleet.images()["web-0"]["State"] == "disabled"
    fleet.client().create_tags(Resources=[ids[0]], Tags=[{"Key": "keep", "Value": "true"}])
    found, _ = fleet.apply()
    assert by_name(found)["web-0"].action == "restore"
    image = fleet.images()["web-0"]
    assert image["State"] == "available" and "DeprecationTime" not in image
    assert {t["Key"] for t in image["Tags"]} == {"keep"}


def test_an_earlier_deprecation_is_kept_and_put_back(fleet: Fleet) -> None:
    ids = web_images(fleet, 3)
    earlier = (fleet.cloud.clock.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fleet.client().enable_image_deprecation(ImageId=ids[0], DeprecateAt=earlier)
    deprecation = fleet.images()["web-0"]["DeprecationTime"]  # rounded to the minute
    fleet.policy_path.write_text(
        POLICY.replace("deprecate: 0d, disable: 1d, deregister: 2d", "deprecate: 5d")
    )
    found, _ = fleet.apply()
    assert [s.kind for s in by_name(found)["web-0"].steps] == ["retire"]
    fleet.client().create_tags(Resources=[ids[0]], Tags=[{"Key": "keep", "Value": "true"}])
    fleet.apply()
    assert fleet.images()["web-0"]["DeprecationTime"] == deprecation


def test_protection_locks_and_the_recycle_bin_are_reported(fleet: Fleet) -> None:
    ids = web_images(fleet, 5)
    ec2 = fleet.client()
    ec2.enable_image_deregistration_protection(ImageId=ids[0])
    locked = fleet.images()["web-1"]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    ec2.lock_snapshot(SnapshotId=locked, LockMode="governance", LockDuration=30)
    fleet.client("rbin").create_rule(
        ResourceType="EC2_IMAGE",
        RetentionPeriod={"RetentionPeriodValue": 7, "RetentionPeriodUnit": "DAYS"},
        ResourceTags=[{"ResourceTagKey": "bin", "ResourceTagValue": "yes"}],
    )
    ec2.create_tags(Resources=[ids[2]], Tags=[{"Key": "bin", "Value": "yes"}])
    fleet.apply()
    fleet.cloud.clock.advance(2 * DAY)
    found, applied = fleet.apply()
    decisions = by_name(found)
    assert decisions["web-0"].action == "protected"
    assert decisions["web-1"].action == "locked"
    assert decisions["web-2"].action == "deregister"
    assert decisions["web-2"].note.startswith("kept 7 days in the Recycle Bin (rule ")
    assert not applied.failed
    assert {"web-0", "web-1"} <= set(fleet.images()) and "web-2" not in fleet.images()


def test_each_region_keeps_its_own_newest(fleet: Fleet) -> None:
    web_images(fleet, 3)
    web_images(fleet, 1, region="eu-west-1")
    found = fleet.plan()
    assert {n: d.action for n, d in by_name(found, "eu-west-1").items()} == {"web-0": "keep"}
    assert by_name(found)["web-0"].action == "deprecate"


def test_an_interrupted_apply_finishes_without_doing_anything_twice(fleet: Fleet) -> None:
    web_images(fleet, 4)
    chosen = targets(fleet.policy, fleet._clients)
    calls: list[str] = []

    def interrupt(event_name: str, **_: Any) -> None:
        calls.append(event_name)
        if event_name.endswith("EnableImageDeprecation") and calls.count(event_name) == 1:
            raise KeyboardInterrupt

    for target in chosen:
        target.ec2.meta.events.register("before-call.ec2.*", interrupt)
    found = plan(fleet.policy, chosen, fleet.cloud.clock.now())
    journal = Journal.create(fleet.tmp_path / "journals", "cut", identity="t")
    with pytest.raises(KeyboardInterrupt):
        apply(found, chosen, journal, fleet.policy.in_use, fleet.cloud.clock.now, print)
    journal.release()
    resumed = Journal.resumable(fleet.tmp_path / "journals", "t", ("running",))
    assert resumed is not None
    resumed.hold()
    again = plan(fleet.policy, chosen, fleet.cloud.clock.now())
    applied = apply(again, chosen, resumed, fleet.policy.in_use, fleet.cloud.clock.now, print)
    resumed.release()
    assert not applied.failed
    tagged = [
        n for n, i in fleet.images().items() if RETIRED in {t["Key"] for t in i.get("Tags", [])}
    ]
    assert sorted(tagged) == ["web-0", "web-1"]
    assert all("DeprecationTime" in fleet.images()[n] for n in tagged)
    retire_calls = [c for c in calls if c.endswith(".CreateTags")]
    assert len(retire_calls) == 2  # each image tagged once, across both runs


def test_a_failed_call_is_reported_and_the_image_left_for_the_next_run(fleet: Fleet) -> None:
    web_images(fleet, 4)
    chosen = targets(fleet.policy, fleet._clients)

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if params.get("ImageId") == fleet.images()["web-1"]["ImageId"]:
            params["DeprecateAt"] = "1999-01-01T00:00:00Z"  # EC2 refuses a time in the past

    for target in chosen:
        target.ec2.meta.events.register("provide-client-params.ec2.EnableImageDeprecation", refuse)
    found = plan(fleet.policy, chosen, fleet.cloud.clock.now())
    journal = Journal.create(fleet.tmp_path / "journals", "failing", identity="t")
    applied = apply(found, chosen, journal, fleet.policy.in_use, fleet.cloud.clock.now, print)
    journal.release()
    assert len(applied.failed) == 1 and "web-1: deprecate failed:" in applied.failed[0]
    assert "DeprecationTime" in fleet.images()["web-0"]
    assert "DeprecationTime" not in fleet.images()["web-1"]
    found, applied = fleet.apply()
    assert not applied.failed and "DeprecationTime" in fleet.images()["web-1"]
