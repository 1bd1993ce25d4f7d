"""How an instance is shown: the columns of the Instances table and the facts
of its page, read off DescribeInstances' answer; fetching one instance and
its console output (GetConsoleOutput's base64, decoded)."""

import base64
import binascii
import re
from typing import Any
from urllib.parse import quote

from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Cloud

from .auth import Visitor
from .calls import call
from .image_views import NONE

INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")


def instances_url(region: str) -> str:
    return f"/console/{quote(region)}/instances"


def instance_url(region: str, instance_id: str) -> str:
    return f"{instances_url(region)}/{quote(instance_id)}"


def name_of(instance: dict[str, Any]) -> str:
    """The `Name` tag, which the EC2 console shows as an instance's Name."""
    for tag in instance.get("Tags", []):
        if tag.get("Key") == "Name":
            return str(tag.get("Value", "")) or NONE
    return NONE


def state_of(instance: dict[str, Any]) -> str:
    return str((instance.get("State") or {}).get("Name") or NONE)


def _get(instance: dict[str, Any], key: str) -> str:
    return str(instance.get(key) or NONE)


COLUMNS = (
    ("name", "Name"),
    ("instance_id", "Instance ID"),
    ("state", "Instance state"),
    ("type", "Instance type"),
    ("image_id", "AMI ID"),
    ("private_ip", "Private IP address"),
    ("launched", "Launch time"),
)


def row_of(instance: dict[str, Any]) -> dict[str, str]:
    """The Instances table's columns."""
    return {
        "name": name_of(instance),
        "instance_id": str(instance["InstanceId"]),
        "state": state_of(instance),
        "type": _get(instance, "InstanceType"),
        "image_id": _get(instance, "ImageId"),
        "private_ip": _get(instance, "PrivateIpAddress"),
        "launched": _get(instance, "LaunchTime"),
    }


def facts_of(instance: dict[str, Any]) -> list[tuple[str, str]]:
    """The instance page's details."""
    placement = instance.get("Placement") or {}
    return [
        ("Instance ID", _get(instance, "InstanceId")),
        ("Name", name_of(instance)),
        ("Instance state", state_of(instance)),
        ("Instance type", _get(instance, "InstanceType")),
        ("AMI ID", _get(instance, "ImageId")),
        ("Private IP address", _get(instance, "PrivateIpAddress")),
        ("Launch time", _get(instance, "LaunchTime")),
        ("Availability Zone", str(placement.get("AvailabilityZone") or NONE)),
        ("Root device name", _get(instance, "RootDeviceName")),
        ("State transition reason", _get(instance, "StateTransitionReason")),
    ]


def tags_of(instance: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((str(t["Key"]), str(t.get("Value", ""))) for t in instance.get("Tags", []))


def instances_in(found: dict[str, Any]) -> list[dict[str, Any]]:
    """DescribeInstances' instances, out of their reservations."""
    return [i for r in found.get("Reservations", []) for i in r.get("Instances", [])]


async def one_instance(
    cloud: Cloud, visitor: Visitor, region: str, instance_id: str
) -> dict[str, Any]:
    """The instance as DescribeInstances shows it (InvalidInstanceID.* otherwise)."""
    found = await call(cloud, visitor, region, "DescribeInstances", {"InstanceIds": [instance_id]})
    listed = instances_in(found)
    if not listed:
        raise ApiError(
            "InvalidInstanceID.NotFound", f"The instance ID '{instance_id}' does not exist"
        )
    return listed[0]


def decoded(output: str | None) -> str:
    """GetConsoleOutput's `Output` (base64) as text, undecodable bytes replaced."""
    if not output:
        return ""
    try:
        return base64.b64decode(output).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return ""
