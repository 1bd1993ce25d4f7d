"""createVolumePermission of snapshots: ModifySnapshotAttribute,
DescribeSnapshotAttribute and ResetSnapshotAttribute.

Grants are account ids (`UserId`) or `all` (`Group`); every entry is checked
before any is applied. Encrypted snapshots cannot be made public, and new
public sharing is refused while the owner's snapshot block public access is
on.
"""

from typing import Any

from amiable.cloud.core import permissions
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError, invalid_value
from amiable.cloud.core.home import Region
from amiable.cloud.core.permissions import PUBLIC, Grant
from amiable.cloud.images.public_access import snapshot_state

from .snapshots import check_ids, owned_snapshot


def _grant(entry: dict[str, Any]) -> Grant:
    if "UserId" in entry and "Group" not in entry:
        if not permissions.is_account_id(entry["UserId"]):
            raise ApiError("InvalidUserID.Malformed", f'Invalid user id: "{entry["UserId"]}"')
        return "user", entry["UserId"]
    if "Group" in entry and "UserId" not in entry:
        if entry["Group"] != "all":
            raise invalid_value("Group", entry["Group"], "the only group is all")
        return PUBLIC
    raise invalid_value("CreateVolumePermission", entry, "give a UserId or a Group")


def _modifications(params: dict[str, Any]) -> tuple[list[Grant], list[Grant]]:
    if "CreateVolumePermission" in params:
        changes = params["CreateVolumePermission"]
        return [_grant(e) for e in changes.get("Add", [])], [
            _grant(e) for e in changes.get("Remove", [])
        ]
    if params.get("Attribute") not in (None, "createVolumePermission"):
        raise invalid_value("Attribute", params["Attribute"], "only createVolumePermission")
    operation = params.get("OperationType")
    if operation not in ("add", "remove"):
        raise invalid_value("OperationType", operation, "add or remove")
    entries = [_grant({"UserId": u}) for u in params.get("UserIds", [])]
    entries += [_grant({"Group": g}) for g in params.get("GroupNames", [])]
    return (entries, []) if operation == "add" else ([], entries)


def _owned(ctx: Context, region: Region, conn: Any, snapshot_id: str) -> Any:
    check_ids([snapshot_id])
    return owned_snapshot(conn, ctx.account_id, snapshot_id)


@action("ec2", "ModifySnapshotAttribute")
def modify_snapshot_attribute(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    add, remove = _modifications(params)
    if not add and not remove:
        raise ApiError(
            "MissingParameter", "The request must contain the parameter CreateVolumePermission"
        )
    snapshot_id = params["SnapshotId"]
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.begin() as conn:
        row = _owned(ctx, region, conn, snapshot_id)
        going_public = PUBLIC in add and PUBLIC not in permissions.grants_of(conn, snapshot_id)
        if going_public and row.encrypted:
            raise ApiError(
                "OperationNotPermitted", "Encrypted snapshots cannot be shared publicly."
            )
        if going_public and snapshot_state(conn, ctx.account_id) != "unblocked":
            raise ApiError(
                "OperationNotPermitted",
                "Block public access for snapshots is enabled for this account in this Region.",
            )
        permissions.change(conn, snapshot_id, add, remove)
    return {}


@action("ec2", "DescribeSnapshotAttribute")
def describe_snapshot_attribute(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    snapshot_id, attribute = params["SnapshotId"], params["Attribute"]
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.connect() as conn:
        _owned(ctx, region, conn, snapshot_id)
        grants = permissions.grants_of(conn, snapshot_id)
    if attribute == "productCodes":
        return {"SnapshotId": snapshot_id, "ProductCodes": []}
    if attribute != "createVolumePermission":
        raise invalid_value("Attribute", attribute)
    shown = [{"Group": v} if k == "group" else {"UserId": v} for k, v in grants]
    return {"SnapshotId": snapshot_id, "CreateVolumePermissions": shown}


@action("ec2", "ResetSnapshotAttribute")
def reset_snapshot_attribute(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    if params["Attribute"] != "createVolumePermission":
        raise invalid_value("Attribute", params["Attribute"], "only createVolumePermission")
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.begin() as conn:
        _owned(ctx, region, conn, params["SnapshotId"])
        permissions.clear(conn, params["SnapshotId"])
    return {}
