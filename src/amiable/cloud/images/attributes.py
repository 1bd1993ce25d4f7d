"""DescribeImageAttribute, ModifyImageAttribute and ResetImageAttribute.

Attributes are read off the image's document; `launchPermission` is handed to
`launch_permissions`. Only the owner reads or changes them.
"""

import json
from collections.abc import Callable
from typing import Any

from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError, invalid_value
from amiable.cloud.core.home import Region
from amiable.cloud.core.permissions import caller_of

from . import launch_permissions
from .images import owned_image, save_document

# DescribeImageAttribute name -> (output member, how to read it off the document)
_ATTRIBUTES: dict[str, tuple[str, Callable[[dict[str, Any], dict[str, Any]], Any]]] = {
    "description": ("Description", lambda d, a: {"Value": d.get("Description", "")}),
    "kernel": ("KernelId", lambda d, a: {"Value": d["KernelId"]} if "KernelId" in d else {}),
    "ramdisk": ("RamdiskId", lambda d, a: {"Value": d["RamdiskId"]} if "RamdiskId" in d else {}),
    "blockDeviceMapping": ("BlockDeviceMappings", lambda d, a: d.get("BlockDeviceMappings", [])),
    "productCodes": ("ProductCodes", lambda d, a: d.get("ProductCodes", [])),
    "sriovNetSupport": (
        "SriovNetSupport",
        lambda d, a: {"Value": d["SriovNetSupport"]} if "SriovNetSupport" in d else {},
    ),
    "bootMode": ("BootMode", lambda d, a: {"Value": d["BootMode"]} if "BootMode" in d else {}),
    "tpmSupport": (
        "TpmSupport",
        lambda d, a: {"Value": d["TpmSupport"]} if "TpmSupport" in d else {},
    ),
    "uefiData": ("UefiData", lambda d, a: {"Value": a["UefiData"]} if a.get("UefiData") else {}),
    "lastLaunchedTime": (
        "LastLaunchedTime",
        lambda d, a: {"Value": d["LastLaunchedTime"]} if "LastLaunchedTime" in d else {},
    ),
    "imdsSupport": (
        "ImdsSupport",
        lambda d, a: {"Value": d["ImdsSupport"]} if "ImdsSupport" in d else {},
    ),
    "deregistrationProtection": (
        "DeregistrationProtection",
        lambda d, a: {"Value": d.get("DeregistrationProtection", "disabled")},
    ),
}


@action("ec2", "DescribeImageAttribute")
def describe_image_attribute(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name, image_id = params["Attribute"], params["ImageId"]
    region: Region = ctx.cloud.region(ctx.region)
    if name == "launchPermission":
        return {
            "ImageId": image_id,
            "LaunchPermissions": launch_permissions.describe(ctx, region, image_id),
        }
    if name not in _ATTRIBUTES:
        raise invalid_value("Attribute", name)
    with region.catalog.connect() as conn:
        document, row = owned_image(conn, caller_of(ctx), image_id)
    member, read = _ATTRIBUTES[name]
    return {"ImageId": image_id, member: read(document, json.loads(row.attributes))}


@action("ec2", "ModifyImageAttribute")
def modify_image_attribute(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """launchPermission, description, and imdsSupport (v2.0, which cannot be
    undone, as on EC2)."""
    region: Region = ctx.cloud.region(ctx.region)
    if launch_permissions.requested(params):
        launch_permissions.modify(ctx, region, params)
        return {}
    attribute = params.get("Attribute")
    if "Description" in params or attribute == "description":
        member, value = (
            "Description",
            params.get("Description", {}).get("Value", params.get("Value")),
        )
        if value is None:
            raise invalid_value("Description", "", "a value is required")
    elif "ImdsSupport" in params or attribute == "imdsSupport":
        member, value = (
            "ImdsSupport",
            params.get("ImdsSupport", {}).get("Value", params.get("Value")),
        )
        if value != "v2.0":
            raise invalid_value("ImdsSupport", value, "the only value is v2.0")
    else:
        raise ApiError(
            "InvalidParameterCombination",
            "ModifyImageAttribute changes description, imdsSupport or launchPermission",
        )
    with region.catalog.begin() as conn:
        document, _ = owned_image(conn, caller_of(ctx), params["ImageId"])
        document[member] = value
        save_document(conn, params["ImageId"], document)
    return {}


@action("ec2", "ResetImageAttribute")
def reset_image_attribute(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """launchPermission, the only attribute EC2 resets: the image becomes private."""
    if params["Attribute"] != "launchPermission":
        raise invalid_value("Attribute", params["Attribute"], "only launchPermission can be reset")
    launch_permissions.reset(ctx, ctx.cloud.region(ctx.region), params["ImageId"])
    return {"Return": True}
