"""`ami bake` through in-process boto3 clients: the step cache, `--if-changed`,
launch templates and the parameter flipped together and undone together,
the SBOM, steps' output and scripts."""

import json
from pathlib import Path
from typing import Any

import pytest

import amiable
from amiable.cloud.core.home import Cloud
from amiable.tools.bake import tags
from amiable.tools.bake.baking import Outcome, bake
from amiable.tools.bake.errors import DistributionFailed
from amiable.tools.bake.pipeline import Options
from amiable.tools.bake.progress import Reporter
from amiable.tools.bake.recipe import Loaded
from amiable.tools.bake.resources import Clouds
from api_helpers import OTHER, base_image, terminate_all
from busybox import busybox_root
from helpers import require_root

REGIONS = ("us-east-1", "eu-west-1")
RECIPE = """\
name: web
version: "{version}"
vars: {{greeting: hello}}
base: {{owners: [amazon], name: "base-*"}}
build:
  steps:
    - run: "mkdir -p /srv/www && echo {{{{ greeting }}}} > /srv/www/greeting.txt && echo made it"
    - script: setup.sh
    - run: "{last}"
tests:
  - {{name: greeting, run: "grep -q hello /srv/www/greeting.txt"}}
  - {{name: packages, run: "test -f /var/lib/dpkg/status"}}
image:
  name: "web-{{{{ version }}}}-{{{{ timestamp }}}}"
  tags: {{role: web}}  # a key that is also the name of a parameter inside the bake
distribute:
  regions: [us-east-1, eu-west-1]
  accounts: ["{other}"]
  parameter: /golden/web/latest
  launch_templates: [web]
  verify: true
"""
DPKG_STATUS = """\
Package: hello
Status: install ok installed
Version: 2.10-3
Architecture: amd64

Package: removed-one
Status: deinstall ok config-files
Version: 1.0
Architecture: amd64

Package: libfoo1
Status: install ok installed
Version: 1.2.3-1
Architecture: amd64
"""


@pytest.fixture
def cloud(tmp_path: Path) -> Any:
    require_root("the bake's instances run in namespaces with overlayfs")
    cloud = Cloud(tmp_path / "home")
    cloud.accounts.create(OTHER, "other", "AKIAOTHER", "other-secret")
    base_image(cloud, "us-east-1", busybox_root(tmp_path / "rootfs"), "base-1")
    yield cloud
    for region in REGIONS:
        terminate_all(amiable.Session(cloud=cloud, region=region).client("ec2"))
    cloud.close()


def client(cloud: Cloud, service: str, region: str = "us-east-1") -> Any:
    return amiable.Session(cloud=cloud, region=region).client(service)


def write_recipe(folder: Path, version: str = "1.0", last: str = "echo last step") -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "setup.sh").write_text(
        f"mkdir -p /var/lib/dpkg\ncat > /var/lib/dpkg/status <<'EOF'\n{DPKG_STATUS}EOF\n"
    )
    path = folder / "web.yaml"
    path.write_text(RECIPE.format(version=version, last=last, other=OTHER))
    return path


def run_bake(cloud: Cloud, recipe: Path, tmp_path: Path, **options: Any) -> Outcome:
    log = tmp_path / "bake.log"
    with log.open("a") as stream:
        return bake(
            Loaded(recipe, {}),
            Clouds(lambda service, region: client(cloud, service, region)),
            Options(build_region="us-east-1", **options),
            Reporter(stream),
            f"home:{cloud.home}",
            tmp_path / "state",
        )


def templates_and_parameter(cloud: Cloud, image: str) -> None:
    """A launch template `web` in both regions, the parameter in the first."""
    for region in REGIONS:
        client(cloud, "ec2", region).create_launch_template(
            LaunchTemplateName="web", LaunchTemplateData={"ImageId": image}
        )
    client(cloud, "ssm").put_parameter(
        Name="/golden/web/latest", Value=image, Type="String", DataType="aws:ec2:image"
    )


def default_image(cloud: Cloud, region: str) -> str:
    versions = client(cloud, "ec2", region).describe_launch_template_versions(
        LaunchTemplateName="web", Versions=["$Default"]
    )["LaunchTemplateVersions"]
    return str(versions[0]["LaunchTemplateData"]["ImageId"])


def published(cloud: Cloud, region: str) -> list[str]:
    found = client(cloud, "ec2", region).describe_images(
        Owners=["self"], Filters=[{"Name": f"tag:{tags.STATUS}", "Values": ["published"]}]
    )["Images"]
    assert all(tags.of(i)["role"] == "web" for i in found), "the recipe's own tags"
    return sorted(i["ImageId"] for i in found)


def base_of(cloud: Cloud) -> str:
    (found,) = client(cloud, "ec2").describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["base-1"]}]
    )["Images"]
    return str(found["ImageId"])


