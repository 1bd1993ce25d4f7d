"""The Packer template the Packer end-to-end test and the instances benchmark
build (Debian's packer 1.6.6, amazon-ebs against `ami serve`), and its shell
steps, which the benchmark's `ami bake` recipe runs too."""

import os
from typing import Any

from api_helpers import OTHER

REGION, COPY_REGION = "us-east-1", "eu-west-1"
BASE_NAME = "debian-12-amd64-20261204"
STEPS = [
    "sudo apt-get update -q",
    "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light",
    "sudo systemctl enable nginx",
    "echo built-by-packer | sudo tee /var/www/html/index.html",
]
TAGS = {"role": "web", "built-by": "packer"}


def template(endpoint: str) -> dict[str, Any]:
    return {
        "builders": [
            {
                "type": "amazon-ebs",
                "region": REGION,
                "access_key": "test",
                "secret_key": "test",
                "custom_endpoint_ec2": endpoint,
                "source_ami_filter": {
                    "filters": {"name": "debian-12-amd64-*", "root-device-type": "ebs"},
                    "owners": ["amazon"],
                    "most_recent": True,
                },
                "instance_type": "t3.micro",
                "ssh_username": "admin",
                "ami_name": "web-{{timestamp}}",
                "ami_regions": [COPY_REGION],
                "ami_users": [OTHER],
                "tags": TAGS,
            }
        ],
        "provisioners": [{"type": "shell", "inline": STEPS}],
    }


def packer_environment(home: str) -> dict[str, str]:
    """What packer runs with: no colour, and no call to HashiCorp's servers
    (it asks for a newer version otherwise)."""
    return {"PATH": os.environ["PATH"], "HOME": home, "CHECKPOINT_DISABLE": "1"}
