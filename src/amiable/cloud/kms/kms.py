"""A minimal KMS on the same endpoint (JSON protocol): keys, aliases, key
policies, deletion, and the cryptographic calls images and snapshots need.

Keys and their rules live in `keys`; this module is the API.
"""

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from amiable.catalog.regional import kms_aliases, kms_keys
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Region

from . import keys
from .keys import Key

MAX_PAGE = 1000


def _region(ctx: Context) -> Region:
    region: Region = ctx.cloud.region(ctx.region)
    return region


def _find(ctx: Context, reference: str, action_name: str, *, owner_only: bool = False) -> Key:
    region = _region(ctx)
    with region.catalog.begin() as conn:
        key = keys.find(
            conn, region, ctx.account_id, reference, f"kms:{action_name}", ctx.cloud.clock.now()
        )
    if owner_only and key.account_id != ctx.account_id:
        raise ApiError(
            "AccessDeniedException",
            f"User: arn:aws:iam::{ctx.account_id}:root is not authorized to perform: "
            f"kms:{action_name} on resource: {key.arn}",
        )
    return key


def metadata(key: Key) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "AWSAccountId": key.account_id,
        "KeyId": key.key_id,
        "Arn": key.arn,
        "CreationDate": key.created,
        "Enabled": key.state == "Enabled",
        "Description": key.description,
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": key.state,
        "Origin": "AWS_KMS",
        "KeyManager": key.manager,
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": False,
    }
    if key.state == "PendingDeletion":
        shown["DeletionDate"] = key.deletion_date
        shown["PendingDeletionWindowInDays"] = key.pending_days
    return shown


