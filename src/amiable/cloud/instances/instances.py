"""Instances: RunInstances, DescribeInstances, DescribeInstanceStatus,
StartInstances, StopInstances, RebootInstances, TerminateInstances,
GetConsoleOutput.

An `ImageId` of `resolve:ssm:NAME[:VERSION|:LABEL]` (also from a launch
template) is the value of that Parameter Store parameter. Launching checks
the image as EC2 does — visible to the caller (launch
permission), available, not disabled, allowed by the account's Allowed AMIs
— then writes `pending` instances with their root volumes and boots them in
the background (`hosting`). The root volume is a volume row sharing
the image's store snapshot; the instance's changes live in its sandbox's
upper directory.
"""

import base64
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from amiable.catalog.regional import images, instances, snapshots, volumes
from amiable.cloud.core import client_tokens
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.clock import iso
from amiable.cloud.core.errors import ApiError, invalid_value
from amiable.cloud.core.filters import Extractor, field
from amiable.cloud.core.home import Region
from amiable.cloud.core.ids import new_id, well_formed
from amiable.cloud.core.listing import filtered_page
from amiable.cloud.core.permissions import caller_of
from amiable.cloud.core.regions import ZONE_LETTERS
from amiable.cloud.core.tags import apply_specifications, tags_of
from amiable.cloud.core.workers import this_worker
from amiable.cloud.ebs.encryption import protection_of, unwrap
from amiable.cloud.images.allowed_images import judge
from amiable.cloud.images.images import available_image, save_document
from amiable.cloud.ssm.image_aliases import resolved
from amiable.runtime.errors import RuntimeUnavailable
from amiable.runtime.sandbox import Volume, require_support

from . import hosting, metadata_options, placement, rules
from .launch_templates import launch_data

DEFAULT_TYPE = "m1.small"  # EC2's documented default
TERMINATED_VISIBLE = timedelta(hours=1)
CONSOLE_BYTES = 64 * 1024
_SHOWN_FROM_IMAGE = (
    "Architecture",
    "VirtualizationType",
    "Hypervisor",
    "PlatformDetails",
    "UsageOperation",
    "BootMode",
    "EnaSupport",
    "SriovNetSupport",
    "KernelId",
    "RamdiskId",
    "Platform",
    "TpmSupport",
)


def check_ids(ids: list[str]) -> None:
    for instance_id in ids:
        if not well_formed("i", instance_id):
            raise ApiError("InvalidInstanceID.Malformed", f'Invalid id: "{instance_id}"')


def _not_found(ids: list[str]) -> ApiError:
    return ApiError(
        "InvalidInstanceID.NotFound", f"The instance IDs '{', '.join(ids)}' do not exist"
    )


def _launchable(ctx: Context, region: Region, image_id: str) -> tuple[dict[str, Any], Any]:
    """The image's document and its root snapshot row, if the caller may launch it."""
    caller = caller_of(ctx)
    with region.catalog.connect() as conn:
        row = available_image(conn, caller, image_id)
    document = json.loads(row.document)
    state, allowed = judge(region, caller.account_id, ctx.cloud.clock.now())
    if state == "enabled" and not allowed(document):
        raise ApiError(
            "InvalidAMIID.Unavailable",
            f"The image {image_id} is not allowed by this account's Allowed AMIs settings.",
        )
    root = _root_mapping(document)
    with region.catalog.connect() as conn:  # launching needs no permission on the snapshot
        snapshot = conn.execute(
            select(snapshots).where(snapshots.c.snapshot_id == root["Ebs"]["SnapshotId"])
        ).first()
    if snapshot is None or snapshot.state != "completed" or snapshot.store_snapshot is None:
        raise ApiError("InvalidAMIID.Unavailable", f"The root snapshot of {image_id} is not there.")
    return document, snapshot


