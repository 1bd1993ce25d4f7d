"""The plan: for every image of every family, in every account and region,
what keeps it, what holds it, and the steps to take now (docs/lifecycle.md).
Reading only; `apply` takes the steps.

`decide` is the rule itself, a pure function of an image, its keep and
hold reasons, the family's stages and the time.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from amiable.tools.parallel import at_once
from amiable.tools.user_files import format_duration

from .fleet import Image, RegionView, iso
from .holds import Holds
from .policy import Family, Policy, Stages

DEPRECATE_LEAD = timedelta(seconds=90)  # EC2 refuses a DeprecateAt in the past
KEPT_STATES = ("pending", "failed", "error", "transient", "invalid", "deregistered")
MAX_PARALLEL = 8
DESTRUCTIVE = ("disable", "deregister")


@dataclass(frozen=True)
class Step:
    """One call: retire (tag), deprecate, disable, deregister, and the
    restoring ones: enable, undeprecate, unretire (untag)."""

    kind: str
    values: dict[str, str] = field(default_factory=dict)


@dataclass
class Decision:
    account: str
    region: str
    family: str
    image: Image
    kept_by: list[str]
    held_by: list[str]
    action: str  # keep restore deprecate disable deregister held protected locked, nothing yet
    steps: list[Step]
    due: dict[str, datetime]
    freed_bytes: int = 0
    note: str = ""

    def next_stage(self, now: datetime) -> tuple[str, datetime] | None:
        """The stage that falls due next, and when."""
        later = sorted((when, stage) for stage, when in self.due.items() if when > now)
        return (later[0][1], later[0][0]) if later else None

    def as_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "region": self.region,
            "family": self.family,
            "image_id": self.image.image_id,
            "name": self.image.name,
            "state": self.image.state,
            "created": iso(self.image.created),
            "kept_by": self.kept_by,
            "held_by": self.held_by,
            "action": self.action,
            "steps": [{"kind": s.kind, **s.values} for s in self.steps],
            "due": {stage: iso(when) for stage, when in self.due.items()},
            "freed_bytes": self.freed_bytes,
            "note": self.note,
        }


@dataclass
class Plan:
    decisions: list[Decision]
    now: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "now": iso(self.now),
            "images": [d.as_json() for d in self.decisions],
            "freed_bytes": sum(d.freed_bytes for d in self.decisions),
        }


@dataclass(frozen=True)
class Target:
    """One account in one region, and its clients."""

    account: str
    region: str
    ec2: Any
    rbin: Any

    def view(self) -> RegionView:
        return RegionView(self.ec2, self.rbin, self.account, self.region)


def plan(policy: Policy, targets: list[Target], now: datetime) -> Plan:
    """Every target read at once (threads), decided, in a stable order."""
    per_target = at_once(lambda t: plan_region(policy, t.view(), now, t.ec2), targets, MAX_PARALLEL)
    return Plan([d for decisions in per_target for d in decisions], now)


def plan_region(policy: Policy, view: RegionView, now: datetime, ec2: Any) -> list[Decision]:
    holds = Holds(ec2, policy.in_use)
    families: dict[str, list[Image]] = {}
    for image in view.images:
        family = policy.family_of(image.name, image.tags)
        if family is not None:
            families.setdefault(family.name, []).append(image)
    decisions = [
        decision
        for family in policy.families
        for decision in _family(view, holds, family, families.get(family.name, []), now)
    ]
    _count_freed(view, decisions)
    return decisions


def _family(
    view: RegionView, holds: Holds, family: Family, images: list[Image], now: datetime
) -> list[Decision]:
    """One family's images, newest first: kept, held by the account's own
    resources, and, for those about to be disabled or deregistered, by
    other accounts' use."""
    kept = kept_reasons(family, images, now)
    local = holds.local(i.image_id for i in images if not kept[i.image_id])
    ordered = sorted(images, key=lambda i: (i.created, i.image_id), reverse=True)
    found = [
        _decision(view, family, i, kept[i.image_id], local.get(i.image_id, []), now)
        for i in ordered
    ]
    asked = [n for n, d in enumerate(found) if _destructive(d)]  # held ones have no such step
    shared = at_once(lambda n: holds.shared(found[n].image, now), asked)
    for n, more in zip(asked, shared, strict=True):
        if more:
            image = found[n].image
            held = found[n].held_by + more
            found[n] = _decision(view, family, image, kept[image.image_id], held, now)
    return found


def _destructive(decision: Decision) -> bool:
    return any(s.kind in DESTRUCTIVE for s in decision.steps)