@action("kms", "CreateKey")
def create_key(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("KeyUsage", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT":
        raise ApiError("UnsupportedOperationException", "Only ENCRYPT_DECRYPT keys are supported.")
    spec = params.get("KeySpec", params.get("CustomerMasterKeySpec", "SYMMETRIC_DEFAULT"))
    if spec != "SYMMETRIC_DEFAULT":
        raise ApiError(
            "UnsupportedOperationException", "Only SYMMETRIC_DEFAULT keys are supported."
        )
    if "Policy" in params:
        keys.check_policy(params["Policy"])
    region = _region(ctx)
    with region.catalog.begin() as conn:
        key = keys.create(
            conn,
            region,
            ctx.account_id,
            ctx.cloud.clock.now(),
            description=params.get("Description", ""),
            policy=params.get("Policy"),
        )
    return {"KeyMetadata": metadata(key)}


@action("kms", "DescribeKey")
def describe_key(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"KeyMetadata": metadata(_find(ctx, params["KeyId"], "DescribeKey"))}


def _page(items: list[dict[str, Any]], params: dict[str, Any], member: str) -> dict[str, Any]:
    limit = params.get("Limit", 100)
    if not 1 <= limit <= MAX_PAGE:
        raise ApiError("ValidationException", f"Limit must be between 1 and {MAX_PAGE}")
    start = 0
    if params.get("Marker"):
        try:
            start = int(params["Marker"])
        except ValueError as exc:
            raise ApiError("InvalidMarkerException", "The marker is not valid.") from exc
    chosen = items[start : start + limit]
    truncated = start + limit < len(items)
    answer: dict[str, Any] = {member: chosen, "Truncated": truncated}
    if truncated:
        answer["NextMarker"] = str(start + limit)
    return answer


@action("kms", "ListKeys")
def list_keys(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    listed = [
        {"KeyId": key_id, "KeyArn": keys.key_arn(ctx.region, ctx.account_id, key_id)}
        for key_id in _live_key_ids(ctx)
    ]
    return _page(listed, params, "Keys")


def _live_key_ids(ctx: Context) -> list[str]:
    region = _region(ctx)
    now = ctx.cloud.clock.now()
    with region.catalog.begin() as conn:
        keys.aws_managed_key(conn, region, ctx.account_id, now)
        rows = conn.execute(
            select(kms_keys)
            .where(kms_keys.c.account_id == ctx.account_id)
            .order_by(kms_keys.c.created, kms_keys.c.key_id)
        ).all()
    live = [keys.row_key(region, row) for row in rows]
    return [k.key_id for k in live if not keys.gone(k, now)]


def _check_alias(name: str) -> None:
    if not name.startswith("alias/") or len(name) <= len("alias/"):
        raise ApiError("ValidationException", f'Alias must start with the prefix "alias/": {name}')
    if name.startswith("alias/aws/"):
        raise ApiError(
            "InvalidAliasNameException",
            "Aliases starting with alias/aws/ are reserved for AWS managed keys.",
        )


@action("kms", "CreateAlias")
def create_alias(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name = params["AliasName"]
    _check_alias(name)
    key = _find(ctx, params["TargetKeyId"], "CreateAlias", owner_only=True)
    region = _region(ctx)
    with region.catalog.begin() as conn:
        taken = conn.execute(
            select(kms_aliases.c.key_id).where(
                kms_aliases.c.account_id == ctx.account_id, kms_aliases.c.alias_name == name
            )
        ).first()
        if taken is not None:
            raise ApiError(
                "AlreadyExistsException",
                f"An alias with the name {keys.alias_arn(ctx.region, ctx.account_id, name)} "
                "already exists",
            )
        conn.execute(
            kms_aliases.insert().values(
                account_id=ctx.account_id,
                alias_name=name,
                key_id=key.key_id,
                created=ctx.cloud.clock.now(),
            )
        )
    return {}


@action("kms", "DeleteAlias")
def delete_alias(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name = params["AliasName"]
    _check_alias(name)
    region = _region(ctx)
    with region.catalog.begin() as conn:
        deleted = conn.execute(
            kms_aliases.delete().where(
                kms_aliases.c.account_id == ctx.account_id, kms_aliases.c.alias_name == name
            )
        ).rowcount
    if not deleted:
        raise ApiError(
            "NotFoundException",
            f"Alias {keys.alias_arn(ctx.region, ctx.account_id, name)} is not found.",
        )
    return {}


@action("kms", "ListAliases")
def list_aliases(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    live = set(_live_key_ids(ctx))
    query = select(kms_aliases).where(kms_aliases.c.account_id == ctx.account_id)
    if params.get("KeyId"):
        key = _find(ctx, params["KeyId"], "ListAliases", owner_only=True)
        query = query.where(kms_aliases.c.key_id == key.key_id)
    with _region(ctx).catalog.connect() as conn:
        rows = conn.execute(query.order_by(kms_aliases.c.alias_name)).all()
    listed = [
        {
            "AliasName": row.alias_name,
            "AliasArn": keys.alias_arn(ctx.region, ctx.account_id, row.alias_name),
            "TargetKeyId": row.key_id,
            "CreationDate": row.created,
            "LastUpdatedDate": row.created,
        }
        for row in rows
        if row.key_id in live
    ]
    return _page(listed, params, "Aliases")


def _update(ctx: Context, key: Key, **values: Any) -> None:
    with _region(ctx).catalog.begin() as conn:
        conn.execute(kms_keys.update().where(kms_keys.c.key_id == key.key_id).values(**values))


def _customer_key(ctx: Context, reference: str, action_name: str) -> Key:
    key = _find(ctx, reference, action_name, owner_only=True)
    if key.manager == "AWS":
        raise ApiError(
            "AccessDeniedException", f"{key.arn} is an AWS managed key and cannot be changed."
        )
    return key


@action("kms", "ScheduleKeyDeletion")
def schedule_key_deletion(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    key = _customer_key(ctx, params["KeyId"], "ScheduleKeyDeletion")
    days = params.get("PendingWindowInDays", 30)
    if not 7 <= days <= 30:
        raise ApiError(
            "ValidationException",
            f"1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to "
            "satisfy constraint: Member must have value between 7 and 30",
        )
    if key.state == "PendingDeletion":
        raise ApiError("KMSInvalidStateException", f"{key.arn} is pending deletion.")
    when = ctx.cloud.clock.now() + timedelta(days=days)
    _update(ctx, key, state="PendingDeletion", deletion_date=when, pending_days=days)
    return {
        "KeyId": key.arn,
        "DeletionDate": when,
        "KeyState": "PendingDeletion",
        "PendingWindowInDays": days,
    }


@action("kms", "CancelKeyDeletion")
def cancel_key_deletion(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    key = _customer_key(ctx, params["KeyId"], "CancelKeyDeletion")
    if key.state != "PendingDeletion":
        raise ApiError("KMSInvalidStateException", f"{key.arn} is not pending deletion.")
    _update(ctx, key, state="Disabled", deletion_date=None, pending_days=None)  # as on AWS
    return {"KeyId": key.arn}


def _toggle(ctx: Context, params: dict[str, Any], action_name: str, state: str) -> dict[str, Any]:
    key = _customer_key(ctx, params["KeyId"], action_name)
    if key.state == "PendingDeletion":
        raise ApiError("KMSInvalidStateException", f"{key.arn} is pending deletion.")
    _update(ctx, key, state=state)
    return {}


@action("kms", "EnableKey")
def enable_key(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return _toggle(ctx, params, "EnableKey", "Enabled")


@action("kms", "DisableKey")
def disable_key(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return _toggle(ctx, params, "DisableKey", "Disabled")


@action("kms", "GetKeyPolicy")
def get_key_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    key = _find(ctx, params["KeyId"], "GetKeyPolicy", owner_only=True)
    return {"Policy": key.policy, "PolicyName": "default"}


@action("kms", "PutKeyPolicy")
def put_key_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("PolicyName", "default") != "default":
        raise ApiError("ValidationException", "The only policy name is default.")
    key = _customer_key(ctx, params["KeyId"], "PutKeyPolicy")
    keys.check_policy(params["Policy"])
    _update(ctx, key, policy=params["Policy"])
    return {}


@action("kms", "Encrypt")
def encrypt(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    key = _find(ctx, params["KeyId"], "Encrypt")
    blob = keys.encrypt(_region(ctx), key, params["Plaintext"], params.get("EncryptionContext", {}))
    return {"CiphertextBlob": blob, "KeyId": key.arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}


@action("kms", "Decrypt")
def decrypt(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    blob = params.get("CiphertextBlob")
    if not blob:
        raise ApiError("ValidationException", "CiphertextBlob is required.")
    account, key_id = keys.ciphertext_key(blob)
    key = _find(ctx, keys.key_arn(ctx.region, account, key_id), "Decrypt")
    if params.get("KeyId"):
        named = _find(ctx, params["KeyId"], "Decrypt")
        if named.key_id != key.key_id:
            raise ApiError("IncorrectKeyException", "The ciphertext was made with another key.")
    plaintext = keys.decrypt(_region(ctx), key, blob, params.get("EncryptionContext", {}))
    return {"KeyId": key.arn, "Plaintext": plaintext, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}


@action("kms", "GenerateDataKey")
def generate_data_key(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    size = {"AES_256": 32, "AES_128": 16}.get(params.get("KeySpec", ""), 0)
    size = params.get("NumberOfBytes", size)
    if ("KeySpec" in params) == ("NumberOfBytes" in params) or not 1 <= size <= 1024:
        raise ApiError("ValidationException", "Give KeySpec or NumberOfBytes (1 to 1024).")
    key = _find(ctx, params["KeyId"], "GenerateDataKey")
    plaintext = secrets.token_bytes(size)
    blob = keys.encrypt(_region(ctx), key, plaintext, params.get("EncryptionContext", {}))
    return {"CiphertextBlob": blob, "Plaintext": plaintext, "KeyId": key.arn}
