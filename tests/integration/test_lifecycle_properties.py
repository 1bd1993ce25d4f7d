"""Properties of `ami lifecycle apply` over random fleets and policies:
images in use (launch template versions and defaults, parameters, another
account's launch templates on a shared image) are never disabled or
deregistered, the newest of each region are always kept, and an apply cut
off at any call and run again ends as an uninterrupted one does."""

import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import amiable
from amiable.cloud.core.home import Cloud
from amiable.tools.journal import Journal
from amiable.tools.lifecycle.apply import RESUMABLE, apply
from amiable.tools.lifecycle.fleet import RETIRED
from amiable.tools.lifecycle.plan import plan
from amiable.tools.lifecycle.policy import Policy
from amiable.tools.lifecycle.targets import targets
from api_helpers import OTHER, imported_snapshot, register

REGIONS = ["us-east-1", "eu-west-1"]
MUTATING = ("CreateTags", "EnableImageDeprecation", "DisableImage", "DeregisterImage")


@dataclass(frozen=True)
class Use:
    kind: str  # template-latest | template-default | parameter | other-account
    region: int
    image: int


@dataclass(frozen=True)
class Example:
    counts: tuple[int, int]  # images per region
    kept_by_tag: frozenset[tuple[int, int]]
    uses: tuple[Use, ...]
    newest: int
    stages: dict[str, str]
    days: tuple[int, ...]  # clock advance after each apply


@st.composite
def examples(draw: st.DrawFn) -> Example:
    counts = (draw(st.integers(1, 5)), draw(st.integers(0, 3)))
    images = [(r, i) for r in range(2) for i in range(counts[r])]
    uses = draw(
        st.lists(
            st.builds(
                lambda kind, at: Use(kind, *at),
                st.sampled_from(["template-latest", "template-default", "parameter", "other"]),
                st.sampled_from(images),
            ),
            max_size=3,
        )
    )
    delays = sorted(draw(st.lists(st.integers(0, 2), min_size=3, max_size=3)))
    stages = {"deprecate": f"{delays[0]}d", "deregister": f"{delays[2]}d"}
    if draw(st.booleans()):
        stages["disable"] = f"{delays[1]}d"
    return Example(
        counts=counts,
        kept_by_tag=frozenset(draw(st.sets(st.sampled_from(images), max_size=2))),
        uses=tuple(uses),
        newest=draw(st.integers(0, 2)),
        stages=stages,
        days=tuple(draw(st.lists(st.integers(0, 2), min_size=2, max_size=3))),
    )