def test_a_bake_publishes_everywhere_and_the_cache_serves_the_rebuilds(
    cloud: Cloud, tmp_path: Path
) -> None:
    base = base_of(cloud)
    templates_and_parameter(cloud, base)
    recipe = write_recipe(tmp_path / "recipe")
    first = run_bake(cloud, recipe, tmp_path)
    manifest = first.manifest
    assert manifest["status"] == "published"
    assert manifest["cache"] == {"hits": 0, "misses": 3}
    images = manifest["images"]
    for region in REGIONS:
        assert published(cloud, region) == [images[region]]
        assert default_image(cloud, region) == images[region]
        parameter = client(cloud, "ssm", region).get_parameter(Name="/golden/web/latest")
        assert parameter["Parameter"]["Value"] == images[region]
        shared = client(cloud, "ec2", region).describe_image_attribute(
            ImageId=images[region], Attribute="launchPermission"
        )["LaunchPermissions"]
        assert shared == [{"UserId": OTHER}]
    assert [(t["name"], t["region"], t["passed"]) for t in manifest["tests"]] == [
        ("greeting", "us-east-1", True),
        ("packages", "us-east-1", True),
        ("greeting", "eu-west-1", True),
        ("packages", "eu-west-1", True),
    ]
    log = (tmp_path / "bake.log").read_text()
    assert "    | made it" in log  # a step's output, streamed
    sbom = (recipe.parent / "web.sbom.json").read_text()
    assert '"purl": "pkg:deb/hello@2.10-3?arch=amd64"' in sbom
    assert "removed-one" not in sbom and "libfoo1" in sbom
    image = client(cloud, "ec2").describe_images(ImageIds=[images["us-east-1"]])["Images"][0]
    assert tags.of(image)[tags.SBOM] == manifest["sbom"]["sha256"]

    again = run_bake(cloud, write_recipe(tmp_path / "recipe", version="1.1"), tmp_path)
    assert again.manifest["cache"] == {"hits": 3, "misses": 0}
    assert all(t["cached"] for t in again.manifest["tests"])  # the same content, tested before
    assert "cached" not in json.dumps(first.manifest["tests"])
    changed = write_recipe(tmp_path / "recipe", version="1.2", last="echo a new last step")
    last = run_bake(cloud, changed, tmp_path)
    assert last.manifest["cache"] == {"hits": 2, "misses": 1}
    for region in REGIONS:
        assert len(published(cloud, region)) == 3
        assert default_image(cloud, region) == last.manifest["images"][region]
        left = client(cloud, "ec2", region).describe_instances(
            Filters=[{"Name": "instance-state-name", "Values": ["pending", "running", "stopped"]}]
        )["Reservations"]
        assert left == []


def test_if_changed_bakes_only_when_an_input_moved(cloud: Cloud, tmp_path: Path) -> None:
    templates_and_parameter(cloud, base_of(cloud))
    recipe = write_recipe(tmp_path / "recipe")
    first = run_bake(cloud, recipe, tmp_path, if_changed=True)
    assert first.status == "published"
    same = run_bake(cloud, recipe, tmp_path, if_changed=True)
    assert same.status == "unchanged"
    assert same.manifest["images"] == first.manifest["images"]
    assert same.manifest["build_id"] == first.manifest["build_id"]
    base_image(cloud, "us-east-1", busybox_root(tmp_path / "rootfs2"), "base-2")
    moved = run_bake(cloud, recipe, tmp_path, if_changed=True)
    assert moved.status == "published"
    assert moved.manifest["base_image"] != first.manifest["base_image"]


def test_a_failed_flip_undoes_every_flip_made(cloud: Cloud, tmp_path: Path) -> None:
    base = base_of(cloud)
    templates_and_parameter(cloud, base)
    client(cloud, "ssm", "eu-west-1").put_parameter(  # refuses any image id
        Name="/golden/web/latest", Value="pinned", Type="String", AllowedPattern="^pinned$"
    )
    with pytest.raises(DistributionFailed, match="publishing failed") as caught:
        run_bake(cloud, write_recipe(tmp_path / "recipe"), tmp_path)
    assert "undone, nothing is published" in str(caught.value)
    ssm = client(cloud, "ssm")
    assert ssm.get_parameter(Name="/golden/web/latest")["Parameter"]["Value"] == base
    for region in REGIONS:
        assert default_image(cloud, region) == base
        assert published(cloud, region) == []
        versions = client(cloud, "ec2", region).describe_launch_template_versions(
            LaunchTemplateName="web"
        )["LaunchTemplateVersions"]
        assert [v["VersionNumber"] for v in versions] == [1]  # the new one is deleted
        for image in client(cloud, "ec2", region).describe_images(Owners=["self"])["Images"]:
            permissions = client(cloud, "ec2", region).describe_image_attribute(
                ImageId=image["ImageId"], Attribute="launchPermission"
            )["LaunchPermissions"]
            assert permissions == []
    history = ssm.get_parameter_history(Name="/golden/web/latest")["Parameters"]
    assert history[-1]["Value"] == base


def test_a_failing_region_flips_nothing(cloud: Cloud, tmp_path: Path) -> None:
    base = base_of(cloud)
    templates_and_parameter(cloud, base)
    keys = {r: client(cloud, "kms", r).create_key()["KeyMetadata"]["Arn"] for r in REGIONS}
    client(cloud, "kms", "eu-west-1").disable_key(KeyId=keys["eu-west-1"])  # cannot encrypt
    recipe = write_recipe(tmp_path / "recipe")
    recipe.write_text(
        recipe.read_text().replace(
            "image:\n", f"image:\n  encrypted: true\n  kms_key_id: {json.dumps(keys)}\n"
        )
    )
    with pytest.raises(DistributionFailed, match=r"copy failed \(eu-west-1: ") as caught:
        run_bake(cloud, recipe, tmp_path)
    assert "nothing was published" in str(caught.value)
    for region in REGIONS:
        assert default_image(cloud, region) == base
        assert published(cloud, region) == []
    ssm = client(cloud, "ssm")
    assert ssm.get_parameter(Name="/golden/web/latest")["Parameter"]["Version"] == 1
    assert ssm.get_parameter(Name="/golden/web/latest")["Parameter"]["Value"] == base
    missing = client(cloud, "ssm", "eu-west-1").get_parameters(Names=["/golden/web/latest"])
    assert missing["InvalidParameters"] == ["/golden/web/latest"]
