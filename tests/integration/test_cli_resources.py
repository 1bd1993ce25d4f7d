"""`ami import`, `ami images`, `ami snapshots` for people and scripts."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def ami(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "amiable.cli", "--home", str(home), "--region", "eu-west-1", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def ami_json(home: Path, *args: str) -> Any:
    done = ami(home, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def rootfs(path: Path) -> Path:
    (path / "etc").mkdir(parents=True)
    (path / "etc" / "os-release").write_text("ID=demo\n")
    return path


def test_import_then_list_images_and_snapshots(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = ami(home, "import", str(rootfs(tmp_path / "root")), "--name", "golden-1")
    assert done.returncode == 0, done.stderr
    image_id = done.stdout.strip()
    assert image_id.startswith("ami-")

    (image,) = ami_json(home, "images")
    assert (image["ImageId"], image["Name"], image["State"]) == (image_id, "golden-1", "available")
    (snapshot,) = ami_json(home, "snapshots")
    assert image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] == snapshot["SnapshotId"]

    table = ami(home, "images")
    assert table.returncode == 0
    assert "golden-1" in table.stdout and "available" in table.stdout
    assert ami_json(home, "images", "--filter", "name=other-*") == []
    assert ami_json(home, "volumes") == []
    listing = ami(home, "volumes")
    assert listing.returncode == 0 and "volumes in eu-west-1" in listing.stdout


def test_import_with_a_taken_name_changes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert ami(home, "import", str(rootfs(tmp_path / "a")), "--name", "golden").returncode == 0
    again = ami(home, "import", str(rootfs(tmp_path / "b")), "--name", "golden")
    assert again.returncode == 1
    assert again.stderr.startswith("error: InvalidAMIName.Duplicate")
    assert len(again.stderr.strip().splitlines()) == 1
    assert len(ami_json(home, "images")) == 1
    assert len(ami_json(home, "snapshots")) == 1


def test_api_errors_are_one_line(tmp_path: Path) -> None:
    done = ami(tmp_path / "home", "images", "--filter", "colour=blue")
    assert done.returncode == 1
    assert done.stderr == "error: InvalidParameterValue: The filter 'colour' is invalid\n"


def test_images_table_shows_sharing_deprecation_disabled_and_protection(tmp_path: Path) -> None:
    import amiable

    home = tmp_path / "home"
    first = ami(home, "import", str(rootfs(tmp_path / "a")), "--name", "shared-one").stdout.strip()
    second = ami(home, "import", str(rootfs(tmp_path / "b")), "--name", "off").stdout.strip()
    ec2 = amiable.Session(home=home, region="eu-west-1").client("ec2")
    ec2.modify_image_attribute(
        ImageId=first, LaunchPermission={"Add": [{"UserId": "123456789012"}]}
    )
    ec2.enable_image_deprecation(ImageId=first, DeprecateAt="2030-01-01T00:00:00Z")
    ec2.enable_image_deregistration_protection(ImageId=first, WithCooldown=True)
    ec2.disable_image(ImageId=second)
    lines = ami(home, "images").stdout.splitlines()
    row = next(line for line in lines if first in line)
    assert "123456789012" in row and "from 2030-01-01 00:00" in row
    assert "enabled-with-cooldown" in row
    row = next(line for line in lines if second in line)
    assert "disabled" in row and "private" in row


def test_accounts_join_an_organization_and_ou(tmp_path: Path) -> None:
    home = tmp_path / "home"
    org = "arn:aws:organizations::111111111111:organization/o-aaaaaaaaaa"
    ou = "arn:aws:organizations::111111111111:ou/o-aaaaaaaaaa/ou-aaaa-11111111"
    made = ami_json(
        home,
        "accounts",
        "create",
        "--account-id",
        "333333333333",
        "--organization-arn",
        org,
        "--ou-arn",
        ou,
    )
    assert (made["OrganizationArn"], made["OrganizationalUnitArn"]) == (org, ou)
    listed = {a["AccountId"]: a for a in ami_json(home, "accounts", "list")}
    assert listed["333333333333"]["OrganizationalUnitArn"] == ou
    wrong = ami(home, "accounts", "create", "--ou-arn", ou)
    assert wrong.returncode == 2 and "--ou-arn needs --organization-arn" in wrong.stderr
    other_org = ou.replace("o-aaaaaaaaaa", "o-bbbbbbbbbb")
    wrong = ami(home, "accounts", "create", "--organization-arn", org, "--ou-arn", other_org)
    assert wrong.returncode == 2 and "an OU of that organization" in wrong.stderr
    assert len(ami_json(home, "accounts", "list")) == 2  # nothing was created
