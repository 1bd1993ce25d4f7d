"""What a new user sees first: `ami images` after `ami bootstrap` points to the base images."""

import json
import shutil
from pathlib import Path

import pytest

from helpers import run_ami, tiny_rootfs

HINT = (
    "no images of yours in us-east-1; base images (ami bootstrap) belong to amazon: "
    "ami images --owner amazon\n"
)


def test_after_bootstrap_the_empty_listing_says_where_base_images_are(tmp_path: Path) -> None:
    if shutil.which("busybox") is None:
        pytest.skip("needs the host's busybox (busybox-static)")
    home = tmp_path / "home"
    base = run_ami("--home", home, "bootstrap", "busybox", "--name", "base")
    assert base.returncode == 0, base.stderr

    mine = run_ami("--home", home, "images")
    assert mine.returncode == 0
    assert mine.stderr == HINT
    assert "images in us-east-1" in mine.stdout and base.stdout.strip() not in mine.stdout

    theirs = run_ami("--home", home, "images", "--owner", "amazon")
    assert theirs.returncode == 0 and theirs.stderr == ""
    assert base.stdout.strip() in theirs.stdout


def test_no_hint_for_scripts_or_when_there_are_images(tmp_path: Path) -> None:
    home = tmp_path / "home"
    scripted = run_ami("--home", home, "images", "--json")
    assert (scripted.returncode, json.loads(scripted.stdout), scripted.stderr) == (0, [], "")

    root = tiny_rootfs(tmp_path / "root")
    assert run_ami("--home", home, "import", root, "--name", "golden").returncode == 0
    listed = run_ami("--home", home, "images")
    assert (listed.returncode, listed.stderr) == (0, "")
    assert "golden" in listed.stdout


def test_the_hinted_command_works_before_any_base_image_exists(tmp_path: Path) -> None:
    import amiable

    home = tmp_path / "home"
    assert (
        run_ami(
            "--home", home, "import", tiny_rootfs(tmp_path / "root"), "--name", "own"
        ).returncode
        == 0
    )
    ec2 = amiable.Session(home=home).client("ec2")
    # `amazon` is an owner alias AWS documents: valid before any account has it, and it
    # matches no image then (not the caller's own)
    assert ec2.describe_images(Owners=["amazon"])["Images"] == []
    assert len(ec2.describe_images(Owners=["self", "amazon"])["Images"]) == 1
    listed = run_ami("--home", home, "images", "--owner", "amazon")
    assert (listed.returncode, listed.stderr) == (0, "")
