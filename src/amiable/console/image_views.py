"""How an image is shown: the columns of the AMIs table and the facts of its
detail page, read off DescribeImages' answer; and fetching one image."""

import re
from typing import Any

from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Cloud

from .auth import Visitor
from .calls import call

IMAGE_ID = re.compile(r"^ami-[0-9a-f]{8,17}$")
NONE = "–"


def encryption(image: dict[str, Any]) -> str:
    """`Encrypted` or `Not encrypted`, by the root snapshot's Encrypted flag."""
    root = image.get("RootDeviceName")
    for mapping in image.get("BlockDeviceMappings", []):
        ebs = mapping.get("Ebs")
        if ebs is not None and mapping.get("DeviceName") == root:
            return "Encrypted" if ebs.get("Encrypted") else "Not encrypted"
    return NONE


def visibility(image: dict[str, Any]) -> str:
    return "Public" if image.get("Public") else "Private"


def name_tag(image: dict[str, Any]) -> str:
    """The `Name` tag, which the EC2 console shows as an image's Name."""
    for tag in image.get("Tags", []):
        if tag.get("Key") == "Name":
            return str(tag.get("Value", "")) or NONE
    return NONE


COLUMNS = (
    ("name", "Name"),
    ("ami_name", "AMI name"),
    ("image_id", "AMI ID"),
    ("state", "State"),
    ("created", "Creation date"),
    ("deprecation", "Deprecation time"),
    ("visibility", "Visibility"),
    ("encryption", "Encryption"),
    ("last_launched", "Last launched time"),
)


def row_of(image: dict[str, Any]) -> dict[str, str]:
    """The AMIs table's columns."""
    return {
        "name": name_tag(image),
        "ami_name": str(image.get("Name") or NONE),
        "image_id": str(image["ImageId"]),
        "state": str(image.get("State", NONE)),
        "created": str(image.get("CreationDate") or NONE),
        "deprecation": str(image.get("DeprecationTime") or NONE),
        "visibility": visibility(image),
        "encryption": encryption(image),
        "last_launched": str(image.get("LastLaunchedTime") or NONE),
    }


def devices_of(image: dict[str, Any]) -> list[dict[str, str]]:
    """The block devices table: device, snapshot, size, volume type, encrypted."""
    devices = []
    for mapping in image.get("BlockDeviceMappings", []):
        ebs = mapping.get("Ebs") or {}
        devices.append(
            {
                "device": str(mapping.get("DeviceName", NONE)),
                "snapshot": str(ebs.get("SnapshotId") or mapping.get("VirtualName") or NONE),
                "size": f"{ebs['VolumeSize']} GiB" if "VolumeSize" in ebs else NONE,
                "type": str(ebs.get("VolumeType") or NONE),
                "encrypted": ("Yes" if ebs.get("Encrypted") else "No") if ebs else NONE,
                "delete": ("Yes" if ebs.get("DeleteOnTermination") else "No") if ebs else NONE,
            }
        )
    return devices


def tags_of(image: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((str(t["Key"]), str(t.get("Value", ""))) for t in image.get("Tags", []))


async def one_image(cloud: Cloud, visitor: Visitor, region: str, image_id: str) -> dict[str, Any]:
    """The image as DescribeImages shows it to the visitor (InvalidAMIID.* otherwise)."""
    params = {"ImageIds": [image_id], "IncludeDeprecated": True, "IncludeDisabled": True}
    found = (await call(cloud, visitor, region, "DescribeImages", params))["Images"]
    if not found:
        raise ApiError("InvalidAMIID.NotFound", f"The image id '[{image_id}]' does not exist")
    image: dict[str, Any] = found[0]
    return image