class World:
    """A cloud made from an example."""

    def __init__(self, folder: Path, example: Example) -> None:
        self.folder = folder
        self.cloud = Cloud(folder / "home")
        self.cloud.accounts.create(OTHER, "other", "AKIAOTHER", "other-secret")
        self.ids: dict[tuple[int, int], str] = {}
        self.runs = 0
        for r, count in enumerate(example.counts):
            ec2 = self.client(REGIONS[r])
            snapshot = imported_snapshot(ec2, folder / f"root-{r}") if count else ""
            for i in range(count):
                tags = [{"Key": "keep", "Value": "true"}] if (r, i) in example.kept_by_tag else []
                spec = [{"ResourceType": "image", "Tags": tags}] if tags else []
                self.ids[r, i] = register(ec2, snapshot, f"web-{i}", TagSpecifications=spec)
                self.cloud.clock.advance(timedelta(seconds=1))  # no two created at once
        for n, use in enumerate(example.uses):
            self._use(n, use)
        self.policy = Policy.model_validate(
            {
                "regions": REGIONS,
                "families": [
                    {
                        "name": "web",
                        "select": {"name": "web-*"},
                        "keep": {"newest": example.newest, "tagged": {"keep": "true"}},
                        "stages": example.stages,
                    }
                ],
            }
        )
        self.targets = targets(self.policy, self._clients)

    def client(self, region: str, service: str = "ec2", account: str = "000000000000") -> Any:
        return amiable.Session(cloud=self.cloud, account=account, region=region).client(service)

    def _clients(self, service: str, region: str, profile: str | None) -> Any:
        return amiable.Session(cloud=self.cloud, region=region, profile=profile).client(service)

    def _use(self, n: int, use: Use) -> None:
        region, image_id = REGIONS[use.region], self.ids[use.region, use.image]
        ec2 = self.client(region)
        if use.kind == "parameter":
            self.client(region, "ssm").put_parameter(
                Name=f"/web/{n}", Value=image_id, Type="String", DataType="aws:ec2:image"
            )
        elif use.kind == "other":
            ec2.modify_image_attribute(
                ImageId=image_id, LaunchPermission={"Add": [{"UserId": OTHER}]}
            )
            self.client(region, account=OTHER).create_launch_template(
                LaunchTemplateName=f"theirs-{n}", LaunchTemplateData={"ImageId": image_id}
            )
        else:
            made = ec2.create_launch_template(
                LaunchTemplateName=f"lt-{n}", LaunchTemplateData={"ImageId": image_id}
            )["LaunchTemplate"]["LaunchTemplateId"]
            if use.kind == "template-default":  # newer versions name nothing of ours
                for _ in range(21):
                    ec2.create_launch_template_version(
                        LaunchTemplateId=made, LaunchTemplateData={"InstanceType": "t3.micro"}
                    )

    def apply(self, cut_at: int | None = None) -> None:
        """One apply; with `cut_at`, interrupted at that mutating call and run again."""
        journals = self.folder / "journals"
        calls = {"n": 0}

        def cut(event_name: str, **_: Any) -> None:
            if event_name.rsplit(".", 1)[-1] in MUTATING:
                calls["n"] += 1
                if calls["n"] == cut_at:
                    raise KeyboardInterrupt

        for target in self.targets:
            target.ec2.meta.events.register("before-call.ec2.*", cut)
        journal = Journal.resumable(journals, "p", RESUMABLE)
        if journal is None:
            self.runs += 1
            journal = Journal.create(journals, f"run-{self.runs}", identity="p")
        else:
            journal.hold()
        try:
            found = plan(self.policy, self.targets, self.cloud.clock.now())
            apply(found, self.targets, journal, self.policy.in_use, self.cloud.clock.now, _quiet)
            journal.end("done")
        except KeyboardInterrupt:
            pass
        finally:
            journal.release()
            for target in self.targets:
                target.ec2.meta.events.unregister("before-call.ec2.*", cut)
        if cut_at is not None and calls["n"] >= cut_at:
            self.apply()

    def state(self) -> dict[tuple[str, str], tuple[str, bool, bool]]:
        """Each image by region and name: its state, deprecated, retired."""
        found = {}
        for region in REGIONS:
            images = self.client(region).describe_images(Owners=["self"], IncludeDisabled=True)
            for image in images["Images"]:
                tags = {t["Key"] for t in image.get("Tags", [])}
                found[region, image["Name"]] = (
                    image["State"],
                    "DeprecationTime" in image,
                    RETIRED in tags,
                )
        return found

    def used(self, example: Example) -> set[tuple[str, str]]:
        return {(REGIONS[u.region], f"web-{u.image}") for u in example.uses}


def _quiet(line: str) -> None:
    pass


def check_invariants(world: World, example: Example) -> None:
    state = world.state()
    for key in world.used(example):
        assert key in state and state[key][0] == "available", key
    for r, count in enumerate(example.counts):
        newest = [f"web-{i}" for i in range(count)][::-1][: example.newest]
        for name in newest:
            assert (REGIONS[r], name) in state, (REGIONS[r], name)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(example=examples(), cut_at=st.integers(1, 12))
def test_apply_never_removes_what_is_used_and_a_cut_apply_ends_the_same(
    example: Example, cut_at: int
) -> None:
    with tempfile.TemporaryDirectory() as whole_dir, tempfile.TemporaryDirectory() as cut_dir:
        whole, cut = World(Path(whole_dir), example), World(Path(cut_dir), example)
        try:
            for days in example.days:
                whole.apply()
                cut.apply(cut_at)
                check_invariants(whole, example)
                check_invariants(cut, example)
                assert cut.state() == whole.state()
                whole.cloud.clock.advance(timedelta(days=days, minutes=1))
                cut.cloud.clock.advance(timedelta(days=days, minutes=1))
        finally:
            whole.cloud.close()
            cut.cloud.close()
