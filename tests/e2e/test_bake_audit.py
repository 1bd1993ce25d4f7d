"""A recipe's `audit:` makes `ami audit` part of the bake's test gate: a
private key a build step leaves in the image fails the gate (exit status 3,
nothing published), a clean image passes; the report is written beside the
recipe either way. Needs root."""

import json
from pathlib import Path
from typing import Any

import pytest

import amiable
from amiable.cloud.core.home import Cloud
from amiable.tools.bake import errors
from amiable.tools.bake.baking import bake
from amiable.tools.bake.pipeline import Options
from amiable.tools.bake.progress import Reporter
from amiable.tools.bake.recipe import Loaded
from amiable.tools.bake.resources import Clouds
from api_helpers import base_image, terminate_all
from busybox import busybox_root
from helpers import require_root

RECIPE = """\
name: app
base: {{owners: [amazon], name: "base-*"}}
build:
  steps:
    - run: "{step}"
tests:
  - {{name: present, run: "test -f /srv/app"}}
audit: {{fail_on: high, rules: audit.yaml}}
image:
  name: "app-{{{{ timestamp }}}}"
"""
RULES = "custom:\n  - {id: has-app, command: 'test -s /srv/app', severity: critical}\n"
KEY_LINES = (
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "b3BlbnNzaC1rZXktdjEAAAAA",
    "-----END OPENSSH PRIVATE KEY-----",
)
PLANT_KEY = " && ".join(f"echo {line} >> /root/.ssh/id_ed25519" for line in KEY_LINES)


@pytest.fixture
def cloud(tmp_path: Path) -> Any:
    require_root("the bake's instances run in namespaces with overlayfs")
    cloud = Cloud(tmp_path / "home")
    base_image(cloud, "us-east-1", busybox_root(tmp_path / "rootfs"), "base-1")
    yield cloud
    terminate_all(amiable.Session(cloud=cloud).client("ec2"))
    cloud.close()


def baked(cloud: Cloud, tmp_path: Path, step: str, rules: str = RULES) -> Path:
    folder = tmp_path / "recipe"
    folder.mkdir(exist_ok=True)
    (folder / "audit.yaml").write_text(rules)
    recipe = folder / "app.yaml"
    recipe.write_text(RECIPE.format(step=step))
    with (tmp_path / "bake.log").open("a") as log:
        bake(
            Loaded(recipe, {}),
            Clouds(
                lambda service, region: amiable.Session(cloud=cloud, region=region).client(service)
            ),
            Options(build_region="us-east-1"),
            Reporter(log),
            f"home:{cloud.home}",
            tmp_path / "state",
        )
    return folder


def published(cloud: Cloud) -> list[str]:
    """The recipe's images (the step cache's are kept whatever the gate says)."""
    ec2 = amiable.Session(cloud=cloud).client("ec2")
    names = [i["Name"] for i in ec2.describe_images(Owners=["self"])["Images"]]
    return [name for name in names if name.startswith("app-")]


def test_a_key_left_in_the_image_fails_the_gate(cloud: Cloud, tmp_path: Path) -> None:
    step = f"mkdir -p /srv /root/.ssh && echo ok > /srv/app && {PLANT_KEY}"
    with pytest.raises(errors.TestsFailed) as failed:
        baked(cloud, tmp_path, step)
    assert "the audit failed (fail_on high)" in str(failed.value)
    assert "critical private-key" in failed.value.output
    assert "/root/.ssh/id_ed25519" in failed.value.output
    assert published(cloud) == []
    report = json.loads((tmp_path / "recipe" / "app.audit.json").read_text())
    assert {f["rule"] for f in report["findings"]} >= {"private-key"}


def test_a_clean_image_passes_the_audit(cloud: Cloud, tmp_path: Path) -> None:
    baked(cloud, tmp_path, "mkdir -p /srv && echo ok > /srv/app")
    assert len(published(cloud)) == 1
    report = json.loads((tmp_path / "recipe" / "app.audit.json").read_text())
    assert report["summary"]["failed"] is False
    assert "has-app" not in {f["rule"] for f in report["findings"]}


def test_a_bad_rules_file_stops_the_bake_before_anything_is_built(
    cloud: Cloud, tmp_path: Path
) -> None:
    with pytest.raises(errors.RecipeProblem) as problem:
        baked(cloud, tmp_path, "true", rules="rules: {no-such-rule: {}}\n")
    assert "audit: " in str(problem.value) and "audit.yaml:1" in str(problem.value)
    ec2 = amiable.Session(cloud=cloud).client("ec2")
    assert ec2.describe_instances()["Reservations"] == []
