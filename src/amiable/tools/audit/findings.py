"""What an audit says: severities in order, a finding (one rule broken by
one image, or by a region), and a check (one rule evaluated on one image or
region: passed, failed with its finding, or skipped with the reason)."""

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")


def rank(severity: Severity) -> int:
    """The higher, the worse."""
    return SEVERITIES.index(severity)


class Skip(Exception):
    """A rule that cannot be evaluated on this subject; the message says why."""


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    region: str
    image_id: str | None  # None: a finding about the region
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "region": self.region,
            "image_id": self.image_id,
            "message": self.message,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class Check:
    rule: str
    region: str
    image_id: str | None
    finding: Finding | None = None
    skipped: str | None = None  # the reason, when the rule could not be evaluated

    @property
    def subject(self) -> str:
        return self.image_id or self.region
