"""`ami create-image` shows the image's progress while it waits (as long as it
takes) and `--no-wait` returns with the pending image's id. Needs root."""

import json
from pathlib import Path

import pytest

from helpers import require_root
from import_helpers import ami

REGION = "us-west-1"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    require_root("instances run in namespaces with overlayfs")
    return tmp_path / "home"


def out(home: Path, *args: str) -> str:
    done = ami(home, *args, region=REGION)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_create_image_waits_with_progress_or_returns_at_once(home: Path) -> None:
    base = out(home, "bootstrap", "busybox", "--name", "capture-base")
    instance = out(home, "launch", base)
    out(home, "exec", instance, "--", "sh", "-c", "head -c 3000000 /dev/zero > /root/data")

    done = ami(home, "create-image", instance, "--name", "captured-1", region=REGION)
    assert done.returncode == 0, done.stderr
    image = done.stdout.strip()
    assert image.startswith("ami-")
    assert f"imaging {instance}: available" in done.stderr  # progress on stderr, the id on stdout

    pending = out(home, "create-image", instance, "--name", "captured-2", "--no-wait")
    assert pending.startswith("ami-") and pending != image
    images = {i["ImageId"]: i for i in json.loads(out(home, "images", "--json"))}
    assert images[pending]["State"] in ("pending", "available")
    assert images[image]["State"] == "available"
    out(home, "terminate", instance)
