"""Launch permissions of images: who besides the owner may see, copy and launch them.

`ModifyImageAttribute` takes them two ways — `LaunchPermission={Add, Remove}`
or `Attribute=launchPermission` with `OperationType` and `UserIds`,
`UserGroups`, `OrganizationArns`, `OrganizationalUnitArns` — and every entry
is checked before any is applied (`InvalidAMIAttributeItemValue`). Making an
image public is refused while the account's image block public access is on;
a disabled image cannot be shared.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError, invalid_value
from amiable.cloud.core.home import Region
from amiable.cloud.core.permissions import (
    ORGANIZATION_ARN,
    OU_ARN,
    PUBLIC,
    Caller,
    Grant,
    caller_of,
    change,
    clear,
    grants_of,
    is_account_id,
)
from amiable.cloud.kms import keys as kms_keys

from .images import check_image_ids, owned_image, save_document, visible_image
from .public_access import image_sharing_blocked

# LaunchPermission member -> (grant kind, how EC2 names the item type in errors)
_MEMBERS = {
    "UserId": ("user", "userId"),
    "Group": ("group", "UserGroup"),
    "OrganizationArn": ("organization", "organizationArn"),
    "OrganizationalUnitArn": ("ou", "organizationalUnitArn"),
}
_VALID: dict[str, Callable[[str], object]] = {
    "user": is_account_id,
    "group": lambda value: value == "all",
    "organization": ORGANIZATION_ARN.fullmatch,
    "ou": OU_ARN.fullmatch,
}
_LEGACY = {
    "UserIds": "UserId",
    "UserGroups": "Group",
    "OrganizationArns": "OrganizationArn",
    "OrganizationalUnitArns": "OrganizationalUnitArn",
}


def requested(params: dict[str, Any]) -> bool:
    """Whether a ModifyImageAttribute call is about launch permissions."""
    return (
        "LaunchPermission" in params
        or params.get("Attribute") == "launchPermission"
        or any(params.get(name) for name in _LEGACY)
    )


def modify(ctx: Context, region: Region, params: dict[str, Any]) -> None:
    add, remove = _modifications(params)
    caller = caller_of(ctx)
    image_id = params["ImageId"]
    with region.catalog.begin() as conn:
        document, row = owned_image(conn, caller, image_id)
        if add and row.state == "disabled":
            raise ApiError(
                "OperationNotPermitted", f"The image {image_id} is disabled and cannot be shared."
            )
        _check_encryption(conn, document, add)
        going_public = PUBLIC in add and PUBLIC not in grants_of(conn, image_id)
        if going_public and image_sharing_blocked(conn, ctx.account_id):
            raise ApiError(
                "OperationNotPermitted",
                "Block public access for AMIs is enabled for this account in this Region; "
                "disable it to share images publicly.",
            )
        change(conn, image_id, add, remove)
        _publish(conn, image_id, document)


def _check_encryption(conn: Connection, document: dict[str, Any], add: list[Grant]) -> None:
    """Encrypted images are never public, and those under an AWS managed key are
    not shared at all (other accounts cannot use that key), as on AWS."""
    keys = [
        m["Ebs"]["KmsKeyId"]
        for m in document.get("BlockDeviceMappings", [])
        if m.get("Ebs", {}).get("KmsKeyId")
    ]
    if keys and PUBLIC in add:
        raise ApiError("OperationNotPermitted", "Encrypted images cannot be made public.")
    if add and any(kms_keys.aws_managed(conn, key) for key in keys):
        raise ApiError(
            "OperationNotPermitted",
            "Images encrypted with the AWS managed key (alias/aws/ebs) cannot be shared; "
            "copy the image with a customer managed key and share that.",
        )


def _modifications(params: dict[str, Any]) -> tuple[list[Grant], list[Grant]]:
    if "LaunchPermission" in params:
        changes = params["LaunchPermission"]
        add = [_grant(entry) for entry in changes.get("Add", [])]
        remove = [_grant(entry) for entry in changes.get("Remove", [])]
    else:
        operation = params.get("OperationType")
        if operation not in ("add", "remove"):
            raise invalid_value("OperationType", operation, "add or remove")
        entries = [
            _grant({member: value})
            for legacy, member in _LEGACY.items()
            for value in params.get(legacy, [])
        ]
        add, remove = (entries, []) if operation == "add" else ([], entries)
    if not add and not remove:
        raise ApiError(
            "MissingParameter", "The request must contain the parameter LaunchPermission"
        )
    return add, remove


def _grant(entry: dict[str, Any]) -> Grant:
    given = [(member, value) for member, value in entry.items() if member in _MEMBERS]
    if len(given) != 1:
        raise ApiError(
            "InvalidAMIAttributeItemValue",
            "Each launch permission names exactly one of UserId, Group, OrganizationArn "
            "or OrganizationalUnitArn",
        )
    member, value = given[0]
    kind, item_type = _MEMBERS[member]
    valid = _VALID[kind](value)
    if not valid:
        raise ApiError(
            "InvalidAMIAttributeItemValue",
            f'Invalid attribute item value "{value}" for {item_type} item type.',
        )
    return kind, value


def _publish(conn: Connection, image_id: str, document: dict[str, Any]) -> None:
    """Keep the document's `Public` in step with the grants."""
    document["Public"] = PUBLIC in grants_of(conn, image_id)
    save_document(conn, image_id, document)


def describe(ctx: Context, region: Region, image_id: str) -> list[dict[str, str]]:
    with region.catalog.connect() as conn:
        owned_image(conn, caller_of(ctx), image_id)
        grants = grants_of(conn, image_id)
    member_of = {kind: member for member, (kind, _) in _MEMBERS.items()}
    return [{member_of[kind]: value} for kind, value in grants]


def reset(ctx: Context, region: Region, image_id: str) -> None:
    """Private again: every grant goes."""
    with region.catalog.begin() as conn:
        document, _ = owned_image(conn, caller_of(ctx), image_id)
        revoke_all(conn, image_id, document)


def revoke_all(conn: Connection, image_id: str, document: dict[str, Any]) -> None:
    """DisableImage: the image loses every launch permission."""
    clear(conn, image_id)
    _publish(conn, image_id, document)


@action("ec2", "CancelImageLaunchPermission")
def cancel_image_launch_permission(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """A recipient removes its own account from an image shared with it."""
    image_id = params["ImageId"]
    check_image_ids([image_id])
    caller: Caller = caller_of(ctx)
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.begin() as conn:
        row = visible_image(conn, caller, image_id)
        mine = ("user", caller.account_id)
        if row.owner_id == caller.account_id or mine not in grants_of(conn, image_id):
            raise ApiError(
                "InvalidParameter", f"The image {image_id} is not shared with your account."
            )
        change(conn, image_id, [], [mine])
    return {"Return": True}
