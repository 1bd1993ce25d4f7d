"""Images: RegisterImage, DescribeImages, DeregisterImage and the image
attributes that are not about sharing.

An image is kept as its EC2 output document (the `Image` shape, JSON) plus
the columns queries need; the snapshots it uses are listed in
`image_snapshots`, so a snapshot in use cannot be deleted. Visibility is the
caller's own images until launch permissions come (issue 4).
"""

import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, or_, select
from sqlalchemy.exc import IntegrityError

from amiable.catalog.regional import image_snapshots, images, snapshots

from .actions import Context, action
from .errors import ApiError, invalid_value
from .filters import Extractor, field
from .home import Region
from .ids import new_id, well_formed
from .listing import filtered_page, owned_rows
from .snapshots import delete_owned_snapshot
from .tags import apply_specifications, delete_tags_of

_NAME = re.compile(r"[A-Za-z0-9()\[\] ./\-'@_]{3,128}")
_COPIED = (
    "Name",
    "Description",
    "Architecture",
    "KernelId",
    "RamdiskId",
    "RootDeviceName",
    "VirtualizationType",
    "SriovNetSupport",
    "EnaSupport",
    "BootMode",
    "TpmSupport",
    "ImdsSupport",
    "ImageLocation",
)


def check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ApiError(
            "InvalidAMIName.Malformed",
            "AMI names must be between 3 and 128 characters long, and may contain letters, "
            "numbers, '(', ')', '.', '-', '/' and '_'",
        )


def check_image_ids(ids: Iterable[str]) -> None:
    for image_id in ids:
        if not well_formed("ami", image_id):
            raise ApiError("InvalidAMIID.Malformed", f'Invalid id: "{image_id}"')


def _not_found(image_ids: list[str]) -> ApiError:
    listed = ", ".join(image_ids)
    return ApiError("InvalidAMIID.NotFound", f"The image id '[{listed}]' does not exist")


