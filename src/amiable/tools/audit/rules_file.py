"""The built-in rules by id, and the rules file (`--rules FILE`): which
rules run, with what parameters and severity, and the custom rules, every
mistake told as `FILE:LINE: field: problem`:

    rules:
      too-old: {max_age: 30d, severity: high}
      missing-tags: {keys: [team, owner]}
      shared-outside: {allowed: ["111122223333"]}
      allowed-images-off: {enabled: false}
    custom:
      - {id: no-telnet, command: "! command -v telnet", severity: high}

Under `rules` each key is a rule's id and its value that rule's settings
(its own model, so a misspelt parameter is an error); a rule not named
keeps its defaults. A custom rule is a content rule: its command runs
inside the image, and a non-zero exit status is a finding.
"""

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, Field, create_model, field_validator

from amiable.tools.user_files import Strict, load

from .content import CONTENT_RULES
from .findings import Severity
from .metadata import METADATA_RULES
from .rules import ContentRule, Rule, RuleSettings

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
BUILT_IN: dict[str, type[Rule]] = {rule.id: rule for rule in (*METADATA_RULES, *CONTENT_RULES)}


class _ById(Strict):
    model_config = ConfigDict(populate_by_name=False)  # keys are rule ids, as written


def _field(rule_id: str) -> str:
    return rule_id.replace("-", "_")


if TYPE_CHECKING:
    Rules = Strict
else:  # a field per built-in rule, its Settings model, under the rule's id
    Rules = create_model(
        "Rules",
        __base__=_ById,
        **{
            _field(rule.id): (rule.Settings | None, Field(default=None, alias=rule.id))
            for rule in BUILT_IN.values()
        },
    )


class Custom(Strict):
    id: str
    command: str = Field(min_length=1)
    severity: Severity = "medium"
    title: str = ""
    rationale: str = ""
    remediation: str = ""

    @field_validator("id")
    @classmethod
    def _new_id(cls, rule_id: str) -> str:
        if not _ID.match(rule_id):
            raise ValueError(f"{rule_id!r}: a rule id is 1 to 64 lowercase letters, digits and -")
        if rule_id in BUILT_IN:
            raise ValueError(f"{rule_id} is the id of a built-in rule")
        return rule_id


class RulesFile(Strict):
    rules: Rules | None = None
    custom: list[Custom] = Field(default_factory=list)

    @field_validator("custom")
    @classmethod
    def _unique(cls, customs: list[Custom]) -> list[Custom]:
        ids = [c.id for c in customs]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"two custom rules have the id {twice[0]}")
        return customs

    def settings(self, rule: type[Rule]) -> RuleSettings:
        written: Any = getattr(self.rules, _field(rule.id), None)
        return written if written is not None else rule.Settings()


class CommandRule(ContentRule):
    """A custom rule: its command, run inside the image, must exit 0."""

    def __init__(self, custom: Custom) -> None:
        super().__init__(RuleSettings(severity=custom.severity))
        self.id = custom.id
        self.command = custom.command
        self.title = custom.title or f"`{custom.command}` fails in the image"
        self.rationale = custom.rationale or f"Custom rule: `{custom.command}` must exit 0."
        self.remediation = custom.remediation or "Change the image until the command exits 0."


class Config:
    """The rules to run: every built-in one not turned off, with its
    settings, then the custom ones; and the ids of those turned off."""

    def __init__(self, written: RulesFile) -> None:
        self.rules: list[Rule] = []
        self.disabled: list[str] = []
        for rule in BUILT_IN.values():
            settings = written.settings(rule)
            if settings.enabled:
                self.rules.append(rule(settings))
            else:
                self.disabled.append(rule.id)
        self.rules += [CommandRule(custom) for custom in written.custom]

    @classmethod
    def load(cls, path: Path | None) -> "Config":
        """The rules file at `path` (None: the defaults); a UserFileError
        names the line and field of a mistake."""
        return cls(load(path, RulesFile, "rules file")[0] if path else RulesFile())
