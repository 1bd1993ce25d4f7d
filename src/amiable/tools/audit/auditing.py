"""Running an audit: every rule on every image (or once per region) of each
region asked for, the regions at once; a boto3 client factory in, a Report
out. Content rules run in `content_checks` (inspection.py: inside each
image); without `--content` they are skipped, saying so."""

import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from amiable.tools.parallel import at_once
from amiable.tools.remote import Remote

from .facts import Lineage, RegionFacts, Selection
from .findings import Check, Skip
from .inspection import ContentOptions, audit_image, inspect
from .report import Report
from .rules import ContentRule, ImageRule, Problem, RegionRule, Rule
from .rules_file import Config

ClientFactory = Callable[[str, str], Any]  # (service, region) -> boto3 client
MAX_PARALLEL_REGIONS = 8
NO_CONTENT = "a content rule: it runs inside the image (ami audit --content)"


class NotFound(Exception):
    """Image ids asked for that no region audited has."""


class Clients:
    """boto3 clients per service and region, made once, from any thread."""

    def __init__(self, factory: ClientFactory) -> None:
        self._factory = factory
        self._made: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, region: str) -> Any:
        with self._lock:
            if (service, region) not in self._made:
                self._made[service, region] = self._factory(service, region)
            return self._made[service, region]

    def ec2(self, region: str) -> Any:
        return self.client("ec2", region)


@dataclass(frozen=True)
class Plan:
    regions: list[str]
    selection: Selection = field(default_factory=lambda: Selection(owners=["self"]))
    config: Config = field(default_factory=lambda: Config.load(None))
    content: bool = False  # run the content rules (--content)
    inspection: ContentOptions = field(default_factory=ContentOptions)  # for content audits
    now: datetime | None = None  # default: when the audit starts


def audit(factory: ClientFactory, plan: Plan) -> Report:
    """The audit `plan` describes; NotFound if an image id asked for is in no region."""
    clients = Clients(factory)
    account = str(clients.client("sts", plan.regions[0]).get_caller_identity()["Account"])
    now = plan.now or datetime.now(UTC)
    lineage = Lineage(clients.ec2)
    regions = [
        RegionFacts(clients.ec2(name), name, account, now, plan.selection, lineage)
        for name in plan.regions
    ]
    at_once(lambda region: region.images, regions, MAX_PARALLEL_REGIONS)
    _all_found(plan.selection, regions)
    checks = at_once(
        lambda region: list(_checks(clients, plan, region)), regions, MAX_PARALLEL_REGIONS
    )
    found = [check for region_checks in checks for check in region_checks]
    return Report(
        rules=plan.config.rules,
        disabled=plan.config.disabled,
        images={region.name: [i.image_id for i in region.images] for region in regions},
        checks=found,
        account=account,
    )


def audit_candidate(
    factory: ClientFactory,
    region: str,
    image_id: str,
    config: Config,
    remote: Remote,
    options: ContentOptions,
) -> Report:
    """A bake's candidate image: the image rules (not the region's: they are
    not the image's doing), and the content rules inside `remote`, its test
    instance."""
    clients = Clients(factory)
    account = str(clients.client("sts", region).get_caller_identity()["Account"])
    facts = RegionFacts(
        clients.ec2(region),
        region,
        account,
        datetime.now(UTC),
        Selection(owners=None, image_ids=[image_id]),
        Lineage(clients.ec2),
    )
    checks = [
        _evaluated(rule, region, image_id, partial(rule.check, image))
        for rule in config.rules
        if isinstance(rule, ImageRule)
        for image in facts.images
    ]
    content = [rule for rule in config.rules if isinstance(rule, ContentRule)]
    checks += inspect(remote, region, image_id, content, options)
    return Report(config.rules, config.disabled, {region: [image_id]}, checks, account)


def _all_found(selection: Selection, regions: list[RegionFacts]) -> None:
    found = {image.image_id for region in regions for image in region.images}
    missing = [i for i in selection.image_ids or [] if i not in found]
    if missing:
        where = ", ".join(region.name for region in regions)
        raise NotFound(f"InvalidAMIID.NotFound: {', '.join(missing)} not found in {where}")


def _read_ahead(region: RegionFacts, rules: list[Rule]) -> None:
    """The per-image facts the rules will ask for, several images at once."""
    names = sorted({name for rule in rules if isinstance(rule, ImageRule) for name in rule.reads})

    def read(image: Any) -> None:
        for name in names:
            with suppress(Skip):
                getattr(image, name)

    if names:
        at_once(read, region.images)


def _checks(clients: Clients, plan: Plan, region: RegionFacts) -> Iterator[Check]:
    _read_ahead(region, plan.config.rules)
    content = [rule for rule in plan.config.rules if isinstance(rule, ContentRule)]
    for rule in plan.config.rules:
        if isinstance(rule, RegionRule):
            yield _evaluated(rule, region.name, None, partial(rule.check, region))
        elif isinstance(rule, ImageRule):
            for image in region.images:
                yield _evaluated(rule, region.name, image.image_id, partial(rule.check, image))
    if plan.content:
        yield from content_checks(clients, region, content, plan.inspection)
    else:
        yield from _skipped(region, content, NO_CONTENT)


def content_checks(
    clients: Clients, region: RegionFacts, rules: list[ContentRule], options: ContentOptions
) -> list[Check]:
    """The content rules (built-in and custom) checked inside every image of
    `region`, each on an instance of its own (inspection.py)."""
    if not rules:
        return []
    ec2, ssm = clients.ec2(region.name), clients.client("ssm", region.name)
    return [
        check
        for image in region.images
        for check in audit_image(ec2, ssm, region.name, image.image_id, rules, options)
    ]


def _skipped(region: RegionFacts, rules: list[ContentRule], reason: str) -> Iterator[Check]:
    for rule in rules:
        for image in region.images:
            yield Check(rule.id, region.name, image.image_id, skipped=reason)


def _evaluated(
    rule: Rule, region: str, image_id: str | None, check: Callable[[], Problem | None]
) -> Check:
    try:
        problem = check()
    except Skip as skip:
        return Check(rule.id, region, image_id, skipped=str(skip))
    if problem is None:
        return Check(rule.id, region, image_id)
    return Check(rule.id, region, image_id, finding=rule.finding(problem, region, image_id))
