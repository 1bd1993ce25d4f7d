"""`ami lifecycle` with real instances: an image a running or a stopped
instance was launched from is never disabled or deregistered; one whose
only instance is terminated is. Needs root (CI runs as root)."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from instance_api import launch

import amiable
from amiable.cloud.core.home import Cloud
from amiable.tools.journal import Journal
from amiable.tools.lifecycle.apply import apply
from amiable.tools.lifecycle.plan import plan
from amiable.tools.lifecycle.policy import Policy
from amiable.tools.lifecycle.targets import targets
from api_helpers import register, terminate, terminate_all
from helpers import require_root

REGION = "eu-central-1"  # the region of conftest's `image`
POLICY = {
    "regions": [REGION],
    "families": [
        {
            "name": "web",
            "select": {"name": "web-*"},
            "keep": {"newest": 1},
            "stages": {"deprecate": "0d", "deregister": "0d"},
        }
    ],
}


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Cloud]:
    require_root("instances run in namespaces with overlayfs")
    cloud = Cloud(tmp_path / "home")
    yield cloud
    terminate_all(amiable.Session(cloud=cloud, region=REGION).client("ec2"))


def test_instances_that_are_not_terminated_hold_their_images(
    cloud: Cloud, clients: tuple[Any, Any], image: str, tmp_path: Path
) -> None:
    ec2, _ = clients
    snapshot = ec2.describe_images(ImageIds=[image])["Images"][0]["BlockDeviceMappings"][0]
    ids = []
    for n in range(4):  # a second apart: registered within one millisecond, they would tie
        ids.append(register(ec2, snapshot["Ebs"]["SnapshotId"], f"web-{n}"))
        cloud.clock.advance(timedelta(seconds=1))
    running = launch(ec2, ids[0])
    stopped = launch(ec2, ids[1])
    ec2.stop_instances(InstanceIds=stopped)
    ec2.get_waiter("instance_stopped").wait(InstanceIds=stopped, WaiterConfig={"Delay": 0.2})
    terminate(ec2, launch(ec2, ids[2]))

    def clients_of(service: str, region: str, profile: str | None) -> Any:
        return amiable.Session(cloud=cloud, region=region, profile=profile).client(service)

    policy = Policy.model_validate(POLICY)
    chosen = targets(policy, clients_of)
    found = plan(policy, chosen, cloud.clock.now())
    decisions = {d.image.name: d for d in found.decisions}
    assert decisions["web-0"].held_by == [f"instance {running[0]}"]
    assert decisions["web-1"].held_by == [f"instance {stopped[0]}"]
    assert decisions["web-2"].held_by == []
    assert [decisions[f"web-{n}"].action for n in range(4)] == [
        "held",
        "held",
        "deregister",
        "keep",
    ]
    journal = Journal.create(tmp_path / "journals", "e2e", identity="e2e")
    applied = apply(found, chosen, journal, policy.in_use, cloud.clock.now, print)
    journal.release()
    assert not applied.failed
    left = ec2.describe_images(Owners=["self"], IncludeDisabled=True)["Images"]
    states = {i["Name"]: i["State"] for i in left if i["Name"].startswith("web-")}
    assert states == {"web-0": "available", "web-1": "available", "web-3": "available"}
