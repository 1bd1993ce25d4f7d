"""DescribeInstanceAttribute, ModifyInstanceAttribute (userData and
instanceType while the instance is stopped, as on EC2; disableApiTermination
and instanceInitiatedShutdownBehavior at any time) and
DescribeInstanceImageMetadata (what an instance's image is, or was),
ModifyInstanceMetadataOptions, and an instance's security groups
(`groupSet`; changed as network_interfaces.py changes an interface's)."""

import base64
import json
from typing import Any

from sqlalchemy import select

from amiable.catalog.regional import images, instances
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError, invalid_value
from amiable.cloud.core.filters import field
from amiable.cloud.core.home import Region
from amiable.cloud.core.listing import filtered_page

from . import metadata, metadata_options, placement, rules
from .instances import describe_instances, instance_rows
from .network_interfaces import change_groups


def _value(value: Any) -> dict[str, Any]:
    return {"Value": value}


@action("ec2", "DescribeInstanceAttribute")
def describe_instance_attribute(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    (row,) = instance_rows(ctx, region, [params["InstanceId"]])
    name = params["Attribute"]
    shown: dict[str, Any] = {"InstanceId": row.instance_id}
    if name == "instanceType":
        shown["InstanceType"] = _value(row.instance_type)
    elif name == "userData":
        data = base64.b64encode(row.user_data).decode() if row.user_data else None
        shown["UserData"] = _value(data) if data else {}
    elif name == "rootDeviceName":
        shown["RootDeviceName"] = _value(row.root_device)
    elif name == "blockDeviceMapping":
        (instance,) = [
            i
            for r in describe_instances(ctx, {"InstanceIds": [row.instance_id]})["Reservations"]
            for i in r["Instances"]
        ]
        shown["BlockDeviceMappings"] = instance["BlockDeviceMappings"]
    elif name == "disableApiTermination":
        shown["DisableApiTermination"] = _value(bool(row.disable_api_termination))
    elif name in ("disableApiStop", "ebsOptimized", "sourceDestCheck"):
        member = name[0].upper() + name[1:]
        shown[member] = _value(name == "sourceDestCheck")
    elif name == "instanceInitiatedShutdownBehavior":
        shown["InstanceInitiatedShutdownBehavior"] = _value(row.shutdown_behavior)
    elif name == "groupSet":
        with region.catalog.connect() as conn:
            groups = placement.groups_of(conn, [row.instance_id])[row.instance_id]
        shown["Groups"] = groups
    elif name == "enaSupport":
        shown["EnaSupport"] = _value(bool(json.loads(row.document).get("EnaSupport")))
    else:
        raise invalid_value("Attribute", name, "not an attribute amiable keeps")
    return shown


@action("ec2", "ModifyInstanceAttribute")
def modify_instance_attribute(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """instanceType and userData while stopped, as on EC2; disableApiTermination
    and instanceInitiatedShutdownBehavior at any time."""
    region: Region = ctx.cloud.region(ctx.region)
    (row,) = instance_rows(ctx, region, [params["InstanceId"]])
    if params.get("Groups"):
        change_groups(region, row, params["Groups"])
        return {}
    column, value = _change_asked(params)
    if column in ("instance_type", "user_data") and row.state != "stopped":
        raise ApiError(
            "IncorrectInstanceState",
            f"The instance '{row.instance_id}' is not in the 'stopped' state.",
        )
    if row.state == "terminated":
        raise ApiError("IncorrectInstanceState", f"The instance '{row.instance_id}' is terminated.")
    with region.catalog.begin() as conn:
        conn.execute(
            instances.update()
            .where(instances.c.instance_id == row.instance_id)
            .values({column: value})
        )
    return {}


def _asked(params: dict[str, Any], member: str, attribute: str) -> Any:
    """The value given for one attribute, in either of the request's two forms
    (`Member={"Value": ...}`, or `Attribute=name` with `Value`), or None."""
    if member in params:
        return params[member].get("Value")
    if params.get("Attribute") == attribute:
        return params.get("Value")
    return None


def _change_asked(params: dict[str, Any]) -> tuple[str, Any]:
    """The catalog column the request changes and its new value."""
    if (kind := _asked(params, "InstanceType", "instanceType")) is not None:
        return "instance_type", rules.check_instance_type(kind)
    if (data := _asked(params, "UserData", "userData")) is not None:
        return "user_data", data if isinstance(data, bytes) else base64.b64decode(data)
    if (protect := _asked(params, "DisableApiTermination", "disableApiTermination")) is not None:
        return "disable_api_termination", protect in (True, "true")
    behavior = _asked(
        params, "InstanceInitiatedShutdownBehavior", "instanceInitiatedShutdownBehavior"
    )
    if behavior is not None:
        return "shutdown_behavior", rules.check_shutdown_behavior(behavior)
    raise ApiError(
        "InvalidParameterCombination",
        "ModifyInstanceAttribute changes instanceType, userData, disableApiTermination "
        "or instanceInitiatedShutdownBehavior here",
    )


@action("ec2", "DescribeInstanceImageMetadata")
def describe_instance_image_metadata(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    rows = instance_rows(ctx, region, params.get("InstanceIds") or [])
    with region.catalog.connect() as conn:
        documents = {
            r.image_id: json.loads(r.document)
            for r in conn.execute(
                select(images.c.image_id, images.c.document).where(
                    images.c.image_id.in_({row.image_id for row in rows})
                )
            )
        }
    items = []
    for row in rows:
        image = documents.get(row.image_id)
        metadata: dict[str, Any] = {"ImageId": row.image_id}
        if image is not None:  # the image still exists (and is not in the bin)
            metadata.update(
                {
                    "Name": image.get("Name"),
                    "OwnerId": image["OwnerId"],
                    "State": image["State"],
                    "CreationDate": image["CreationDate"],
                    "IsPublic": bool(image.get("Public")),
                    **{k: image[k] for k in ("ImageOwnerAlias", "DeprecationTime") if k in image},
                }
            )
        items.append(
            {
                "InstanceId": row.instance_id,
                "InstanceType": row.instance_type,
                "LaunchTime": row.launch_time,
                "AvailabilityZone": row.zone,
                "State": rules.state(row.state),
                "OwnerId": row.owner_id,
                "ImageMetadata": metadata,
            }
        )
    extractors = {
        "instance-id": field("InstanceId"),
        "instance-type": field("InstanceType"),
        "availability-zone": field("AvailabilityZone"),
        "instance-state-name": lambda i: [i["State"]["Name"]],
    }
    chosen, token = filtered_page(items, params, extractors, "InstanceId")
    return {"InstanceImageMetadata": chosen, "NextToken": token}


@action("ec2", "ModifyInstanceMetadataOptions")
def modify_instance_metadata_options(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    (row,) = instance_rows(ctx, region, [params["InstanceId"]])
    if row.state == "terminated":
        raise ApiError(
            "IncorrectInstanceState",
            f"The instance '{row.instance_id}' is not in a state from which it can be modified.",
        )
    options = metadata_options.changed(metadata_options.of(row.metadata_options), params)
    with region.catalog.begin() as conn:
        conn.execute(
            instances.update()
            .where(instances.c.instance_id == row.instance_id)
            .values(metadata_options=json.dumps(options))
        )
    metadata.write(region, row.instance_id)
    return {
        "InstanceId": row.instance_id,
        "InstanceMetadataOptions": {**options, "State": "pending"},
    }
