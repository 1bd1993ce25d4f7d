"""An audit's result: the checks made, the findings among them (worst
first), what was skipped and why, the verdict against a threshold, and the
JSON form:

    {"findings": [{rule, severity, region, image_id, message, evidence}],
     "skipped": [{rule, region, image_id, reason}],
     "rules": [{id, severity, needs, title, rationale, remediation}],
     "summary": {regions, images, checks, findings: {severity: n}, skipped,
                 disabled, fail_on, failed}}

`image_id` is null for a finding (or skip) about a region.
"""

from dataclasses import dataclass
from typing import Any

from .findings import SEVERITIES, Check, Finding, Severity, rank
from .rules import Rule


@dataclass(frozen=True)
class Report:
    rules: list[Rule]  # the rules run: built-in, then custom
    disabled: list[str]  # the ids of the built-in rules turned off
    images: dict[str, list[str]]  # region -> the images audited there
    checks: list[Check]
    account: str  # whose credentials audited (STS GetCallerIdentity)

    @property
    def findings(self) -> list[Finding]:
        found = [check.finding for check in self.checks if check.finding is not None]
        return sorted(found, key=lambda f: (-rank(f.severity), f.region, f.image_id or "", f.rule))

    @property
    def skipped(self) -> list[Check]:
        return [check for check in self.checks if check.skipped is not None]

    def counts(self) -> dict[Severity, int]:
        """Findings per severity, the worst first."""
        found = self.findings
        return {s: sum(f.severity == s for f in found) for s in reversed(SEVERITIES)}

    def failed(self, fail_on: Severity) -> bool:
        """Whether some finding is at or above `fail_on`."""
        return any(rank(f.severity) >= rank(fail_on) for f in self.findings)

    def as_json(self, fail_on: Severity) -> dict[str, Any]:
        return {
            "findings": [finding.as_dict() for finding in self.findings],
            "skipped": [
                {"rule": c.rule, "region": c.region, "image_id": c.image_id, "reason": c.skipped}
                for c in self.skipped
            ],
            "rules": [_described(rule) for rule in self.rules],
            "summary": {
                "regions": list(self.images),
                "images": sum(len(ids) for ids in self.images.values()),
                "checks": len(self.checks),
                "findings": self.counts(),
                "skipped": len(self.skipped),
                "disabled": self.disabled,
                "fail_on": fail_on,
                "failed": self.failed(fail_on),
            },
        }

    def summary_line(self, fail_on: Severity) -> str:
        """One line for people: what was audited, what was found, the verdict."""
        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items() if n)
        images = sum(len(ids) for ids in self.images.values())
        verdict = "failed" if self.failed(fail_on) else "passed"
        return (
            f"{len(self.findings)} finding(s){f' ({counts})' if counts else ''} in "
            f"{images} image(s), {len(self.images)} region(s); "
            f"{len(self.skipped)} check(s) skipped; {verdict} (--fail-on {fail_on})"
        )


def _described(rule: Rule) -> dict[str, str]:
    return {
        "id": rule.id,
        "severity": rule.severity,
        "needs": rule.needs,
        "title": rule.title,
        "rationale": rule.rationale,
        "remediation": rule.remediation,
    }
