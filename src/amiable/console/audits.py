"""The Audit page: the visitor's most recent audit, read from the records
`ami audit` keeps in the state directory of the server's user
(`audits/<account>/<target digest>.json`, tools/audit/record.py): when,
which regions, the summary and verdict, the findings grouped by rule (worst
first) with each finding's region, image and message, and the checks
skipped. Only records naming the visitor's account and a target this
server may have served count (records.visible); a record of another shape
is skipped. With none, the page says how to make one."""

from collections import Counter
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from amiable.cloud.core.home import Cloud
from amiable.cloud.core.regions import REGION_NAMES
from amiable.tools.audit import record
from amiable.tools.audit.findings import SEVERITIES

from . import records
from .auth import Visitor, cloud_of, signed_in
from .image_views import IMAGE_ID
from .records import Malformed
from .regions import region_of
from .render import page

WORST_FIRST = tuple(reversed(SEVERITIES))


@dataclass(frozen=True)
class FindingRow:
    region: str
    image_id: str | None
    linked: bool  # an image the console can show
    message: str


@dataclass(frozen=True)
class RuleGroup:
    rule: str
    title: str
    severity: str
    findings: list[FindingRow]


@dataclass(frozen=True)
class Skipped:
    rule: str
    reason: str
    checks: int


@dataclass(frozen=True)
class Audit:
    finished: str
    regions: list[str]
    images: int
    checks: int
    counts: list[tuple[str, int]]  # findings by severity, worst first
    failed: bool
    fail_on: str
    groups: list[RuleGroup]
    skipped: list[Skipped]

    @property
    def findings(self) -> int:
        return sum(n for _, n in self.counts)


def _severity(data: dict[str, Any]) -> str:
    severity = records.text(data, "severity")
    if severity not in SEVERITIES:
        raise Malformed(f"{severity!r}: not a severity")
    return severity


def _finding(found: dict[str, Any]) -> FindingRow:
    region, image_id = records.text(found, "region"), records.optional_text(found, "image_id")
    linked = region in REGION_NAMES and image_id is not None and bool(IMAGE_ID.match(image_id))
    return FindingRow(region, image_id, linked, records.text(found, "message"))


def _groups(report: dict[str, Any]) -> list[RuleGroup]:
    """The findings by rule, the worst severity first, then by rule id."""
    titles = {
        records.text(rule, "id"): records.text(rule, "title")
        for rule in records.objects(report.get("rules"))
    }
    by_rule: dict[tuple[str, str], list[FindingRow]] = {}
    for found in records.objects(report.get("findings")):
        key = (records.text(found, "rule"), _severity(found))
        by_rule.setdefault(key, []).append(_finding(found))
    ordered = sorted(by_rule, key=lambda key: (WORST_FIRST.index(key[1]), key[0]))
    return [
        RuleGroup(rule, titles.get(rule, rule), sev, by_rule[rule, sev]) for rule, sev in ordered
    ]


def _skipped(report: dict[str, Any]) -> list[Skipped]:
    """The checks skipped, counted by rule and reason."""
    counted = Counter(
        (records.text(skip, "rule"), records.text(skip, "reason"))
        for skip in records.objects(report.get("skipped"))
    )
    return [Skipped(rule, reason, n) for (rule, reason), n in sorted(counted.items())]


def _counts(summary: dict[str, Any]) -> list[tuple[str, int]]:
    found = records.mapping(summary.get("findings"))
    return [(severity, int(records.number(found, severity))) for severity in WORST_FIRST]


def audit_of(data: dict[str, Any]) -> Audit:
    """The audit a record describes (Malformed if it is of another shape)."""
    report = records.mapping(data.get("report"))
    summary = records.mapping(report.get("summary"))
    finished = records.text(data, "finished")
    records.moment(finished)  # records are ordered by it
    return Audit(
        finished=finished,
        regions=records.strings(data.get("regions")),
        images=int(records.number(summary, "images")),
        checks=int(records.number(summary, "checks")),
        counts=_counts(summary),
        failed=records.flag(summary, "failed"),
        fail_on=records.text(summary, "fail_on"),
        groups=_groups(report),
        skipped=_skipped(report),
    )


def latest(cloud: Cloud, visitor: Visitor) -> Audit | None:
    """The visitor's most recent audit on a target of this server."""
    if not record.ACCOUNT.fullmatch(visitor.account_id):
        return None
    found = []
    for path in records.listed(record.folder(visitor.account_id)).values():
        try:
            data = records.read(path)
            if records.visible(data, cloud, visitor):
                found.append(audit_of(data))
        except Malformed:
            continue
    return max(found, key=lambda audit: records.moment(audit.finished), default=None)


@signed_in
async def audit_page(request: Request, visitor: Visitor) -> Response:
    region = region_of(request)
    audit = await run_in_threadpool(latest, cloud_of(request), visitor)
    return page(
        request,
        "audit.html",
        title="Audit",
        visitor=visitor,
        region=region,
        audit=audit,
        endpoint=str(request.base_url).rstrip("/"),
    )
