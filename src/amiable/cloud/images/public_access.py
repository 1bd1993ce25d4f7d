"""Block public access for images and snapshots, per account and region.

Images (`block-new-sharing` | `unblocked`): while blocked, nothing new can be
made public; images already public stay public. New accounts start blocked,
as on AWS. Snapshots (`block-all-sharing` | `block-new-sharing` |
`unblocked`, default `unblocked`): `block-new-sharing` refuses new public
sharing, `block-all-sharing` also hides the account's public snapshots from
everyone else while it is on.
"""

from typing import Any

from sqlalchemy import Connection, Select, select

from amiable.catalog.regional import account_settings
from amiable.cloud.core import account_settings as settings
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import invalid_value
from amiable.cloud.core.home import Region

IMAGE_SETTING = "image-block-public-access"
SNAPSHOT_SETTING = "snapshot-block-public-access"


def image_sharing_blocked(conn: Connection, account_id: str) -> bool:
    return settings.read(conn, account_id, IMAGE_SETTING, "block-new-sharing") != "unblocked"


def snapshot_state(conn: Connection, account_id: str) -> str:
    return settings.read(conn, account_id, SNAPSHOT_SETTING, "unblocked")


def owners_blocking_all_snapshot_sharing() -> Select[Any]:
    return select(account_settings.c.account_id).where(
        account_settings.c.name == SNAPSHOT_SETTING,
        account_settings.c.value == "block-all-sharing",
    )


@action("ec2", "EnableImageBlockPublicAccess")
def enable_image_block_public_access(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    state = params["ImageBlockPublicAccessState"]
    if state != "block-new-sharing":
        raise invalid_value("ImageBlockPublicAccessState", state, "must be block-new-sharing")
    settings.write_for_caller(ctx, IMAGE_SETTING, state)
    return {"ImageBlockPublicAccessState": state}


@action("ec2", "DisableImageBlockPublicAccess")
def disable_image_block_public_access(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    settings.write_for_caller(ctx, IMAGE_SETTING, "unblocked")
    return {"ImageBlockPublicAccessState": "unblocked"}


@action("ec2", "GetImageBlockPublicAccessState")
def get_image_block_public_access_state(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.connect() as conn:
        blocked = image_sharing_blocked(conn, ctx.account_id)
    state = "block-new-sharing" if blocked else "unblocked"
    return {"ImageBlockPublicAccessState": state, "ManagedBy": "account"}


@action("ec2", "EnableSnapshotBlockPublicAccess")
def enable_snapshot_block_public_access(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    state = params["State"]
    if state not in ("block-all-sharing", "block-new-sharing"):
        raise invalid_value("State", state, "block-all-sharing or block-new-sharing")
    settings.write_for_caller(ctx, SNAPSHOT_SETTING, state)
    return {"State": state}


@action("ec2", "DisableSnapshotBlockPublicAccess")
def disable_snapshot_block_public_access(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    settings.write_for_caller(ctx, SNAPSHOT_SETTING, "unblocked")
    return {"State": "unblocked"}


@action("ec2", "GetSnapshotBlockPublicAccessState")
def get_snapshot_block_public_access_state(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.connect() as conn:
        return {"State": snapshot_state(conn, ctx.account_id), "ManagedBy": "account"}