def _root_mapping(image: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The image's root mapping, with what the request's mapping for the root
    device changes (DeleteOnTermination, VolumeSize, VolumeType)."""
    device = image.get("RootDeviceName")
    for mapping in image.get("BlockDeviceMappings", []):
        if mapping.get("DeviceName") == device and "SnapshotId" in mapping.get("Ebs", {}):
            ebs = dict(mapping["Ebs"])
            for asked in (params or {}).get("BlockDeviceMappings") or []:
                if asked.get("DeviceName") == device:
                    changes = asked.get("Ebs", {})
                    ebs.update(
                        {
                            k: changes[k]
                            for k in ("DeleteOnTermination", "VolumeSize", "VolumeType")
                            if k in changes
                        }
                    )
            return {**mapping, "Ebs": ebs}
    raise ApiError(
        "InvalidAMIID.Unavailable", f"The image {image['ImageId']} has no EBS root snapshot."
    )


def _counts(params: dict[str, Any]) -> int:
    low, high = params["MinCount"], params["MaxCount"]
    if not 1 <= low <= high:
        raise invalid_value("MinCount", low, "1 <= MinCount <= MaxCount")
    return int(high)


_FROM_TEMPLATE = (
    "ImageId",
    "InstanceType",
    "UserData",
    "DisableApiTermination",
    "InstanceInitiatedShutdownBehavior",
    "KeyName",
    "SecurityGroupIds",
    "SecurityGroups",
    "NetworkInterfaces",
    "MetadataOptions",
    "Placement",
)


def _from_template(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """RunInstances' parameters with the launch template's data under them."""
    template = params.get("LaunchTemplate")
    if not template:
        return params
    data = launch_data(ctx, template)
    merged = {k: v for k, v in data.items() if k in _FROM_TEMPLATE}
    if "TagSpecifications" in data and "TagSpecifications" not in params:
        merged["TagSpecifications"] = data["TagSpecifications"]
    return {**merged, **params}


@action("ec2", "RunInstances")
def run_instances(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    try:
        require_support()
    except RuntimeUnavailable as exc:
        raise ApiError("Unsupported", str(exc)) from exc
    params = _from_template(ctx, params)
    if "ImageId" not in params:
        raise ApiError("MissingParameter", "The request must contain the parameter ImageId")
    count = _counts(params)
    instance_type = rules.check_instance_type(params.get("InstanceType") or DEFAULT_TYPE)
    behavior = rules.check_shutdown_behavior(
        params.get("InstanceInitiatedShutdownBehavior") or "stop"
    )
    region: Region = ctx.cloud.region(ctx.region)
    image, snapshot = _launchable(ctx, region, resolved(ctx, params["ImageId"]))
    protection = protection_of(snapshot)
    data_key = unwrap(ctx, region, protection) if protection else None
    user_data = base64.b64decode(params["UserData"]) if params.get("UserData") else None
    zone = (params.get("Placement") or {}).get("AvailabilityZone") or None  # Packer sends ""
    if zone is not None and zone not in {f"{ctx.region}{letter}" for letter in ZONE_LETTERS}:
        raise ApiError("InvalidParameterValue", f"Invalid availability zone: [{zone}]")
    options = metadata_options.changed(
        metadata_options.defaults(image), params.get("MetadataOptions")
    )
    now = ctx.cloud.clock.now()
    reservation = new_id("r")
    root = _root_mapping(image, params)
    shown = {k: image[k] for k in _SHOWN_FROM_IMAGE if k in image}
    ids = []
    extra = _extra_mappings(image, params)
    with region.catalog.begin() as conn:
        earlier = client_tokens.earlier_answer(conn, ctx.account_id, "RunInstances", params)
        if earlier is not None:
            return _reservation(ctx, region, conn, earlier["ReservationId"], earlier["InstanceIds"])
        extra_snapshots = _snapshot_rows(conn, extra)
        placed = placement.place(conn, ctx.account_id, ctx.region, params, zone, count, now)
        zone = placed.subnet.zone
        for index in range(count):
            instance_id = new_id("i")
            network = placement.attach(conn, placed, instance_id)
            volume_id = _attached_volume(conn, ctx, instance_id, root, snapshot, zone, now)
            for mapping in extra:
                source = extra_snapshots.get(mapping["Ebs"].get("SnapshotId", ""))
                _attached_volume(conn, ctx, instance_id, mapping, source, zone, now)
            conn.execute(
                instances.insert().values(
                    instance_id=instance_id,
                    owner_id=ctx.account_id,
                    reservation_id=reservation,
                    image_id=image["ImageId"],
                    instance_type=instance_type,
                    disable_api_termination=bool(params.get("DisableApiTermination")),
                    shutdown_behavior=behavior,
                    state="pending",
                    launch_time=now,
                    launch_index=index,
                    zone=zone,
                    user_data=user_data,
                    root_device=root["DeviceName"],
                    root_volume_id=volume_id,
                    document=json.dumps(shown),
                    worker=this_worker(),
                    metadata_options=json.dumps(options),
                    **network,
                )
            )
            specs = params.get("TagSpecifications")
            for kind, resource in (("instance", instance_id), ("volume", volume_id)):
                wanted = [s for s in specs or [] if s.get("ResourceType") == kind]
                apply_specifications(conn, wanted, kind, resource, ctx.account_id)
            ids.append(instance_id)
        _launched(conn, image["ImageId"], now)
        client_tokens.remember(
            conn,
            ctx.account_id,
            "RunInstances",
            params,
            {"ReservationId": reservation, "InstanceIds": ids},
        )
        rows = _rows(conn, ctx.account_id, ids)
    layer = hosting.layer_of(region, snapshot.store_snapshot, data_key)
    for row in rows:
        mounts = attached_volumes(ctx, region, row)
        hosting.in_background(region, row.instance_id, hosting.boot, layer, user_data, mounts, True)
    with region.catalog.connect() as conn:
        return _reservation(ctx, region, conn, reservation, ids)


def _reservation(
    ctx: Context, region: Region, conn: Connection, reservation: str, ids: list[str]
) -> dict[str, Any]:
    """RunInstances' answer: the reservation's instances as they are now (a
    retried ClientToken gets the first call's instances, whatever their state)."""
    rows = _rows(conn, ctx.account_id, ids)
    tags = tags_of(conn, ids)
    attached, groups = _volumes(region, ids), placement.groups_of(conn, ids)
    return {
        "ReservationId": reservation,
        "OwnerId": ctx.account_id,
        "Groups": [],
        "Instances": [
            _shown(r, tags[r.instance_id], attached, groups[r.instance_id], ctx.region)
            for r in rows
        ],
    }


def _attached_volume(
    conn: Connection,
    ctx: Context,
    instance_id: str,
    mapping: dict[str, Any],
    snapshot: Any | None,
    zone: str,
    now: datetime,
) -> str:
    """A new volume for a block device mapping, attached: from its snapshot
    (sharing the snapshot's store snapshot and protection) or empty."""
    ebs = mapping["Ebs"]
    volume_id = new_id("vol")
    conn.execute(
        volumes.insert().values(
            volume_id=volume_id,
            owner_id=ctx.account_id,
            state="in-use",
            size=ebs.get("VolumeSize") or (snapshot.volume_size if snapshot else 1),
            snapshot_id=snapshot.snapshot_id if snapshot else None,
            availability_zone=zone,
            volume_type=ebs.get("VolumeType", "gp2"),
            encrypted=bool(snapshot and snapshot.encrypted),
            kms_key_id=snapshot.kms_key_id if snapshot else None,
            data_key=snapshot.data_key if snapshot else None,
            create_time=now,
            store_snapshot=snapshot.store_snapshot if snapshot else None,
            instance_id=instance_id,
            device=mapping["DeviceName"],
            delete_on_termination=ebs.get("DeleteOnTermination", True),
        )
    )
    return volume_id


def _extra_mappings(image: dict[str, Any], params: dict[str, Any]) -> list[dict[str, Any]]:
    """The non-root EBS mappings of the image, with the request's over them
    (`NoDevice` drops one)."""
    root = image.get("RootDeviceName")
    chosen = {
        m["DeviceName"]: m
        for m in image.get("BlockDeviceMappings", [])
        if m["DeviceName"] != root and "Ebs" in m
    }
    for mapping in params.get("BlockDeviceMappings") or []:
        device = mapping.get("DeviceName")
        if device == root or device is None:
            continue
        if "NoDevice" in mapping:
            chosen.pop(device, None)
        elif "Ebs" in mapping:
            ebs = mapping["Ebs"]
            if "SnapshotId" not in ebs and "VolumeSize" not in ebs:
                raise invalid_value(
                    "BlockDeviceMapping.Ebs", device, "give SnapshotId or VolumeSize"
                )
            chosen[device] = mapping
    return [chosen[d] for d in sorted(chosen)]


def _snapshot_rows(conn: Connection, mappings: list[dict[str, Any]]) -> dict[str, Any]:
    ids = [m["Ebs"]["SnapshotId"] for m in mappings if "SnapshotId" in m["Ebs"]]
    rows = {
        r.snapshot_id: r
        for r in conn.execute(select(snapshots).where(snapshots.c.snapshot_id.in_(ids)))
    }
    missing = sorted(set(ids) - set(rows))
    if missing:
        raise ApiError("InvalidSnapshot.NotFound", f"The snapshot '{missing[0]}' does not exist.")
    return rows


def attached_volumes(ctx: Context, region: Region, instance: Any) -> Callable[[], list[Volume]]:
    """What mounts an instance's extra volumes at boot (data keys unwrapped now,
    with the caller's KMS permissions; files cached at boot)."""
    with region.catalog.connect() as conn:
        rows = conn.execute(
            select(volumes).where(
                volumes.c.instance_id == instance.instance_id,
                volumes.c.device != instance.root_device,
            )
        ).all()
    keyed = [(row, unwrap(ctx, region, p) if (p := protection_of(row)) else None) for row in rows]
    return lambda: [hosting.volume_mount(region, row, key) for row, key in keyed]


def _launched(conn: Connection, image_id: str, now: datetime) -> None:
    """The image's LastLaunchedTime."""
    row = conn.execute(select(images.c.document).where(images.c.image_id == image_id)).one()
    document = {**json.loads(row.document), "LastLaunchedTime": iso(now)}
    save_document(conn, image_id, document)


def _rows(conn: Connection, owner: str, ids: list[str]) -> list[Any]:
    query = select(instances).where(instances.c.owner_id == owner)
    if ids:
        query = query.where(instances.c.instance_id.in_(ids))
    return list(conn.execute(query.order_by(instances.c.instance_id)).all())


def _volumes(region: Region, ids: list[str]) -> dict[str, list[Any]]:
    attached: dict[str, list[Any]] = {i: [] for i in ids}
    with region.catalog.connect() as conn:
        for row in conn.execute(select(volumes).where(volumes.c.instance_id.in_(ids))):
            attached[row.instance_id].append(row)
    return attached


def _shown(
    row: Any,
    tags: list[dict[str, str]],
    volumes_by: dict[str, list[Any]],
    groups: list[dict[str, str]],
    region_name: str,
) -> dict[str, Any]:
    shown: dict[str, Any] = {
        **json.loads(row.document),
        "InstanceId": row.instance_id,
        "ImageId": row.image_id,
        "State": rules.state(row.state),
        "PublicDnsName": "",
        "StateTransitionReason": (row.state_reason or "").split(":", 1)[-1].strip(),
        "AmiLaunchIndex": row.launch_index,
        "ProductCodes": [],
        "InstanceType": row.instance_type,
        "LaunchTime": row.launch_time,
        "Placement": {"AvailabilityZone": row.zone, "Tenancy": "default"},
        "Monitoring": {"State": "disabled"},
        "MetadataOptions": metadata_options.shown(row.metadata_options),
        "RootDeviceType": "ebs",
        "RootDeviceName": row.root_device,
        "BlockDeviceMappings": [
            {
                "DeviceName": v.device,
                "Ebs": {
                    "AttachTime": v.create_time,
                    "DeleteOnTermination": bool(v.delete_on_termination),
                    "Status": "attached",
                    "VolumeId": v.volume_id,
                },
            }
            for v in volumes_by.get(row.instance_id, [])
        ],
        "Tags": tags,
    }
    shown.update(placement.shown(row, groups, region_name))
    if row.state_reason:
        code, _, message = row.state_reason.partition(": ")
        shown["StateReason"] = {"Code": code, "Message": f"{code}: {message}"}
    return shown


def instance_rows(ctx: Context, region: Region, ids: list[str]) -> list[Any]:
    """The caller's instances (those of `ids`, or all), reconciled with their sandboxes."""
    check_ids(ids)
    with region.catalog.connect() as conn:
        found = _rows(conn, ctx.account_id, ids)
    rows = [hosting.reconcile(region, r) for r in found]
    missing = sorted(set(ids) - {r.instance_id for r in rows})
    if missing or (not rows and ids):
        raise _not_found(missing or ids)
    return rows


def _live(row: Any, now: datetime) -> bool:
    """Terminated instances stay listed for an hour, as on EC2."""
    if row.state != "terminated" or row.ended is None:
        return True
    return bool(now - row.ended < TERMINATED_VISIBLE)


_FILTERS: dict[str, Extractor] = {
    "instance-id": field("InstanceId"),
    "image-id": field("ImageId"),
    "instance-type": field("InstanceType"),
    "instance-state-name": lambda i: [i["State"]["Name"]],
    "instance-state-code": lambda i: [str(i["State"]["Code"])],
    "availability-zone": lambda i: [i["Placement"]["AvailabilityZone"]],
    "reservation-id": field("ReservationId"),
    "root-device-type": field("RootDeviceType"),
    "architecture": field("Architecture"),
    "launch-time": lambda i: [i["LaunchTime"].strftime("%Y-%m-%dT%H:%M:%S.000Z")],
    "key-name": field("KeyName"),
    "subnet-id": field("SubnetId"),
    "vpc-id": field("VpcId"),
    "private-ip-address": field("PrivateIpAddress"),
    "private-dns-name": field("PrivateDnsName"),
    "instance.group-id": lambda i: [g["GroupId"] for g in i.get("SecurityGroups", [])],
    "instance.group-name": lambda i: [g["GroupName"] for g in i.get("SecurityGroups", [])],
    "network-interface.network-interface-id": lambda i: [
        n["NetworkInterfaceId"] for n in i.get("NetworkInterfaces", [])
    ],
    "network-interface.mac-address": lambda i: [
        n["MacAddress"] for n in i.get("NetworkInterfaces", [])
    ],
    "metadata-options.http-tokens": lambda i: [i["MetadataOptions"]["HttpTokens"]],
    "metadata-options.http-endpoint": lambda i: [i["MetadataOptions"]["HttpEndpoint"]],
}


@action("ec2", "DescribeInstances")
def describe_instances(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    rows = instance_rows(ctx, region, params.get("InstanceIds") or [])
    now = ctx.cloud.clock.now()
    rows = [r for r in rows if _live(r, now)]
    ids = [r.instance_id for r in rows]
    with region.catalog.connect() as conn:
        tags = tags_of(conn, ids)
        groups = placement.groups_of(conn, ids)
    attached = _volumes(region, ids)
    items = [
        {
            **_shown(r, tags[r.instance_id], attached, groups[r.instance_id], ctx.region),
            "ReservationId": r.reservation_id,
        }
        for r in rows
    ]
    chosen, token = filtered_page(items, params, _FILTERS, "InstanceId")
    reservations: dict[str, dict[str, Any]] = {}
    for item in chosen:
        reservation = reservations.setdefault(
            item["ReservationId"],
            {
                "ReservationId": item["ReservationId"],
                "OwnerId": ctx.account_id,
                "Groups": [],
                "Instances": [],
            },
        )
        reservation["Instances"].append({k: v for k, v in item.items() if k != "ReservationId"})
    return {"Reservations": list(reservations.values()), "NextToken": token}


@action("ec2", "DescribeInstanceStatus")
def describe_instance_status(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    rows = instance_rows(ctx, region, params.get("InstanceIds") or [])
    if not params.get("IncludeAllInstances"):
        rows = [r for r in rows if r.state == "running"]
    items = [_status(r) for r in rows]
    chosen, token = filtered_page(
        items,
        params,
        {
            "instance-state-name": lambda s: [s["InstanceState"]["Name"]],
            "availability-zone": field("AvailabilityZone"),
        },
        "InstanceId",
    )
    return {"InstanceStatuses": chosen, "NextToken": token}


def _status(row: Any) -> dict[str, Any]:
    check = "ok" if row.state == "running" else "not-applicable"
    detail = [{"Name": "reachability", "Status": "passed" if check == "ok" else "not-applicable"}]
    return {
        "InstanceId": row.instance_id,
        "AvailabilityZone": row.zone,
        "InstanceState": rules.state(row.state),
        "InstanceStatus": {"Status": check, "Details": detail},
        "SystemStatus": {"Status": check, "Details": detail},
    }


def _change(
    ctx: Context, params: dict[str, Any], verb: str, through: str, member: str, **values: Any
) -> tuple[Region, list[str], dict[str, Any]]:
    """Check every instance first, then move each that changes to `through`
    (compare-and-set: of concurrent requests, one moves it and the others see
    it moving). The ids it moved, for their transitions, and the answer."""
    region: Region = ctx.cloud.region(ctx.region)
    rows = instance_rows(ctx, region, params["InstanceIds"])
    for row in rows:
        rules.check(row.instance_id, row.state, verb)
    moved, changes = [], []
    for row in rows:
        current = row
        while rules.check(current.instance_id, current.state, verb):
            if hosting.claim(region, current.instance_id, current.state, state=through, **values):
                moved.append(current.instance_id)
                break
            current = hosting.reconcile(region, hosting.row_of(region, current.instance_id))
        changes.append((row, current.instance_id in moved, current.state))
    answer = {
        member: [
            {
                "InstanceId": row.instance_id,
                "PreviousState": rules.state(row.state),
                "CurrentState": rules.state(through if changed else now),
            }
            for row, changed, now in changes
        ]
    }
    return region, moved, answer


@action("ec2", "StopInstances")
def stop_instances(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    reason = hosting.USER_SHUTDOWN
    region, moved, answer = _change(
        ctx, params, "stop", "stopping", "StoppingInstances", state_reason=reason
    )
    for instance_id in moved:
        hosting.in_background(region, instance_id, hosting.stop, reason)
    return answer


@action("ec2", "StartInstances")
def start_instances(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region, moved, answer = _change(ctx, params, "start", "pending", "StartingInstances")
    for row in instance_rows(ctx, region, moved) if moved else []:
        hosting.in_background(
            region,
            row.instance_id,
            hosting.boot,
            _layer(ctx, region, row),
            row.user_data,
            attached_volumes(ctx, region, row),
        )
    return answer


def _layer(ctx: Context, region: Region, row: Any) -> Any:
    """What boots the instance again: its root volume's files (decrypted if need be)."""
    with region.catalog.connect() as conn:
        volume = conn.execute(
            select(volumes).where(volumes.c.volume_id == row.root_volume_id)
        ).one()
    protection = protection_of(volume)
    data_key = unwrap(ctx, region, protection) if protection else None
    return hosting.layer_of(region, volume.store_snapshot, data_key)


@action("ec2", "RebootInstances")
def reboot_instances(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """A reboot reads `running` throughout; one asked for while another
    transition of the instance is under way (a reboot, a CreateImage) is
    absorbed by it, as EC2 absorbs it."""
    region: Region = ctx.cloud.region(ctx.region)
    rows = instance_rows(ctx, region, params["InstanceIds"])
    for row in rows:
        rules.check(row.instance_id, row.state, "reboot")
    for row in rows:
        if hosting.claim(region, row.instance_id, "running", None):
            layer, mounts = _layer(ctx, region, row), attached_volumes(ctx, region, row)
            hosting.in_background(region, row.instance_id, hosting.reboot, layer, mounts)
    return {}


@action("ec2", "TerminateInstances")
def terminate_instances(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    protected = [
        row.instance_id
        for row in instance_rows(ctx, region, params["InstanceIds"])
        if row.disable_api_termination and row.state != "terminated"
    ]
    if protected:
        raise ApiError(
            "OperationNotPermitted",
            f"The instance '{protected[0]}' may not be terminated. Modify its "
            "'disableApiTermination' instance attribute and try again.",
        )
    region, moved, answer = _change(
        ctx,
        params,
        "terminate",
        "shutting-down",
        "TerminatingInstances",
        state_reason=hosting.USER_SHUTDOWN,
    )
    now = ctx.cloud.clock.now()
    for instance_id in moved:
        hosting.in_background(region, instance_id, hosting.terminate, now)
    return answer


@action("ec2", "GetConsoleOutput")
def get_console_output(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    (row,) = instance_rows(ctx, region, [params["InstanceId"]])
    output = hosting.sandbox(region, row.instance_id).console()[-CONSOLE_BYTES:]
    return {
        "InstanceId": row.instance_id,
        "Timestamp": ctx.cloud.clock.now(),
        "Output": base64.b64encode(output).decode("ascii"),
    }