def _now() -> str:
    stamp = datetime.now(UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


# Statements of the register path, built once (building one costs ~20 µs).
_INSERT_IMAGE = images.insert()
_INSERT_IMAGE_SNAPSHOT = image_snapshots.insert()
_IMAGE_NAMED = select(images.c.image_id).where(
    images.c.owner_id == bindparam("owner"), images.c.name == bindparam("name")
)
_SNAPSHOT_FOR_IMAGE = select(
    snapshots.c.volume_size, snapshots.c.state, snapshots.c.encrypted
).where(
    snapshots.c.snapshot_id == bindparam("snapshot_id"), snapshots.c.owner_id == bindparam("owner")
)


def _mappings(
    conn: Connection, owner: str, requested: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The block device mappings as DescribeImages shows them, and their snapshots."""
    shown: list[dict[str, Any]] = []
    used: list[str] = []
    for mapping in requested:
        if "DeviceName" not in mapping:
            raise invalid_value("BlockDeviceMapping.DeviceName", "", "a device name is required")
        entry = {k: v for k, v in mapping.items() if k != "Ebs"}
        ebs = mapping.get("Ebs")
        if ebs is not None:
            entry["Ebs"] = _ebs(conn, owner, ebs, used)
        shown.append(entry)
    return shown, used


def _ebs(conn: Connection, owner: str, ebs: dict[str, Any], used: list[str]) -> dict[str, Any]:
    shown = {"DeleteOnTermination": True, "VolumeType": "gp2", "Encrypted": False, **ebs}
    snapshot_id = ebs.get("SnapshotId")
    if snapshot_id is None:
        if "VolumeSize" not in ebs:
            raise invalid_value("Ebs.VolumeSize", "", "a volume needs a size or a snapshot")
        return shown
    row = conn.execute(_SNAPSHOT_FOR_IMAGE, {"snapshot_id": snapshot_id, "owner": owner}).first()
    if row is None:
        raise ApiError("InvalidSnapshot.NotFound", f"The snapshot '{snapshot_id}' does not exist.")
    if row.state != "completed":
        raise ApiError("IncorrectState", f"Snapshot '{snapshot_id}' is not in the completed state.")
    size = shown.setdefault("VolumeSize", row.volume_size)
    if size < row.volume_size:
        raise invalid_value(
            "Ebs.VolumeSize", size, f"smaller than snapshot size {row.volume_size} GiB"
        )
    shown["Encrypted"] = bool(row.encrypted)
    used.append(snapshot_id)
    return shown


@action("ec2", "RegisterImage")
def register_image(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    check_name(params["Name"])
    region: Region = ctx.cloud.region(ctx.region)
    image_id = new_id("ami")
    alias = ctx.cloud.accounts.alias_of(ctx.account_id)
    with region.catalog.begin() as conn:
        mappings, used = _mappings(conn, ctx.account_id, params.get("BlockDeviceMappings", []))
        if not params.get("ImageLocation") and not used:
            raise ApiError(
                "InvalidParameterCombination",
                "An EBS-backed image needs a block device mapping with a snapshot",
            )
        insert_image(conn, ctx.account_id, alias, image_id, params, mappings)
        apply_specifications(
            conn, params.get("TagSpecifications"), "image", image_id, ctx.account_id
        )
    return {"ImageId": image_id}


def insert_image(
    conn: Connection,
    owner: str,
    alias: str | None,
    image_id: str,
    params: dict[str, Any],
    mappings: list[dict[str, Any]],
) -> None:
    """Write an image with its (checked) block device mappings; a taken name is
    InvalidAMIName.Duplicate."""
    name = params["Name"]
    document = _document(owner, alias, image_id, params, mappings)
    try:  # the unique index on (owner, name) finds a taken name; the caller rolls back
        conn.execute(
            _INSERT_IMAGE,
            {
                "image_id": image_id,
                "owner_id": owner,
                "name": name,
                "state": document["State"],
                "creation_date": document["CreationDate"],
                "document": json.dumps(document),
                "attributes": json.dumps({"UefiData": params.get("UefiData")}),
            },
        )
    except IntegrityError as exc:
        taken = conn.execute(_IMAGE_NAMED, {"owner": owner, "name": name}).scalar()
        raise ApiError(
            "InvalidAMIName.Duplicate", f"AMI name {name} is already in use by AMI {taken}"
        ) from exc
    used = {m["Ebs"]["SnapshotId"] for m in mappings if "SnapshotId" in m.get("Ebs", {})}
    for snapshot_id in sorted(used):
        conn.execute(_INSERT_IMAGE_SNAPSHOT, {"image_id": image_id, "snapshot_id": snapshot_id})


def _document(
    owner: str,
    alias: str | None,
    image_id: str,
    params: dict[str, Any],
    mappings: list[dict[str, Any]],
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "ImageId": image_id,
        "OwnerId": owner,
        "State": "available",
        "CreationDate": _now(),
        "Public": False,
        "ImageType": "machine",
        "Hypervisor": "xen",
        "Architecture": "i386",  # EC2's documented default
        "VirtualizationType": "paravirtual",  # likewise
        "RootDeviceType": "ebs" if mappings else "instance-store",
        "PlatformDetails": "Linux/UNIX",
        "UsageOperation": "RunInstances",
        "BlockDeviceMappings": mappings,
        "DeregistrationProtection": "disabled",
    }
    document.update({k: params[k] for k in _COPIED if k in params})
    if "RootDeviceName" not in document and mappings:
        document["RootDeviceName"] = mappings[0]["DeviceName"]
    if params.get("BillingProducts"):
        document["ProductCodes"] = []
    if alias:
        document["ImageOwnerAlias"] = alias
    return document


def snapshot_mappings(
    conn: Connection, owner: str, device: str, snapshot_id: str
) -> list[dict[str, Any]]:
    """The block device mapping of an image whose root is one snapshot."""
    mappings, _ = _mappings(
        conn, owner, [{"DeviceName": device, "Ebs": {"SnapshotId": snapshot_id}}]
    )
    return mappings


def _bdm(key: str) -> Extractor:
    return lambda image: [
        str(m["Ebs"][key]).lower() if isinstance(m["Ebs"][key], bool) else str(m["Ebs"][key])
        for m in image.get("BlockDeviceMappings", [])
        if "Ebs" in m and key in m["Ebs"]
    ]


_FILTERS: dict[str, Extractor] = {
    "architecture": field("Architecture"),
    "block-device-mapping.delete-on-termination": _bdm("DeleteOnTermination"),
    "block-device-mapping.device-name": lambda i: [
        m["DeviceName"] for m in i.get("BlockDeviceMappings", [])
    ],
    "block-device-mapping.snapshot-id": _bdm("SnapshotId"),
    "block-device-mapping.volume-size": _bdm("VolumeSize"),
    "block-device-mapping.volume-type": _bdm("VolumeType"),
    "block-device-mapping.encrypted": _bdm("Encrypted"),
    "boot-mode": field("BootMode"),
    "creation-date": field("CreationDate"),
    "deprecation-time": field("DeprecationTime"),
    "description": field("Description"),
    "ena-support": field("EnaSupport"),
    "hypervisor": field("Hypervisor"),
    "image-id": field("ImageId"),
    "image-type": field("ImageType"),
    "imds-support": field("ImdsSupport"),
    "is-public": field("Public"),
    "kernel-id": field("KernelId"),
    "manifest-location": field("ImageLocation"),
    "name": field("Name"),
    "owner-alias": field("ImageOwnerAlias"),
    "owner-id": field("OwnerId"),
    "platform": field("Platform"),
    "platform-details": field("PlatformDetails"),
    "product-code": lambda i: [p["ProductCodeId"] for p in i.get("ProductCodes", [])],
    "ramdisk-id": field("RamdiskId"),
    "root-device-name": field("RootDeviceName"),
    "root-device-type": field("RootDeviceType"),
    "source-image-id": field("SourceImageId"),
    "source-image-region": field("SourceImageRegion"),
    "source-instance-id": field("SourceInstanceId"),
    "sriov-net-support": field("SriovNetSupport"),
    "state": field("State"),
    "state-reason-code": lambda i: [i["StateReason"]["Code"]] if "StateReason" in i else [],
    "state-reason-message": lambda i: [i["StateReason"]["Message"]] if "StateReason" in i else [],
    "tpm-support": field("TpmSupport"),
    "usage-operation": field("UsageOperation"),
    "virtualization-type": field("VirtualizationType"),
}


def _owners(ctx: Context, owners: list[str]) -> set[str]:
    """`Owners` entries as account ids: self, ids, and account aliases."""
    accounts = ctx.cloud.accounts.list()
    by_alias = {a.alias: a.account_id for a in accounts if a.alias}
    resolved = set()
    for owner in owners:
        if owner == "self":
            resolved.add(ctx.account_id)
        elif owner.isdigit() and len(owner) == 12:
            resolved.add(owner)
        elif owner in by_alias:
            resolved.add(by_alias[owner])
        else:
            raise ApiError("InvalidUserID.Malformed", f'Invalid user id: "{owner}"')
    return resolved


_COLUMN_FILTERS = {"name": images.c.name, "image-id": images.c.image_id, "state": images.c.state}


def _narrow(query: Select[Any], filters: list[dict[str, Any]] | None) -> Select[Any]:
    """Let SQLite pre-select on indexed columns (GLOB has EC2's `*` and `?`);
    the exact filters still run over the documents afterwards."""
    for f in filters or []:
        column = _COLUMN_FILTERS.get(f.get("Name", ""))
        values = f.get("Values") or []
        if column is not None and values and not any("\\" in v or "[" in v for v in values):
            query = query.where(or_(*(column.op("GLOB")(v) for v in values)))
    return query


def _executable(ctx: Context, image: dict[str, Any], users: list[str]) -> bool:
    """ExecutableUsers: `self` (the caller), `all` (public images) or account ids.
    Launch permissions for other accounts come with sharing (issue 4)."""
    for user in users:
        account = ctx.account_id if user == "self" else user
        if (user == "all" and image.get("Public")) or image["OwnerId"] == account:
            return True
    return False


@action("ec2", "DescribeImages")
def describe_images(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    wanted = params.get("ImageIds") or []
    check_image_ids(wanted)
    owners = _owners(ctx, params.get("Owners") or [])
    region: Region = ctx.cloud.region(ctx.region)
    filters = params.get("Filters")
    rows, tags = owned_rows(
        region,
        images,
        "image_id",
        ctx.account_id,
        wanted,
        _not_found,
        narrow=lambda query: _narrow(query, filters),
    )
    found = [{**json.loads(r.document), "Tags": tags[r.image_id]} for r in rows]
    if owners:
        found = [i for i in found if i["OwnerId"] in owners]
    executable_by = params.get("ExecutableUsers")
    if executable_by:
        found = [i for i in found if _executable(ctx, i, executable_by)]
    results, token = filtered_page(found, params, _FILTERS, "ImageId")
    return {"Images": results, "NextToken": token}


@action("ec2", "DeregisterImage")
def deregister_image(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    image_id = params["ImageId"]
    check_image_ids([image_id])
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.begin() as conn:
        owned = conn.execute(
            select(images.c.image_id).where(
                images.c.image_id == image_id, images.c.owner_id == ctx.account_id
            )
        ).first()
        if owned is None:
            raise _not_found([image_id])
        used = list(
            conn.execute(
                select(image_snapshots.c.snapshot_id).where(image_snapshots.c.image_id == image_id)
            ).scalars()
        )
        conn.execute(images.delete().where(images.c.image_id == image_id))
        delete_tags_of(conn, image_id)
    result: dict[str, Any] = {"Return": True}
    if params.get("DeleteAssociatedSnapshots"):
        result["DeleteSnapshotResults"] = [_delete_used(ctx, region, s) for s in used]
    return result


def _delete_used(ctx: Context, region: Region, snapshot_id: str) -> dict[str, Any]:
    try:
        delete_owned_snapshot(ctx, region, snapshot_id)
    except ApiError as exc:
        return {"SnapshotId": snapshot_id, "ReturnCode": _return_code(exc.code)}
    return {"SnapshotId": snapshot_id, "ReturnCode": "success"}


def _return_code(code: str) -> str:
    return {
        "InvalidSnapshot.InUse": "error-code.snapshot-in-use",
        "InvalidSnapshot.NotFound": "error-code.snapshot-not-found",
    }.get(code, "error-code.client-error")


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


def _owned_image(
    region: Region, owner: str, image_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    check_image_ids([image_id])
    with region.catalog.connect() as conn:
        row = conn.execute(
            select(images.c.document, images.c.attributes).where(
                images.c.image_id == image_id, images.c.owner_id == owner
            )
        ).first()
    if row is None:
        raise _not_found([image_id])
    return json.loads(row.document), json.loads(row.attributes)


@action("ec2", "DescribeImageAttribute")
def describe_image_attribute(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name = params["Attribute"]
    if name == "launchPermission":
        raise ApiError("Unsupported", "Launch permissions come with image sharing.")
    if name not in _ATTRIBUTES:
        raise invalid_value("Attribute", name)
    document, attributes = _owned_image(
        ctx.cloud.region(ctx.region), ctx.account_id, params["ImageId"]
    )
    member, read = _ATTRIBUTES[name]
    return {"ImageId": params["ImageId"], member: read(document, attributes)}


@action("ec2", "ModifyImageAttribute")
def modify_image_attribute(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """description and imdsSupport (v2.0, which cannot be undone, as on EC2)."""
    image_id = params["ImageId"]
    region: Region = ctx.cloud.region(ctx.region)
    document, _ = _owned_image(region, ctx.account_id, image_id)
    attribute = params.get("Attribute")
    if "LaunchPermission" in params or attribute == "launchPermission" or params.get("UserIds"):
        raise ApiError("Unsupported", "Launch permissions come with image sharing.")
    if "Description" in params or attribute == "description":
        value = params.get("Description", {}).get("Value", params.get("Value"))
        if value is None:
            raise invalid_value("Description", "", "a value is required")
        document["Description"] = value
    elif "ImdsSupport" in params or attribute == "imdsSupport":
        value = params.get("ImdsSupport", {}).get("Value", params.get("Value"))
        if value != "v2.0":
            raise invalid_value("ImdsSupport", value, "the only value is v2.0")
        document["ImdsSupport"] = value
    else:
        raise ApiError(
            "InvalidParameterCombination",
            "ModifyImageAttribute changes description, imdsSupport or launchPermission",
        )
    with region.catalog.begin() as conn:
        conn.execute(
            images.update()
            .where(images.c.image_id == image_id)
            .values(document=json.dumps(document))
        )
    return {}
