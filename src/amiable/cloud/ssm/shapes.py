"""A parameter version as Parameter Store shows it: `Parameter` (with its
value; a SecureString's decrypted only when asked), `ParameterMetadata`
(never the value) and `ParameterHistory`."""

from typing import Any

from sqlalchemy import Connection

from amiable.cloud.core.actions import Context
from amiable.cloud.core.home import Region

from . import secure
from .naming import parameter_arn


def modified_by(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


def _common(row: Any) -> dict[str, Any]:
    return {
        "Name": row.name,
        "Type": row.type,
        "Version": row.version,
        "LastModifiedDate": row.modified,
        "DataType": row.data_type,
    }


def value_of(ctx: Context, conn: Connection, region: Region, row: Any, decrypt: bool) -> str:
    if row.type != "SecureString" or not decrypt:
        return str(row.value)
    arn = parameter_arn(region.name, row.account_id, row.name)
    return secure.decrypt(ctx, conn, region, arn, row.value)


def parameter(
    ctx: Context,
    conn: Connection,
    region: Region,
    row: Any,
    decrypt: bool,
    selector: str | None = None,
) -> dict[str, Any]:
    shown = {
        **_common(row),
        "Value": value_of(ctx, conn, region, row, decrypt),
        "ARN": parameter_arn(region.name, row.account_id, row.name),
    }
    if selector is not None:
        shown["Selector"] = f":{selector}"
    return shown


def _settings(row: Any) -> dict[str, Any]:
    shown: dict[str, Any] = {
        **_common(row),
        "LastModifiedUser": row.modified_user,
        "Tier": row.tier,
        "Policies": [],
    }
    optional = (
        ("KeyId", row.key_id),
        ("Description", row.description),
        ("AllowedPattern", row.allowed_pattern),
    )
    shown.update({k: v for k, v in optional if v is not None})
    return shown


def metadata(region: Region, row: Any) -> dict[str, Any]:
    return {**_settings(row), "ARN": parameter_arn(region.name, row.account_id, row.name)}


def history(
    ctx: Context, conn: Connection, region: Region, row: Any, decrypt: bool, labels: list[str]
) -> dict[str, Any]:
    return {
        **_settings(row),
        "Value": value_of(ctx, conn, region, row, decrypt),
        "Labels": labels,
    }
