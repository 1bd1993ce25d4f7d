"""Images: RegisterImage, DescribeImages, DeregisterImage and the image
attributes that are not about sharing.

An image is kept as its EC2 output document (the `Image` shape, JSON) plus
the columns queries need; the snapshots it uses are listed in
`image_snapshots`, so a snapshot in use cannot be deleted. A caller sees its
own images, those shared with it and public ones (`core/permissions.py`); a
deregistered image's id answers as `deregistered.py` says.
"""

import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError

from amiable.catalog.regional import image_snapshots, images, permissions, snapshots
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.clock import iso
from amiable.cloud.core.errors import ApiError, invalid_value
from amiable.cloud.core.filters import Extractor, field
from amiable.cloud.core.home import Region
from amiable.cloud.core.ids import new_id, well_formed
from amiable.cloud.core.listing import filtered_page, streamed_page, visible_rows
from amiable.cloud.core.pages import paged, token_after
from amiable.cloud.core.permissions import (
    Caller,
    caller_of,
    granted_ids,
    granted_to,
    is_account_id,
    visible,
)
from amiable.cloud.core.tags import apply_specifications, delete_tags_of
from amiable.cloud.ebs.snapshots import delete_owned_snapshot
from amiable.cloud.rbin.rules import bin_retention

from . import deregistered
from .allowed_images import PROVIDERS, image_allowed_filter, judge
from .rules import deprecated, deregistration_refused

