"""What a rule is: a class with a stable `id`, a default `severity`, a
`title`, a `rationale` and a `remediation`, and the pydantic model of what a
rules file may set for it (`Settings`: `enabled`, `severity`, and its
parameters). A metadata rule checks one image (`ImageRule`) or one region
(`RegionRule`) from what the EC2 API tells, and answers a `Problem` or None,
or raises `Skip`; a `ContentRule` needs the image's files (a content audit).
"""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from amiable.tools.user_files import Strict

from .findings import Finding, Severity

if TYPE_CHECKING:
    from .facts import ImageFacts, RegionFacts

Needs = Literal["metadata", "content"]


class RuleSettings(Strict):
    """What a rules file may say of any rule; a rule with parameters extends it."""

    enabled: bool = True
    severity: Severity | None = None  # None: the rule's own


@dataclass(frozen=True)
class Problem:
    """What a rule found wrong: a sentence and the facts behind it."""

    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


class Rule:
    id: str
    severity: Severity
    title: str
    rationale: str
    remediation: str
    needs: Needs = "metadata"
    Settings: type[RuleSettings] = RuleSettings

    def __init__(self, settings: RuleSettings | None = None) -> None:
        self.settings = settings if settings is not None else self.Settings()
        if self.settings.severity is not None:
            self.severity = self.settings.severity

    def finding(self, problem: Problem, region: str, image_id: str | None) -> Finding:
        return Finding(self.id, self.severity, region, image_id, problem.message, problem.evidence)


class ImageRule(Rule):
    """A metadata rule checked on every image audited; `reads` names the
    ImageFacts it asks the API for, per image, read ahead several at once."""

    reads: tuple[str, ...] = ()

    def check(self, image: "ImageFacts") -> Problem | None:
        raise NotImplementedError


class RegionRule(Rule):
    """A metadata rule checked once per region (its findings name no image)."""

    def check(self, region: "RegionFacts") -> Problem | None:
        raise NotImplementedError


class ContentRule(Rule):
    """A rule checked inside each image's file system (`--content`)."""

    needs = "content"
