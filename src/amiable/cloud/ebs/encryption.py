"""EBS encryption: which KMS key protects new snapshots and volumes, and how
their data gets there.

Encrypted data is a store snapshot encrypted with a 256-bit *data key*; each
catalog row that uses it (snapshot, volume) keeps the KMS key's ARN and the
data key wrapped by that KMS key. Changing the key of encrypted data (another
key, another region, another account) only re-wraps the data key — the
encrypted objects are shared or copied as they are. Encrypting unencrypted
data writes a new store snapshot (restore, then snapshot with a new data key).
Encrypted never becomes unencrypted.

Per account and region: `EnableEbsEncryptionByDefault` makes every new volume
and snapshot copy encrypted, with the default key (`ModifyEbsDefaultKmsKeyId`,
else `alias/aws/ebs`).
"""

import secrets
import tempfile
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from amiable.cloud.core import account_settings as settings
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Region
from amiable.cloud.kms import keys as kms_keys

DEFAULT_ON = "ebs-encryption-by-default"
DEFAULT_KEY = "ebs-default-kms-key-id"
_CONTEXT = {"aws:ebs": "data-key"}


@dataclass(frozen=True)
class Protection:
    kms_key_id: str  # the KMS key's ARN
    data_key: bytes  # the data key, wrapped by that KMS key


@dataclass(frozen=True)
class Plan:
    """How new data gets its protection: `protection` for the new row;
    `data_key` (plaintext) when the data must be encrypted into a new store
    snapshot, None when it is shared or copied as it is."""

    protection: Protection | None
    data_key: bytes | None = None


def protection_of(row: Any) -> Protection | None:
    return Protection(row.kms_key_id, row.data_key) if row.kms_key_id else None


def default_key_reference(conn: Connection, account_id: str) -> str:
    return settings.read(conn, account_id, DEFAULT_KEY, kms_keys.EBS_ALIAS)


def plan(
    ctx: Context,
    destination: Region,
    source_region: Region,
    source: Protection | None,
    params: dict[str, Any],
    *,
    keep_source_key: bool = False,
) -> Plan:
    """The protection of data made from `source` (snapshot or volume) in
    `destination` by a request with `Encrypted` / `KmsKeyId` in `params`, as EC2
    decides it: KmsKeyId needs Encrypted; encrypted stays encrypted;
    unencrypted becomes encrypted when asked or by default."""
    encrypted, kms_key_id = params.get("Encrypted"), params.get("KmsKeyId")
    if kms_key_id and not encrypted:
        raise ApiError(
            "InvalidParameterDependency", "The parameter KmsKeyId requires the parameter Encrypted."
        )
    now = ctx.cloud.clock.now()
    with destination.catalog.begin() as conn:
        by_default = settings.read(conn, ctx.account_id, DEFAULT_ON, "false") == "true"
        if source is None and not encrypted and not by_default:
            return Plan(None)
        if kms_key_id is None and keep_source_key and source and source_region is destination:
            kms_key_id = source.kms_key_id
        key = _key(conn, destination, ctx.account_id, kms_key_id, now)
        if source is None:
            data_key = secrets.token_bytes(32)
            return Plan(_wrap(destination, key, data_key), data_key)
    data_key = unwrap(ctx, source_region, source)
    return Plan(_wrap(destination, key, data_key))


def _key(
    conn: Connection, region: Region, account_id: str, reference: str | None, now: datetime
) -> kms_keys.Key:
    reference = reference or default_key_reference(conn, account_id)
    try:
        key = kms_keys.find(conn, region, account_id, reference, "kms:GenerateDataKey", now)
    except ApiError as exc:
        raise ApiError(
            "InvalidParameterValue", f"The KMS key {reference} cannot be used: {exc.message}"
        ) from exc
    if key.state != "Enabled":
        raise ApiError("IncorrectState", f"The KMS key {key.arn} is {key.state}.")
    return key