_NAME = re.compile(r"[A-Za-z0-9()\[\] ./\-'@_]{3,128}")
COPIED = (
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


# Statements of the register path, built once (building one costs ~20 µs).
_INSERT_IMAGE = images.insert()
_INSERT_IMAGE_SNAPSHOT = image_snapshots.insert()
_IMAGE_NAMED = select(images.c.image_id).where(
    images.c.owner_id == bindparam("owner"), images.c.name == bindparam("name")
)
_SNAPSHOT_FOR_IMAGE = select(
    snapshots.c.volume_size, snapshots.c.state, snapshots.c.encrypted, snapshots.c.kms_key_id
).where(
    snapshots.c.snapshot_id == bindparam("snapshot_id"),
    snapshots.c.owner_id == bindparam("owner"),
    snapshots.c.bin_exit.is_(None),
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
    shown.pop("KmsKeyId", None)
    if row.kms_key_id:
        shown["KmsKeyId"] = row.kms_key_id
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
        insert_image(conn, region, ctx.account_id, alias, image_id, params, mappings)
        apply_specifications(
            conn, params.get("TagSpecifications"), "image", image_id, ctx.account_id
        )
    return {"ImageId": image_id}


def insert_image(
    conn: Connection,
    region: Region,
    owner: str,
    alias: str | None,
    image_id: str,
    params: dict[str, Any],
    mappings: list[dict[str, Any]],
    *,
    extra: dict[str, Any] | None = None,
    worker: str | None = None,
) -> None:
    """Write an image with its (checked) block device mappings; a taken name is
    InvalidAMIName.Duplicate. `extra` fields join the document (a copy's
    `State: pending`, its source), `worker` marks who fills a pending image."""
    name = params["Name"]
    document = _document(owner, alias, image_id, params, mappings, region.clock.now())
    document.update(extra or {})
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
                "worker": worker,
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
    created: datetime,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "ImageId": image_id,
        "OwnerId": owner,
        "State": "available",
        "CreationDate": iso(created),
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
    document.update({k: params[k] for k in COPIED if k in params})
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
    "image-allowed": image_allowed_filter,
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


def _owners(ctx: Context, owners: list[str]) -> set[str] | None:
    """`Owners` entries as account ids: self, ids, and account aliases (None: any owner).
    The aliases AWS documents (amazon, ...) are valid before any account has them."""
    if not owners:
        return None
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
        elif owner not in PROVIDERS:
            raise ApiError("InvalidUserID.Malformed", f'Invalid user id: "{owner}"')
    return resolved


_COLUMN_FILTERS: dict[str, ColumnElement[Any]] = {
    "name": images.c.name,
    "image-id": images.c.image_id,
    "state": images.c.state,
    # not columns: SQLite reads them out of the document, far faster than decoding it here
    "source-image-id": func.json_extract(images.c.document, "$.SourceImageId"),
    "source-image-region": func.json_extract(images.c.document, "$.SourceImageRegion"),
}


def _narrow(query: Select[Any], filters: list[dict[str, Any]] | None) -> Select[Any]:
    """Let SQLite pre-select on indexed columns and a few document fields (GLOB
    has EC2's `*` and `?`); the exact filters still run over the documents
    afterwards."""
    for f in filters or []:
        column = _COLUMN_FILTERS.get(f.get("Name", ""))
        values = f.get("Values") or []
        if column is not None and values and not any("\\" in v or "[" in v for v in values):
            query = query.where(or_(*(column.op("GLOB")(v) for v in values)))
    return query


def _executable_ids(conn: Connection, caller: Caller, users: list[str], ids: list[str]) -> set[str]:
    """Which of `ids` ExecutableUsers selects: `all` (public images), `self` or the
    caller's id (shared with the caller, its organization or OU), another account
    id (shared with that account itself)."""
    reaching = []
    for user in users:
        if user == "all":
            reaching.append(and_(permissions.c.kind == "group", permissions.c.value == "all"))
        elif user in ("self", caller.account_id):
            reaching.append(granted_to(caller, public=False))
        elif is_account_id(user):
            reaching.append(and_(permissions.c.kind == "user", permissions.c.value == user))
        else:
            raise ApiError("InvalidUserID.Malformed", f'Invalid user id: "{user}"')
    query = granted_ids(or_(*reaching)).where(permissions.c.resource_id.in_(ids))
    return set(conn.execute(query).scalars())


def _listed(image: dict[str, Any], caller: Caller, params: dict[str, Any], now: datetime) -> bool:
    """Deprecated images of other accounts and disabled images are left out unless
    asked for (IncludeDeprecated, IncludeDisabled) or named by id."""
    if params.get("ImageIds"):
        return True
    if image["State"] == "disabled" and not params.get("IncludeDisabled"):
        return False
    return not (
        deprecated(image, now)
        and image["OwnerId"] != caller.account_id
        and not params.get("IncludeDeprecated")
    )


@action("ec2", "DescribeImages")
def describe_images(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    wanted = params.get("ImageIds") or []
    check_image_ids(wanted)
    caller = caller_of(ctx)
    owners = _owners(ctx, params.get("Owners") or [])
    region: Region = ctx.cloud.region(ctx.region)
    now = ctx.cloud.clock.now()
    with region.catalog.connect() as conn:
        gone = deregistered.named(conn, caller, wanted, now)
    found = [image for image in gone.values() if image is not None]
    registered = [i for i in wanted if i not in gone]
    rows: list[Any] = []
    tags: dict[str, list[dict[str, str]]] = {}
    streamed = paged(params) and not wanted  # read and decode only as far as the page goes
    after = (token_after(params) or "") if streamed else ""
    if registered or not wanted:
        rows, tags = _registered(region, caller, registered, params.get("Filters"), after)
    shown = _shown_by(region, caller, params, owners, [*found, *rows], now)
    if streamed:
        later = (_decoded(row, tags) for row in rows)
        results, token = streamed_page(filter(shown, later), params, _FILTERS, "ImageId")
    else:
        every = [*found, *(_decoded(row, tags) for row in rows)]
        chosen = sorted(filter(shown, every), key=lambda image: str(image["ImageId"]))
        results, token = filtered_page(chosen, params, _FILTERS, "ImageId")
    return {"Images": results, "NextToken": token}


def _shown_by(
    region: Region,
    caller: Caller,
    params: dict[str, Any],
    owners: set[str] | None,
    candidates: list[Any],
    now: datetime,
) -> Callable[[dict[str, Any]], bool]:
    """Whether DescribeImages lists an image (a dict shaped like its items):
    Owners, ExecutableUsers, deprecated and disabled ones left out, Allowed AMIs
    (which also sets its ImageAllowed). `candidates`: the images or rows it
    may be asked about."""
    executable_by = params.get("ExecutableUsers")
    chosen = None
    if executable_by:
        ids = [c["ImageId"] if isinstance(c, dict) else c.image_id for c in candidates]
        with region.catalog.connect() as conn:
            chosen = _executable_ids(conn, caller, executable_by, ids)
    state, allowed = judge(region, caller.account_id, now)

    def shown(image: dict[str, Any]) -> bool:
        if owners is not None and image["OwnerId"] not in owners:
            return False
        if chosen is not None and image["ImageId"] not in chosen:
            return False
        if not _listed(image, caller, params, now):
            return False
        if state != "disabled":
            image["ImageAllowed"] = allowed(image)
            return state != "enabled" or bool(image["ImageAllowed"])  # else not discoverable
        return True

    return shown


def _registered(
    region: Region,
    caller: Caller,
    wanted: list[str],
    filters: list[dict[str, Any]] | None,
    after: str = "",
) -> tuple[list[Any], dict[str, list[dict[str, str]]]]:
    """The rows of the images the caller may see (those of `wanted` if given,
    NotFound for any it may not; only those whose id is after `after`, a page's
    NextToken) in id order, with their tags."""
    return visible_rows(
        region,
        images,
        "image_id",
        caller.account_id,
        visible(images, "image_id", caller),
        wanted,
        _not_found,
        narrow=lambda query: _narrow(query, filters).where(images.c.image_id > after),
    )


def _decoded(row: Any, tags: dict[str, list[dict[str, str]]]) -> dict[str, Any]:
    return {**json.loads(row.document), "Tags": tags[row.image_id]}


@action("ec2", "DeregisterImage")
def deregister_image(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    image_id = params["ImageId"]
    check_image_ids([image_id])
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.begin() as conn:
        document, _ = owned_image(conn, caller_of(ctx), image_id)
        now = ctx.cloud.clock.now()
        refused = deregistration_refused(document, now)
        if refused:
            raise ApiError("OperationNotPermitted", refused)
        binned = bin_retention(conn, ctx.account_id, "EC2_IMAGE", image_id, now)
        used = list(
            conn.execute(
                select(image_snapshots.c.snapshot_id).where(image_snapshots.c.image_id == image_id)
            ).scalars()
        )
        if binned:  # kept whole in the Recycle Bin: its snapshots stay in use
            conn.execute(images.update().where(images.c.image_id == image_id).values(**binned))
        else:  # its id is remembered, with its launch permissions, until forgotten
            deregistered.remember(conn, document, now)
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
    """EC2's codes: `skipped` when another image uses the snapshot, else `client-error`
    (missing, locked, ...)."""
    return "skipped" if code == "InvalidSnapshot.InUse" else "client-error"


def owned_image(conn: Connection, caller: Caller, image_id: str) -> tuple[dict[str, Any], Any]:
    """The caller's image as (document, row); InvalidAMIID.NotFound when the caller
    cannot see it, AuthFailure when it can but the image is another account's."""
    row = visible_image(conn, caller, image_id)
    if row.owner_id != caller.account_id:
        raise ApiError("AuthFailure", f"Not authorized for image:{image_id}")
    return json.loads(row.document), row


def visible_image(conn: Connection, caller: Caller, image_id: str) -> Any:
    """The image row if the caller owns it or was granted it; else
    InvalidAMIID.Unavailable for an image it could name until deregistered,
    InvalidAMIID.NotFound for any other."""
    check_image_ids([image_id])
    row = conn.execute(
        select(images).where(images.c.image_id == image_id, visible(images, "image_id", caller))
    ).first()
    if row is None:
        if deregistered.remembered(conn, caller, image_id):
            raise deregistered.unavailable(image_id)
        raise _not_found([image_id])
    return row


def visible_images(conn: Connection, caller: Caller, image_ids: list[str]) -> dict[str, Any]:
    """`visible_image` of many ids in one query: the rows by id, or the
    error of the first id the caller cannot see."""
    check_image_ids(image_ids)
    found = {
        row.image_id: row
        for row in conn.execute(
            select(images).where(
                images.c.image_id.in_(image_ids), visible(images, "image_id", caller)
            )
        )
    }
    for image_id in image_ids:
        if image_id not in found:
            visible_image(conn, caller, image_id)
    return found


def available_image(conn: Connection, caller: Caller, image_id: str) -> Any:
    """The image row if the caller may launch it: visible to it (`visible_image`)
    and available (not pending, failed or disabled)."""
    row = visible_image(conn, caller, image_id)
    if row.state != "available":
        raise ApiError(
            "InvalidAMIID.Unavailable",
            f"The image {image_id} is {row.state} and cannot be launched.",
        )
    return row


def save_document(conn: Connection, image_id: str, document: dict[str, Any]) -> None:
    conn.execute(
        images.update()
        .where(images.c.image_id == image_id)
        .values(document=json.dumps(document), state=document["State"])
    )
