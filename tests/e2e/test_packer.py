"""Packer, unchanged: Debian's `packer` (1.6.6, the amazon-ebs builder built
in) runs a template against `ami serve` — a `source_ami_filter` on the Debian
base image, the SSH communicator with Packer's temporary key pair and
security group, a shell provisioner that installs a package from the mirror
and enables its service, `ami_regions`, `ami_users`, `tags` — and the image it
makes, launched, runs that service."""

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from serving import start_server

from amiable.cloud.core.home import Cloud
from api_helpers import OTHER, base_image, terminate
from debian_cloud import debian_cloud_root
from packer_template import BASE_NAME, COPY_REGION, REGION, TAGS, packer_environment, template

pytestmark = pytest.mark.debian


def http_get(address: str) -> str:
    try:
        with socket.create_connection((address, 80), timeout=1) as connection:
            connection.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return connection.recv(4096).decode(errors="replace")
    except OSError:
        return ""


def test_packer_builds_an_image_that_runs_its_service(tmp_path: Path) -> None:
    if shutil.which("packer") is None:
        pytest.skip("packer is not installed (apt-get install packer)")
    home = tmp_path / "home"
    cloud = Cloud(home)
    base_image(cloud, REGION, debian_cloud_root(), BASE_NAME)
    server = start_server(home)
    try:
        path = tmp_path / "web.json"
        path.write_text(json.dumps(template(server.url)))
        done = subprocess.run(
            ["packer", "build", "-color=false", str(path)],
            capture_output=True,
            text=True,
            env=packer_environment(str(tmp_path)),
            cwd=tmp_path,
            timeout=900,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
        built = {
            line.split(": ")[0]: line.split(": ")[1]
            for line in done.stdout.splitlines()
            if line.startswith((f"{REGION}: ami-", f"{COPY_REGION}: ami-"))
        }
        assert set(built) == {REGION, COPY_REGION}, done.stdout[-2000:]
        ec2 = boto3.client(
            "ec2",
            region_name=REGION,
            endpoint_url=server.url,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        _check_image(ec2, built[REGION])
        assert ec2.describe_key_pairs()["KeyPairs"] == [], "Packer's temporary key pair is gone"
        groups = ec2.describe_security_groups()["SecurityGroups"]
        assert [g["GroupName"] for g in groups] == ["default"], "and its security group"
        _launch_and_serve(ec2, built[REGION])
    finally:
        server.stop()


def _check_image(ec2: Any, image_id: str) -> None:
    image = ec2.describe_images(ImageIds=[image_id])["Images"][0]
    assert {t["Key"]: t["Value"] for t in image["Tags"]} == TAGS
    permissions = ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
    assert permissions["LaunchPermissions"] == [{"UserId": OTHER}]


def _launch_and_serve(ec2: Any, image_id: str) -> None:
    group = ec2.create_security_group(GroupName="http", Description="http")["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 80,
                "ToPort": 80,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    reservation = ec2.run_instances(
        ImageId=image_id, MinCount=1, MaxCount=1, SecurityGroupIds=[group]
    )
    instance = reservation["Instances"][0]["InstanceId"]
    try:
        ec2.get_waiter("instance_running").wait(InstanceIds=[instance], WaiterConfig={"Delay": 0.5})
        found = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
        deadline = time.monotonic() + 60
        while "built-by-packer" not in (answer := http_get(found["PrivateIpAddress"])):
            assert time.monotonic() < deadline, f"nginx did not answer: {answer!r}"
            time.sleep(0.3)
    finally:
        terminate(ec2, [instance])
