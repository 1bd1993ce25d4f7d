"""`ami lifecycle plan` and `apply` as a user runs them: the table and the
JSON, the journal, accounts named by AWS profiles, and mistakes told in one
line with exit status 1, changing nothing."""

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

import amiable
from amiable.cloud.core.home import Cloud
from api_helpers import OTHER, imported_snapshot, register
from helpers import run_ami

POLICY = """\
regions: [us-east-1]
accounts: [{profile: default}, {profile: other}]
families:
  - name: web
    select: {name: "web-*"}
    keep: {newest: 1}
    stages: {deprecate: 0d, deregister: 0d}
"""
CREDENTIALS = "[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = other-secret\n"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """Two accounts with web-0 and web-1 each; the default account's web-0
    named by a launch template."""
    cloud = Cloud(tmp_path / "home")
    cloud.accounts.create(OTHER, "other", "AKIAOTHER", "other-secret")
    for account in ("000000000000", OTHER):
        ec2 = amiable.Session(cloud=cloud, account=account).client("ec2")
        snapshot = imported_snapshot(ec2, tmp_path / f"root-{account}")
        first = register(ec2, snapshot, "web-0")
        register(ec2, snapshot, "web-1")
        if account != OTHER:
            ec2.create_launch_template(
                LaunchTemplateName="web", LaunchTemplateData={"ImageId": first}
            )
    cloud.close()
    (tmp_path / "credentials").write_text(CREDENTIALS)
    (tmp_path / "policy.yaml").write_text(POLICY)
    return tmp_path / "home"


def lifecycle(home: Path, *args: str) -> "subprocess.CompletedProcess[str]":
    env = {
        "AMI_STATE_DIR": str(home.parent / "state"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home.parent / "credentials"),
        "AWS_CONFIG_FILE": str(home.parent / "no-config"),
    }
    return run_ami("--home", home, "lifecycle", *args, env=env)


def names(home: Path, account: str) -> set[str]:
    ec2 = amiable.Session(home=home, account=account).client("ec2")
    return {i["Name"] for i in ec2.describe_images(Owners=["self"])["Images"]}


def planned(home: Path) -> dict[tuple[str, str], dict[str, Any]]:
    done = lifecycle(home, "plan", str(home.parent / "policy.yaml"), "--json")
    assert done.returncode == 0, done.stderr
    return {(d["account"], d["name"]): d for d in json.loads(done.stdout)["images"]}


def test_plan_shows_each_account_and_changes_nothing(home: Path) -> None:
    found = planned(home)
    assert found["000000000000", "web-0"]["action"] == "held"
    assert found["000000000000", "web-0"]["held_by"][0].startswith("launch template lt-")
    assert found[OTHER, "web-0"]["action"] == "deregister"
    assert found[OTHER, "web-1"]["kept_by"] == ["newest (1 of 1)"]
    table = lifecycle(home, "plan", str(home.parent / "policy.yaml"))
    assert table.returncode == 0, table.stderr
    assert "held" in table.stdout and "newest (1 of 1)" in table.stdout
    assert "4 image(s)" in table.stderr
    assert names(home, OTHER) == {"web-0", "web-1"}


def test_apply_takes_the_steps_and_ends_its_journal(home: Path) -> None:
    done = lifecycle(home, "apply", str(home.parent / "policy.yaml"))
    assert done.returncode == 0, done.stderr
    assert "web-0: deregistered" in done.stderr
    assert names(home, OTHER) == {"web-1"}
    assert names(home, "000000000000") == {"web-0", "web-1"}
    journals = list((home.parent / "state" / "lifecycle").glob("*.json"))
    assert [json.loads(j.read_text())["status"] for j in journals] == ["done"]
    again = lifecycle(home, "apply", str(home.parent / "policy.yaml"), "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["done"] == [], done.stderr


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("keep: {newest: 1}", "keep: {newest: many}", "policy.yaml:6: families[0].keep.newest:"),
        ("{profile: other}", "{profile: nobody}", "accounts: there is no AWS profile nobody"),
        (
            "{profile: other}",
            "{role_arn: 'arn:aws:iam::111122223333:role/x'}",
            "accounts: role_arn works on AWS only",
        ),
    ],
)
def test_mistakes_are_one_line_and_change_nothing(
    home: Path, old: str, new: str, expected: str
) -> None:
    policy = home.parent / "policy.yaml"
    policy.write_text(POLICY.replace(old, new))
    done = lifecycle(home, "apply", str(policy))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and expected in done.stderr, done.stderr
    assert names(home, OTHER) == {"web-0", "web-1"}


def test_a_missing_policy_file_is_one_line(home: Path) -> None:
    done = lifecycle(home, "plan", str(home.parent / "nope.yaml"))
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and "cannot read the policy" in done.stderr
