"""Lifecycle policies: every mistake is one line naming the file, the line
and the field; families select images by name pattern and tags."""

from datetime import timedelta
from pathlib import Path

import pytest

from amiable.tools.lifecycle.policy import load_policy
from amiable.tools.user_files import UserFileError

POLICY = """\
regions: [us-east-1, eu-west-1]
accounts: [{profile: default}]
in_use: {version_depth: 5, last_launched_within: 7d}
families:
  - name: web
    select: {name: "web-*"}
    keep: {newest: 3, younger_than: 30d, tagged: {keep: "true"}}
    stages: {deprecate: 0d, disable: 7d, deregister: 30d}
  - name: tagged
    select: {tags: {family: db}}
"""


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(UserFileError) as caught:
        load_policy(written(tmp_path, text))
    return str(caught.value)


def test_a_policy_is_read_with_its_durations(tmp_path: Path) -> None:
    policy = load_policy(written(tmp_path, POLICY))
    web, tagged = policy.families
    assert policy.regions == ["us-east-1", "eu-west-1"]
    assert policy.in_use.version_depth == 5
    assert policy.in_use.last_launched_within == timedelta(days=7)
    assert web.keep.newest == 3 and web.keep.younger_than == timedelta(days=30)
    assert web.stages.disable == timedelta(days=7)
    assert tagged.keep.newest == 1 and tagged.stages.deregister is None


def test_the_first_family_that_selects_an_image_has_it(tmp_path: Path) -> None:
    policy = load_policy(written(tmp_path, POLICY))
    assert policy.family_of("web-2", {"family": "db"}).name == "web"  # type: ignore[union-attr]
    assert policy.family_of("db-1", {"family": "db"}).name == "tagged"  # type: ignore[union-attr]
    assert policy.family_of("db-1", {"family": "web"}) is None
    assert policy.family_of("WEB-1", {}) is None  # patterns are case-sensitive


def test_regions_may_be_all(tmp_path: Path) -> None:
    policy = load_policy(written(tmp_path, POLICY.replace("[us-east-1, eu-west-1]", "all")))
    assert policy.regions == "all"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("regions: [us-east-1, eu-west-1]\n", "", ":1: regions: missing"),
        ("keep: {newest: 3,", "keep: {newest: -1,", ":7: families[0].keep.newest:"),
        ("younger_than: 30d", "younger_than: soon", ":7: families[0].keep.younger_than:"),
        ("deregister: 30d", "deregister: 1d", ":8: families[0].stages: the stages' delays"),
        ('select: {name: "web-*"}', "select: {}", ":6: families[0].select: select needs"),
        ("name: tagged", "name: web", ":1: family web is named twice"),
        ("name: web\n", "name: web/x\n", ":5: families[0].name:"),
        ("version_depth: 5", "version_depth: 0", ":3: in_use.version_depth:"),
        ("{profile: default}", "{role_arn: nope}", ":2: accounts[0].role_arn:"),
        ("stages: {", "stage: {", ":8: families[0].stage: unknown key"),
        ("tags: {family: db}", "tags: {family: 3}", "families[1].select.tags.family: 3 is a num"),
    ],
)
def test_mistakes_are_one_line_with_file_line_and_field(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in POLICY
    message = error_of(tmp_path, POLICY.replace(old, new, 1))
    assert message.startswith(str(tmp_path / "policy.yaml"))
    assert expected in message, message
    assert "\n" not in message


def test_an_empty_file_and_bad_yaml_are_one_line(tmp_path: Path) -> None:
    assert "regions: missing" in error_of(tmp_path, "")
    assert "not valid YAML" in error_of(tmp_path, "regions: [\n")