def kept_reasons(family: Family, images: list[Image], now: datetime) -> dict[str, list[str]]:
    """Why each image is kept (nothing: it is not). `newest` counts the
    available and disabled images; images in other states are left alone."""
    keep = family.keep
    reasons: dict[str, list[str]] = {i.image_id: [] for i in images}
    usable = sorted(
        (i for i in images if i.state in ("available", "disabled")),
        key=lambda i: (i.created, i.image_id),
        reverse=True,
    )
    for rank, image in enumerate(usable[: keep.newest], start=1):
        reasons[image.image_id].append(f"newest ({rank} of {keep.newest})")
    for image in images:
        if image.state in KEPT_STATES:
            reasons[image.image_id].append(f"state {image.state}")
        if keep.younger_than is not None and now - image.created < keep.younger_than:
            reasons[image.image_id].append(f"younger than {format_duration(keep.younger_than)}")
        if keep.tagged and all(image.tags.get(k) == v for k, v in keep.tagged.items()):
            tags = ",".join(f"{k}={v}" for k, v in keep.tagged.items())
            reasons[image.image_id].append(f"tagged {tags}")
    return reasons


def _decision(
    view: RegionView,
    family: Family,
    image: Image,
    kept_by: list[str],
    held_by: list[str],
    now: datetime,
) -> Decision:
    action, steps, due = decide(image, kept_by, held_by, family.stages, now, view.lock_on)
    decision = Decision(
        view.account, view.region, family.name, image, kept_by, held_by, action, steps, due
    )
    if action == "deregister":
        rule = view.bin_rule_for(image)
        if rule is not None:
            decision.note = f"kept {rule.days} days in the Recycle Bin (rule {rule.rule_id})"
    return decision


Outcome = tuple[str, list[Step], dict[str, datetime]]


def decide(
    image: Image,
    kept_by: list[str],
    held_by: list[str],
    stages: Stages,
    now: datetime,
    lock_on: Callable[[Image], str | None],
) -> Outcome:
    """The action word, the steps to take now and when each stage falls due."""
    retired = image.retired
    if kept_by:
        if retired is None:
            return "keep", [], {}
        return "restore", restore_steps(image, now), {}
    start = retired or now
    due = {stage: start + delay for stage, delay in _delays(stages)}
    steps = [] if retired else [_retire(image, start)]
    if "deregister" in due and now >= due["deregister"]:
        blocker = _blocker(image, held_by, lock_on)
        if blocker is None:
            return "deregister", [*steps, Step("deregister")], due
    else:
        blocker = None
    steps += _deprecation(image, due["deprecate"], now)
    if "disable" in due and now >= due["disable"] and image.state == "available":
        if held_by:
            blocker = blocker or "held"
        else:
            steps.append(Step("disable"))
    action = blocker or next(
        (s.kind for s in reversed(steps) if s.kind in ("disable", "deprecate")), "nothing yet"
    )
    return action, steps, due


def _delays(stages: Stages) -> list[tuple[str, timedelta]]:
    named = [("deprecate", stages.deprecate), ("disable", stages.disable)]
    return [(s, d) for s, d in [*named, ("deregister", stages.deregister)] if d is not None]


def _retire(image: Image, start: datetime) -> Step:
    values = {"retired": iso(start)}
    if image.deprecation is not None:
        values["previous_deprecation"] = iso(image.deprecation)
    return Step("retire", values)


def _blocker(
    image: Image, held_by: list[str], lock_on: Callable[[Image], str | None]
) -> str | None:
    if image.protected:
        return "protected"
    if held_by:
        return "held"
    return "locked" if lock_on(image) else None


def _deprecation(image: Image, due: datetime, now: datetime) -> list[Step]:
    """Deprecate at the stage's time (not in the past), unless the image is
    disabled or already deprecated at that time or earlier. The time is
    rounded up to the minute, as EC2 keeps it: a rerun asks the same."""
    at = _minute_up(max(due, now + DEPRECATE_LEAD))
    if image.state != "available" or (image.deprecation is not None and image.deprecation <= at):
        return []
    return [Step("deprecate", {"deprecate_at": iso(at)})]


def _minute_up(stamp: datetime) -> datetime:
    whole = stamp.replace(second=0, microsecond=0)
    return whole if whole == stamp else whole + timedelta(minutes=1)


def restore_steps(image: Image, now: datetime) -> list[Step]:
    """Undo the stages of an image kept again: re-enable it, put back the
    deprecation it had before (or none), remove the lifecycle's tags."""
    steps = [Step("enable")] if image.state == "disabled" else []
    previous = image.previous_deprecation
    if previous is not None and previous > now + DEPRECATE_LEAD:
        steps.append(Step("deprecate", {"deprecate_at": iso(previous)}))
    elif previous is None and image.deprecation is not None:
        steps.append(Step("undeprecate"))
    return [*steps, Step("unretire")]


def _count_freed(view: RegionView, decisions: list[Decision]) -> None:
    """Bytes freed by each deregistration: its snapshots no staying image uses."""
    going = {d.image.image_id for d in decisions if d.action == "deregister"}
    if not going:
        return
    staying = {s for i in view.images if i.image_id not in going for s in i.snapshot_ids}
    for decision in decisions:
        if decision.action == "deregister":
            decision.freed_bytes = sum(
                view.snapshot_bytes.get(s, 0) for s in set(decision.image.snapshot_ids) - staying
            )
