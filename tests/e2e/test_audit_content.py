"""`ami audit --content` with real instances: each image launched without
network, scanned from inside through SSM, and terminated. Secrets planted in
an image are found with their paths (never their values), its packages are
matched against an offline OSV database and written as a CycloneDX SBOM,
custom rules run inside it, and a clean image passes. Needs root."""

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import amiable
from amiable.cloud.core.home import Cloud
from amiable.tools.waiting import quiet, wait_for_import
from api_helpers import terminate_all
from busybox import busybox_root
from helpers import require_root, run_ami

REGION = "us-east-1"
OSV = Path(__file__).resolve().parent.parent / "data" / "osv"
ACCESS_KEY_ID = "AKIA2E0A8F3B244C9986"
SECRET_ACCESS_KEY = "vH8wq0Yl7FZt3kRm+Pq2XcN5bJ/dA9sLe6TgUoWi"
DPKG_STATUS = """\
Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc (2.36-9+deb12u3)
Version: 2.36-9+deb12u3

"""
RULES = """\
custom:
  - {id: no-telnet, command: "! test -e /bin/telnet", severity: high}
  - {id: has-motd, command: "test -s /etc/motd", severity: low}
"""
PLANTED = {
    "private-key": ["/root/.ssh/id_rsa"],
    "aws-credentials": ["/root/.aws/credentials"],
    "ssh-host-keys": ["/etc/ssh/ssh_host_rsa_key"],
    "authorized-keys": ["/root/.ssh/authorized_keys"],
    "shell-history": ["/root/.ash_history"],
    "machine-id": ["/etc/machine-id"],
    "world-writable": ["/opt/app/shared.conf"],
    "setuid": ["/opt/app/helper"],
}


def write(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    path.chmod(mode)


def private_key() -> bytes:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def planted_root(root: Path) -> tuple[Path, list[str]]:
    """A busybox tree claiming to be Debian 12, with every content rule broken;
    and the secret strings that must never be shown. Its files date from an
    hour ago: a file of the second the audited instance boots in is taken
    for one its boot made (host keys, machine id), and a launch can come
    within a second of the tree's making."""
    busybox_root(root)
    key = private_key()
    write(root / "etc/os-release", 'ID=debian\nVERSION_ID="12"\n')
    write(root / "var/lib/dpkg/status", DPKG_STATUS)
    write(root / "root/.ssh/id_rsa", key, 0o600)
    write(root / "etc/ssh/ssh_host_rsa_key", private_key(), 0o600)
    write(
        root / "root/.aws/credentials",
        f"[default]\naws_access_key_id = {ACCESS_KEY_ID}\n"
        f"aws_secret_access_key = {SECRET_ACCESS_KEY}\n",
    )
    write(root / "root/.ssh/authorized_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 ann@laptop\n")
    write(root / "root/.ash_history", "export TOKEN=abc\n")
    write(root / "etc/machine-id", "4c4c4544004d3510804cb7c04f4b3332\n")
    write(root / "opt/app/shared.conf", "x\n", 0o666)
    write(root / "opt/app/helper", b"\x7fELF", 0o4755)
    made = time.time() - 3600  # as an image's files are: long before any boot of it
    for path in (root, *root.rglob("*")):
        os.utime(path, (made, made), follow_symlinks=False)
    secret_lines = [line for line in key.decode().splitlines() if "PRIVATE KEY" not in line]
    return root, [SECRET_ACCESS_KEY, ACCESS_KEY_ID, *secret_lines[1:3]]


def imported(ec2: Any, root: Path) -> str:
    task = ec2.import_image(DiskContainers=[{"Url": f"file://{root}"}])["ImportTaskId"]
    return str(wait_for_import(ec2, task, quiet)["ImageId"])


@pytest.fixture
def home(tmp_path: Path) -> Iterator[tuple[Path, str, str, list[str]]]:
    """A data home with a planted image and a clean one."""
    require_root("instances run in namespaces with overlayfs")
    cloud = Cloud(tmp_path / "home")
    ec2 = amiable.Session(cloud=cloud, region=REGION).client("ec2")
    root, secrets = planted_root(tmp_path / "planted")
    planted = imported(ec2, root)
    clean = imported(ec2, busybox_root(tmp_path / "clean"))
    cloud.close()
    (tmp_path / "rules.yaml").write_text(RULES)
    yield tmp_path / "home", planted, clean, secrets
    cloud = Cloud(tmp_path / "home")
    ec2 = amiable.Session(cloud=cloud, region=REGION).client("ec2")
    terminate_all(ec2)
    cloud.close()


def audited(home: Path, image_id: str, *args: str) -> tuple[int, dict[str, Any], str]:
    done = run_ami(
        "--home",
        home,
        "--region",
        REGION,
        "audit",
        "--content",
        "--image-ids",
        image_id,
        "--rules",
        str(home.parent / "rules.yaml"),
        "--format",
        "json",
        *args,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout), done.stdout + done.stderr


def test_planted_secrets_are_found_with_their_paths(
    home: tuple[Path, str, str, list[str]],
) -> None:
    data_home, planted, _, secrets = home
    sboms = data_home.parent / "sboms"
    status, report, text = audited(
        data_home, planted, "--vuln-db", str(OSV), "--sbom-dir", str(sboms)
    )
    assert status == 1
    found = {f["rule"]: f for f in report["findings"] if f["image_id"] == planted}
    for rule, paths in PLANTED.items():
        assert rule in found, (rule, sorted(found))
        assert found[rule]["evidence"]["paths"] == paths, rule
    vulnerable = found["vulnerable-package"]["evidence"]["vulnerabilities"]
    assert {(v["package"], v["id"]) for v in vulnerable} >= {("libc6", "DEBIAN-CVE-2024-2961")}
    assert "no-telnet" not in found and found["has-motd"]["evidence"]["exit_code"] == 1
    for secret in secrets:
        assert secret not in text
    components = json.loads((sboms / f"{planted}.cdx.json").read_text())["components"]
    assert [c["name"] for c in components] == ["libc6"]
    ec2 = amiable.Session(home=data_home, region=REGION).client("ec2")
    instances = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    assert instances and all(i["State"]["Name"] == "terminated" for i in instances)


def test_a_clean_image_passes(home: tuple[Path, str, str, list[str]]) -> None:
    data_home, _, clean, _ = home
    status, report, _ = audited(data_home, clean, "--fail-on", "critical")
    content_rules = set(PLANTED) | {"no-telnet"}
    assert not [f for f in report["findings"] if f["rule"] in content_rules]
    assert status == 0
    skipped = {s["rule"]: s["reason"] for s in report["skipped"]}
    assert skipped["vulnerable-package"] == "no vulnerability database (--vuln-db)"
