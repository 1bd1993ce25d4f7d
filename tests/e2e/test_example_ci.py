"""The example CI workflow (examples/ci/bake.yml): its amiable job's steps run
here as written — but for the install step, which this environment has
done already — in a copy of the examples, and the golden image is
published in both regions."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from helpers import require_root

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _as_here(command: str, temp: Path) -> str:
    """The step's command on this machine: root already, `ami` from this venv."""
    command = command.replace("${{ runner.temp }}", str(temp))
    command = re.sub(r"sudo( --preserve-env=\S+)? ", "", command)
    return command


def test_the_amiable_job_of_the_example_workflow_publishes(tmp_path: Path) -> None:
    require_root("the bake's instances run in namespaces with overlayfs")
    workflow = yaml.safe_load((EXAMPLES / "ci" / "bake.yml").read_text())
    job = workflow["jobs"]["bake-on-amiable"]
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    env = {
        **os.environ,
        **{k: _as_here(v, tmp_path) for k, v in job["env"].items()},
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    ran = []
    for step in job["steps"]:
        if "run" not in step or step["name"] == "install amiable":
            continue
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", _as_here(step["run"], tmp_path)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{step['name']}: {done.stderr[-3000:]}"
        ran.append(step["name"])
    assert ran == ["a base image", "bake, test, copy, verify and publish", "the published image"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["status"] == "published"
    assert sorted(manifest["images"]) == ["eu-west-1", "us-east-1"]
    assert all(t["passed"] for t in manifest["tests"]) and len(manifest["tests"]) == 6
    assert (tmp_path / "examples" / "golden" / "web.sbom.json").is_file()
    assert json.loads((tmp_path / "examples" / "golden" / "web.lock.json").read_text())["base"]