def _wrap(region: Region, key: kms_keys.Key, data_key: bytes) -> Protection:
    return Protection(key.arn, kms_keys.encrypt(region, key, data_key, _CONTEXT))


def unwrap(ctx: Context, region: Region, protection: Protection) -> bytes:
    """The plaintext data key, if the caller may decrypt with the KMS key and the
    key is usable; IncorrectState with the reason otherwise."""
    now = ctx.cloud.clock.now()
    with region.catalog.begin() as conn:
        try:
            key = kms_keys.find(
                conn, region, ctx.account_id, protection.kms_key_id, "kms:Decrypt", now
            )
            return kms_keys.decrypt(region, key, protection.data_key, _CONTEXT)
        except ApiError as exc:
            raise ApiError(
                "IncorrectState", f"The data cannot be read: {unreadable_reason(exc)}"
            ) from exc


def unreadable_reason(error: ApiError) -> str:
    return f"the KMS key cannot be used ({error.code}: {error.message})"


def key_problem(region: Region, protection: Protection | None, now: datetime) -> str | None:
    """Why data under `protection` cannot be read now (shown as a state message), or None."""
    if protection is None:
        return None
    account = protection.kms_key_id.split(":")[4]
    with region.catalog.connect() as conn:
        try:
            key = kms_keys.find(conn, region, account, protection.kms_key_id, "kms:Decrypt", now)
        except ApiError:
            return f"The KMS key {protection.kms_key_id} was deleted; the data cannot be read."
    if key.state != "Enabled":
        return f"The KMS key {key.arn} is {key.state}; the data cannot be read."
    return None


def encrypt_into(source: Region, store_snapshot: str, destination: Region, data_key: bytes) -> str:
    """A new store snapshot in `destination`: the unencrypted `store_snapshot`
    of `source`, encrypted with `data_key`."""
    (destination.root / "tmp").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.root / "tmp") as scratch:
        tree = f"{scratch}/tree"
        source.store.restore(store_snapshot, tree)
        return destination.store.snapshot(tree, key=data_key).id


# -- encryption by default --


@action("ec2", "EnableEbsEncryptionByDefault")
def enable_ebs_encryption_by_default(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    settings.write_for_caller(ctx, DEFAULT_ON, "true")
    return {"EbsEncryptionByDefault": True}


@action("ec2", "DisableEbsEncryptionByDefault")
def disable_ebs_encryption_by_default(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    settings.write_for_caller(ctx, DEFAULT_ON, "false")
    return {"EbsEncryptionByDefault": False}


@action("ec2", "GetEbsEncryptionByDefault")
def get_ebs_encryption_by_default(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.connect() as conn:
        on = settings.read(conn, ctx.account_id, DEFAULT_ON, "false") == "true"
    return {"EbsEncryptionByDefault": on, "SseType": "sse-ebs" if on else "none"}


def _default_key_arn(ctx: Context) -> str:
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.begin() as conn:
        reference = default_key_reference(conn, ctx.account_id)
        if reference == kms_keys.EBS_ALIAS:
            return kms_keys.alias_arn(region.name, ctx.account_id, reference)
        return reference


@action("ec2", "GetEbsDefaultKmsKeyId")
def get_ebs_default_kms_key_id(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"KmsKeyId": _default_key_arn(ctx)}


@action("ec2", "ModifyEbsDefaultKmsKeyId")
def modify_ebs_default_kms_key_id(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.begin() as conn:
        key = _key(conn, region, ctx.account_id, params["KmsKeyId"], ctx.cloud.clock.now())
        settings.write(conn, ctx.account_id, DEFAULT_KEY, key.arn)
    return {"KmsKeyId": key.arn}


@action("ec2", "ResetEbsDefaultKmsKeyId")
def reset_ebs_default_kms_key_id(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    settings.write_for_caller(ctx, DEFAULT_KEY, kms_keys.EBS_ALIAS)
    return {"KmsKeyId": _default_key_arn(ctx)}
