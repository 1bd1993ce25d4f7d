"""Bake recipes: every kind of mistake is one line naming the file, the line
and the field; variables and built-ins fill the templates."""

from datetime import timedelta
from pathlib import Path

import pytest

from amiable.tools.bake.recipe import Loaded, parse_overrides
from amiable.tools.user_files import UserFileError

RECIPE = """\
name: web
version: "1.4.0"
vars: {greeting: hello}
base:
  owners: [amazon]
  name: "base-*"
build:
  instance_type: t3.micro
  steps:
    - run: "echo {{ greeting }} > /srv/index.html"
    - copy: {src: site/, dest: /srv/www/}
    - reboot: true
prepare: true
tests:
  - {name: page present, run: "test -s /srv/index.html"}
image:
  name: "web-{{ version }}-{{ timestamp }}"
  description: "Web golden image {{ version }}"
  tags: {team: web}
  deprecate_after: 90d
distribute:
  regions: [us-east-1, eu-west-1]
  accounts: ["222233334444"]
  parameter: /golden/web/latest
"""


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "web.yaml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str, overrides: dict[str, str] | None = None) -> str:
    with pytest.raises(UserFileError) as caught:
        Loaded(written(tmp_path, text), overrides or {})
    return str(caught.value)


def test_a_good_recipe_renders_its_templates(tmp_path: Path) -> None:
    loaded = Loaded(written(tmp_path, RECIPE), {"greeting": "bonjour"})
    recipe = loaded.rendered({"timestamp": "20261202"})
    assert recipe.image.name == "web-1.4.0-20261202"
    assert recipe.build.steps[0].run == "echo bonjour > /srv/index.html"
    assert recipe.image.deprecate_after == timedelta(days=90)
    assert [s.kind for s in recipe.build.steps] == ["run", "copy", "reboot"]
    assert recipe.regions("ap-south-1") == ["us-east-1", "eu-west-1"]
    assert recipe.prepare_items() is not None
    unrendered = loaded.rendered({})
    assert unrendered.image.name == "web-1.4.0-{{ timestamp }}"  # not known yet: kept


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("instance_type: t3.micro", "instance_type: 3"), ":8: build.instance_type: "),
        (("    - reboot: true", "    - reboot: true\n      frob: 1"), ":13: build.steps[2].frob: "),
        (('  name: "web-{{ version }}-{{ timestamp }}"', "  nam: x"), "17: image.nam: unknown key"),
        (("{{ greeting }}", "{{ greting }}"), ":10: build.steps[0].run: {{ greting }} is not"),
        (
            ('["222233334444"]', "[222233334444]"),
            ":23: distribute.accounts[0]: 222233334444 is a number",
        ),
        (("deprecate_after: 90d", "deprecate_after: 90 days"), ":20: image.deprecate_after: '90"),
        (("- copy: {src: site/, dest: /srv/www/}", "- {copy: {src: a, dest: b}, run: x}"), ":11: "),
        (("base:", "bse:"), "bse: unknown key"),
        (("image:\n", "imag:\n"), "imag: unknown key"),
        (("name: web\n", 'name: "web site"\n'), ":1: name: "),
        (("  owners: [amazon]", "  owners: []"), "base: a query needs owners"),
        (("  owners: [amazon]", "  image: ami-12345678\n  owners: [amazon]"), "exactly one of"),
        (("tags: {team: web}", "tags: {team: web, team: x}"), "image.tags.team: given twice"),
        (("tags: {team: web}", "tags: {aws:team: web}"), "image.tags: tag keys may not begin"),
        (("deprecate_after: 90d", "kms_key_id: alias/k"), "kms_key_id needs encrypted: true"),
        (("[us-east-1, eu-west-1]", "[us-east-1, us-east-1]"), "a region is named twice"),
        (("vars: {greeting: hello}", "vars: {greeting: hello, version: 2}"), "built-in"),
        (("    - reboot: true", "    - reboot: false"), "reboot: true is the only"),
        (("prepare: true", "prepare: sometimes"), ":13: prepare: "),
        (("base:", "base: ["), "not valid YAML"),
    ],
)
def test_each_mistake_is_one_line_naming_file_line_and_field(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    old, new = change
    assert old in RECIPE
    message = error_of(tmp_path, RECIPE.replace(old, new, 1))
    assert message.startswith(f"{tmp_path / 'web.yaml'}:")
    assert "\n" not in message
    assert expected in message


def test_a_variable_not_declared_is_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, RECIPE, {"colour": "blue"})
    assert "--var colour: not a variable of the recipe (declared: greeting)" in message


def test_var_pairs_need_an_equals_sign() -> None:
    assert parse_overrides(("a=1", "b=x=y")) == {"a": "1", "b": "x=y"}
    with pytest.raises(UserFileError, match="--var oops: give key=value"):
        parse_overrides(("oops",))


def test_not_a_mapping_and_unreadable(tmp_path: Path) -> None:
    assert "a recipe is a mapping" in error_of(tmp_path, "- just\n- a list\n")
    with pytest.raises(UserFileError, match="cannot read the recipe"):
        Loaded(tmp_path / "missing.yaml", {})


def test_prepare_forms(tmp_path: Path) -> None:
    listed = Loaded(written(tmp_path, RECIPE.replace("prepare: true", "prepare: [echo x]")), {})
    items = listed.rendered({}).prepare_items()
    assert items is not None and items.commands == ["echo x"] and items.logs
    off = Loaded(written(tmp_path, RECIPE.replace("prepare: true", "prepare: false")), {})
    assert off.rendered({}).prepare_items() is None
    chosen = RECIPE.replace("prepare: true", "prepare: {logs: false, commands: [echo y]}")
    items = Loaded(written(tmp_path, chosen), {}).rendered({}).prepare_items()
    assert items is not None and not items.logs and items.temp_files
