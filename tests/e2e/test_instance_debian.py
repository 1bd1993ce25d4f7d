"""A whole operating system as on EC2: the Debian image `ami bootstrap debian`
makes boots systemd, cloud-init takes the key pair, the hostname and the user
data from the metadata service, people log in over SSH as `admin`, and an
enabled service starts again after a stop and a start. (Debootstrap: minutes,
once per machine; see debian_cloud.py.)"""

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from instance_api import run

from amiable.cloud.core.home import Cloud
from amiable.tools.audit.scanner import RULES
from api_helpers import base_image
from debian_cloud import debian_cloud_root, ssh, ssh_access
from helpers import ami_command

pytestmark = pytest.mark.debian
REGION = "eu-central-1"
USER_DATA = "#!/bin/sh\necho from-user-data > /var/tmp/user-data-ran\n"


@pytest.fixture
def debian(cloud: Cloud) -> str:
    return base_image(cloud, REGION, debian_cloud_root(), "debian-cloud-test")


def until(check: Any, seconds: float = 60) -> Any:
    """The first true result of `check()` within `seconds` (an assertion error after)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s")


def test_ssh_with_the_key_pair_user_data_and_services_after_a_restart(
    clients: tuple[Any, Any], debian: str, tmp_path: Path
) -> None:
    ec2, ssm = clients
    private = tmp_path / "login.pem"
    group = ssh_access(ec2, "login", private)
    instance = ec2.run_instances(
        ImageId=debian,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        KeyName="login",
        SecurityGroupIds=[group],
        UserData=USER_DATA,
    )["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance], WaiterConfig={"Delay": 0.5})
    described = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    address = described["PrivateIpAddress"]

    logged_in = until(
        lambda: (done := ssh(private, address, "id -un; hostname")).returncode == 0 and done
    )
    assert logged_in.stdout.split() == ["admin", "ip-" + address.replace(".", "-")]
    assert ssh(private, address, "sudo -n true").returncode == 0, (
        "admin may sudo, as on Debian's AMIs"
    )
    until(lambda: "from-user-data" in ssh(private, address, "cat /var/tmp/user-data-ran").stdout)
    other = ec2.create_key_pair(KeyName="other", KeyType="ed25519")
    stranger = tmp_path / "other.pem"
    stranger.write_text(other["KeyMaterial"])
    stranger.chmod(0o600)
    assert ssh(stranger, address, "true").returncode != 0, "only the instance's key pair"

    enabled = run(ssm, instance, "systemctl is-enabled ssh && systemctl is-system-running --wait")
    assert enabled["StandardOutputContent"].split()[0] == "enabled", enabled
    ec2.stop_instances(InstanceIds=[instance])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance], WaiterConfig={"Delay": 0.5})
    ec2.start_instances(InstanceIds=[instance])
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance], WaiterConfig={"Delay": 0.5})
    again = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    assert again["PrivateIpAddress"] == address, "the address stays across stop and start"
    until(lambda: ssh(private, address, "systemctl is-active ssh").stdout.strip() == "active")
    once = ssh(private, address, "cat /var/tmp/user-data-ran | wc -l").stdout.strip()
    assert once == "1", "user data runs on the first boot only"
    console = ec2.get_console_output(InstanceId=instance, Latest=True)
    assert "cloud-init" in console.get("Output", ""), "the console output is the boot log"


def test_a_content_audit_of_the_debian_image_finds_nothing_it_made_itself(
    cloud: Cloud, debian: str
) -> None:
    """Its first boot makes a machine id and SSH host keys while the scan runs
    (and empties /tmp): none of that is the image's, and the scan finishes."""
    done = subprocess.run(
        ami_command(
            "audit",
            "--home",
            cloud.home,
            "--region",
            REGION,
            "--image-ids",
            debian,
            "--content",
            "--format",
            "json",
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(done.stdout)
    unread = [s for s in report["skipped"] if "could not be inspected" in s["reason"]]
    assert unread == [], unread
    assert [f for f in report["findings"] if f["rule"] in RULES] == []


ESCAPE = """import os
os.makedirs("/tmp/jail", exist_ok=True)
os.chroot("/tmp/jail")  # the classic way out: chroot deeper, keep a cwd above it
for _ in range(64):
    os.chdir("..")
os.chroot(".")
print("escaped" if os.path.exists(os.environ["MARK"]) else "inside")
"""


def test_root_in_an_instance_cannot_climb_out_of_its_root(
    clients: tuple[Any, Any], debian: str, tmp_path: Path
) -> None:
    """Root inside (CAP_SYS_CHROOT kept, as sshd needs it) walks `..` past a
    chroot of its own: with the root pivoted, the top is still the instance's."""
    ec2, ssm = clients
    mark = tmp_path / "only-on-the-host"
    mark.write_text("host")
    (instance,) = [
        i["InstanceId"]
        for i in ec2.run_instances(ImageId=debian, MinCount=1, MaxCount=1)["Instances"]
    ]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance], WaiterConfig={"Delay": 0.5})
    done = run(ssm, instance, f"MARK={mark} python3 -c '{ESCAPE}'")
    assert done["StandardOutputContent"].strip() == "inside", done
