"""Audit rules files: rules turned on and off, their parameters and
severities, custom rules; every mistake one line naming the file, the line
and the field. And the registry they name: every built-in rule's id and texts."""

from datetime import timedelta
from pathlib import Path

import pytest

from amiable.tools.audit.findings import SEVERITIES
from amiable.tools.audit.metadata import SharedOutsideSettings
from amiable.tools.audit.rules_file import BUILT_IN, CommandRule, Config
from amiable.tools.user_files import UserFileError

METADATA = [
    "public-image",
    "shared-outside",
    "unencrypted",
    "no-deprecation",
    "too-old",
    "deprecated-in-use",
    "missing-tags",
    "imdsv2-not-required",
    "public-snapshot",
    "public-access-block-off",
    "allowed-images-off",
    "revoked-ancestor",
]
CONTENT = [
    "private-key",
    "aws-credentials",
    "ssh-host-keys",
    "authorized-keys",
    "shell-history",
    "machine-id",
    "world-writable",
    "setuid",
    "vulnerable-package",
]
RULES = """\
rules:
  too-old: {max_age: 30d, severity: high}
  missing-tags:
    keys: [team, owner]
  shared-outside:
    allowed: ["111122223333", "arn:aws:organizations::111122223333:organization/o-abcd123456"]
  allowed-images-off: {enabled: false}
  public-image:
custom:
  - id: no-telnet
    command: "! command -v telnet"
    severity: high
    title: telnet is not installed
  - {id: motd, command: "test -s /etc/motd"}
"""


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = written(tmp_path, text)
    with pytest.raises(UserFileError) as caught:
        Config.load(path)
    return str(caught.value).removeprefix(f"{path}:")


def test_every_built_in_rule_is_registered_with_its_texts() -> None:
    assert list(BUILT_IN) == METADATA + CONTENT
    for rule_id, rule in BUILT_IN.items():
        assert rule.id == rule_id
        assert rule.severity in SEVERITIES
        assert rule.title and rule.rationale and rule.remediation, rule_id
        assert rule.needs == ("content" if rule_id in CONTENT else "metadata")


def test_without_a_file_every_built_in_rule_runs_with_its_defaults() -> None:
    config = Config.load(None)
    assert [rule.id for rule in config.rules] == METADATA + CONTENT
    assert config.disabled == []
    too_old = next(rule for rule in config.rules if rule.id == "too-old")
    assert too_old.severity == "medium"
    assert too_old.settings.max_age == timedelta(days=180)


def test_a_file_turns_rules_off_sets_parameters_and_severities(tmp_path: Path) -> None:
    config = Config.load(written(tmp_path, RULES))
    ids = [rule.id for rule in config.rules]
    assert "allowed-images-off" not in ids
    assert config.disabled == ["allowed-images-off"]
    assert ids[-2:] == ["no-telnet", "motd"]  # custom rules after the built-in ones
    rules = {rule.id: rule for rule in config.rules}
    assert rules["too-old"].severity == "high"
    assert rules["too-old"].settings.max_age == timedelta(days=30)
    assert rules["missing-tags"].settings.keys == ["team", "owner"]
    assert rules["public-image"].severity == "critical"  # named without settings: defaults
    defaults = {rule.id: rule for rule in Config.load(None).rules}
    assert defaults["too-old"].severity == "medium"  # overridden for that file only


def test_custom_rules_are_content_rules(tmp_path: Path) -> None:
    rules = {rule.id: rule for rule in Config.load(written(tmp_path, RULES)).rules}
    telnet, motd = rules["no-telnet"], rules["motd"]
    assert isinstance(telnet, CommandRule) and isinstance(motd, CommandRule)
    assert (telnet.needs, telnet.severity, telnet.title) == (
        "content",
        "high",
        "telnet is not installed",
    )
    assert telnet.command == "! command -v telnet"
    assert motd.severity == "medium"
    assert motd.title == "`test -s /etc/motd` fails in the image"
    assert motd.rationale and motd.remediation


def test_shared_outside_allows_the_organizational_units_of_an_allowed_organization() -> None:
    organization = "arn:aws:organizations::111122223333:organization/o-abcd123456"
    settings = SharedOutsideSettings(allowed=["111122223333", organization])
    assert settings.allows("111122223333")
    assert not settings.allows("444455556666")
    assert settings.allows("arn:aws:organizations::111122223333:ou/o-abcd123456/ou-ab12-cd34ef56")
    assert not settings.allows(
        "arn:aws:organizations::111122223333:ou/o-other12345/ou-ab12-cd34ef56"
    )
    assert not settings.allows("arn:aws:organizations::444455556666:organization/o-other12345")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("rules:\n  no-such-rule: {}\n", "2: rules.no-such-rule: unknown key"),
        ("rules:\n  too-old:\n    max_days: 3\n", "3: rules.too-old.max_days: unknown key"),
        (
            "rules:\n  too-old:\n    max_age: soon\n",
            "3: rules.too-old.max_age: 'soon' is not a duration such as 90d, 12h, 30m or 45s",
        ),
        (
            "rules:\n  public-image: {severity: urgent}\n",
            "2: rules.public-image.severity: input should be 'low', 'medium', 'high' or 'critical'",
        ),
        (
            "rules:\n  too-old: {enabled: maybe}\n",
            "2: rules.too-old.enabled: input should be a valid boolean",
        ),
        (
            "rules:\n  shared-outside:\n    allowed: [111122223333]\n",
            "3: rules.shared-outside.allowed[0]: 111122223333 is a number here; "
            "quote it to make it a string",
        ),
        (
            "rules:\n  shared-outside:\n    allowed: [team-a]\n",
            "3: rules.shared-outside.allowed[0]: 'team-a' is not a 12-digit account id, "
            "an organization ARN or an organizational unit ARN",
        ),
        (
            "rules:\n  missing-tags: {keys: team}\n",
            "2: rules.missing-tags.keys: input should be a valid list",
        ),
        ("rulez: {}\n", "1: rulez: unknown key"),
        (
            "custom:\n  - id: private-key\n    command: 'true'\n",
            "2: custom[0].id: private-key is the id of a built-in rule",
        ),
        (
            "custom:\n  - {id: Bad_Id, command: 'true'}\n",
            "2: custom[0].id: 'Bad_Id': a rule id is 1 to 64 lowercase letters, digits and -",
        ),
        ("custom:\n  - id: mine\n", "2: custom[0].command: missing (it is required)"),
        (
            "custom:\n  - {id: a, command: x}\n  - {id: a, command: y}\n",
            "2: custom: two custom rules have the id a",
        ),
        (
            "custom:\n  - {id: a, command: x, severity: severe}\n",
            "2: custom[0].severity: input should be 'low', 'medium', 'high' or 'critical'",
        ),
    ],
)
def test_every_mistake_is_one_line_with_file_line_and_field(
    tmp_path: Path, text: str, error: str
) -> None:
    assert error_of(tmp_path, text) == error


def test_a_missing_file_and_one_that_is_not_a_mapping(tmp_path: Path) -> None:
    missing = tmp_path / "none.yaml"
    with pytest.raises(UserFileError, match=rf"^{missing}: cannot read the rules file"):
        Config.load(missing)
    assert error_of(tmp_path, "- too-old\n") == "1: a rules file is a mapping of keys to values"
    assert error_of(tmp_path, "rules: [\n").startswith("2: not valid YAML")
