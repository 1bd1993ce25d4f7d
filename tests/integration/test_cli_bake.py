"""`ami bake` before it creates anything: recipe mistakes, name collisions in
any target region, missing keys and templates, `--dry-run`, the lock file
and `--locked` — each one line and an exit status, nothing created."""

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

import amiable
from amiable.cloud.core.home import Cloud
from api_helpers import base_image, imported_snapshot, register
from helpers import run_ami, tiny_rootfs

RECIPE = """\
name: web
version: "1.0"
base: {owners: [amazon], name: "base-*"}
build:
  steps:
    - run: echo hello
tests:
  - {name: ok, run: "true"}
image:
  name: "web-{{ version }}"
distribute:
  regions: [us-east-1, eu-west-1]
  accounts: ["222233334444"]
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    cloud = Cloud(tmp_path / "home")
    base_image(cloud, "us-east-1", tiny_rootfs(tmp_path / "root"), "base-1")
    cloud.close()
    return tmp_path / "home"


def bake(home: Path, recipe: Path, *args: str) -> "subprocess.CompletedProcess[str]":
    state = home.parent / "state"
    return run_ami("--home", home, "bake", recipe, *args, env={"AMI_STATE_DIR": str(state)})


def recipe_at(tmp_path: Path, text: str = RECIPE) -> Path:
    path = tmp_path / "recipe" / "web.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def ec2(home: Path, region: str = "us-east-1") -> Any:
    return amiable.Session(home=home, region=region).client("ec2")


def nothing_made(home: Path, recipe: Path) -> None:
    for region in ("us-east-1", "eu-west-1"):
        client = ec2(home, region)
        assert client.describe_images(Owners=["self"])["Images"] == []
        assert client.describe_instances()["Reservations"] == []
    assert not (home.parent / "state" / "bakes").exists()
    assert not (recipe.parent / "web.manifest.json").exists()


def failed(done: "subprocess.CompletedProcess[str]", status: int) -> str:
    assert done.returncode == status, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr.strip().splitlines()[-1]


def test_a_recipe_mistake_is_one_line(home: Path, tmp_path: Path) -> None:
    recipe = recipe_at(tmp_path, RECIPE.replace('["222233334444"]', "[222233334444]"))
    line = failed(bake(home, recipe), 1)
    assert line == (
        f"error: {recipe}:13: distribute.accounts[0]: 222233334444 is a number here; "
        "quote it to make it a string"
    )
    nothing_made(home, recipe)


def test_an_undeclared_variable_and_a_missing_recipe(home: Path, tmp_path: Path) -> None:
    recipe = recipe_at(tmp_path)
    assert "--var x: not a variable of the recipe" in failed(bake(home, recipe, "--var", "x=1"), 1)
    assert "cannot read the recipe" in failed(bake(home, tmp_path / "none.yaml"), 1)
    nothing_made(home, recipe)


def test_no_base_image_matches(home: Path, tmp_path: Path) -> None:
    recipe = recipe_at(tmp_path, RECIPE.replace('"base-*"', '"nothing-*"'))
    line = failed(bake(home, recipe), 1)
    assert line == "error: base query: no available image matches (owners amazon, name nothing-*)"
    nothing_made(home, recipe)


def test_a_name_taken_in_another_target_region(home: Path, tmp_path: Path) -> None:
    second = ec2(home, "eu-west-1")
    taken = register(second, imported_snapshot(second, tmp_path / "r"), "web-1.0")
    recipe = recipe_at(tmp_path)
    line = failed(bake(home, recipe), 1)
    assert line == (
        f"error: InvalidAMIName.Duplicate: eu-west-1 already has an image named web-1.0 ({taken})"
    )
    assert [i["ImageId"] for i in second.describe_images(Owners=["self"])["Images"]] == [taken]


def test_a_missing_key_or_template_in_a_region_is_a_distribution_error(
    home: Path, tmp_path: Path
) -> None:
    key = amiable.Session(home=home).client("kms").create_key()["KeyMetadata"]["Arn"]
    keyed = RECIPE.replace(
        '  name: "web-{{ version }}"',
        '  name: "web-{{ version }}"\n  encrypted: true\n'
        f"  kms_key_id: {{us-east-1: {key}, eu-west-1: alias/missing}}",
    )
    recipe = recipe_at(tmp_path, keyed)
    line = failed(bake(home, recipe), 4)
    assert line.startswith("error: KMS key alias/missing in eu-west-1: NotFoundException")
    templated = RECIPE.replace("  accounts:", "  launch_templates: [web]\n  accounts:")
    line = failed(bake(home, recipe_at(tmp_path, templated)), 4)
    assert line.startswith("error: launch templates in us-east-1: ")
    nothing_made(home, recipe)


def test_an_image_to_share_cannot_be_under_the_aws_managed_key(home: Path, tmp_path: Path) -> None:
    encrypted = RECIPE.replace(
        '  name: "web-{{ version }}"', '  name: "web-{{ version }}"\n  encrypted: true'
    )
    recipe = recipe_at(tmp_path, encrypted)
    assert failed(bake(home, recipe), 1) == (
        "error: image.kms_key_id: in us-east-1 the image would be encrypted with the AWS "
        "managed key (arn:aws:kms:us-east-1:000000000000:alias/aws/ebs), and AWS refuses "
        "to share such an image; give a customer managed key for us-east-1"
    )
    public = encrypted.replace('  accounts: ["222233334444"]', "  public: true")
    line = failed(bake(home, recipe_at(tmp_path, public)), 1)
    assert (
        line == f"error: {recipe}:1: distribute.public: AWS never makes an encrypted image public"
    )
    nothing_made(home, recipe)


def test_a_dry_run_prints_the_plan_and_creates_nothing(home: Path, tmp_path: Path) -> None:
    recipe = recipe_at(tmp_path)
    done = bake(home, recipe, "--dry-run")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["status"] == "planned"
    assert plan["base_image"]["name"] == "base-1"
    assert plan["regions"] == ["us-east-1", "eu-west-1"]
    assert plan["steps"] == ["run: echo hello"] and plan["tests"] == ["ok"]
    assert plan["image_name"] == "web-1.0"
    nothing_made(home, recipe)
    assert not (recipe.parent / "web.lock.json").exists()


def test_the_lock_file_pins_the_base(home: Path, tmp_path: Path) -> None:
    recipe = recipe_at(tmp_path)
    line = failed(bake(home, recipe, "--locked"), 1)
    assert "--locked: there is no lock file" in line
    updated = run_ami("--home", home, "bake", "update", recipe)
    assert updated.returncode == 0, updated.stderr
    lock = json.loads((recipe.parent / "web.lock.json").read_text())
    first = lock["base"]["image_id"]
    assert lock["base"]["name"] == "base-1" and lock["vars"] == {}
    cloud = Cloud(home)
    newer = base_image(cloud, "us-east-1", tiny_rootfs(tmp_path / "root2"), "base-2")
    cloud.close()
    line = failed(bake(home, recipe, "--locked"), 1)
    assert line == (
        f"error: --locked: the base now resolves to {newer} (base-2), the lock pins {first}; "
        "run ami bake update to move it"
    )
    recipe.write_text(RECIPE.replace("echo hello", "echo changed"))
    run_ami("--home", home, "bake", "update", recipe)
    assert json.loads((recipe.parent / "web.lock.json").read_text())["base"]["image_id"] == newer
    nothing_made(home, recipe)
