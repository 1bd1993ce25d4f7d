"""SSM Parameter Store on the same endpoint (JSON protocol): PutParameter,
GetParameter, GetParameters, GetParameterHistory, DeleteParameter,
DeleteParameters. Listing is in `search`, labels in `labels`, tags in
`parameter_tags`.

Parameters belong to an account and a region. Every PutParameter makes a new
version (1, 2, ...); an existing name needs `Overwrite`, which keeps what the
request leaves out (type, key, data type, description, allowed pattern,
tier) and refuses a change of type and new tags. A value is at most 4096
characters on the Standard tier, 8192 on the Advanced; an Advanced parameter
stays Advanced. `SecureString` values are encrypted with KMS (`secure`),
under `alias/aws/ssm` unless `KeyId` names another key; `aws:ec2:image`
values must be launchable images (`image_aliases`). Values are never logged.
"""

import re
from typing import Any

from sqlalchemy import Connection

from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Region

from . import image_aliases, naming, records, secure, shapes
from .naming import validation
from .parameter_tags import put_tags

TYPES = ("String", "StringList", "SecureString")
TIERS = ("Standard", "Advanced", "Intelligent-Tiering")
DATA_TYPES = ("text", image_aliases.IMAGE)
LIMITS = {"Standard": 4096, "Advanced": 8192}
HISTORY_PAGE = 50
_KEPT = ("type", "key_id", "data_type", "description", "allowed_pattern")


def region_of(ctx: Context) -> Region:
    region: Region = ctx.cloud.region(ctx.region)
    return region


def _enum(value: str | None, allowed: tuple[str, ...], member: str) -> None:
    if value is not None and value not in allowed:
        raise validation(
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(allowed)}]"
        )


def _tier(asked: str | None, value: str, previous: Any | None) -> str:
    was = previous.tier if previous is not None else None
    if asked == "Intelligent-Tiering":
        big = len(value) > LIMITS["Standard"]
        tier = "Advanced" if big or was == "Advanced" else "Standard"
    else:
        tier = asked or was or "Standard"
    if was == "Advanced" and tier == "Standard":
        raise validation(
            "This parameter uses the advanced-parameter tier. You can't downgrade a parameter "
            "from the advanced-parameter tier to the standard-parameter tier. If necessary, you "
            "can delete the advanced parameter and recreate it as a standard parameter."
        )
    if len(value) > LIMITS[tier]:
        raise validation(
            f"{tier} tier parameters support a maximum parameter value of {LIMITS[tier]} "
            "characters."
            + (
                " To create a larger parameter value, upgrade the parameter to use the "
                "advanced-parameter tier."
                if tier == "Standard"
                else ""
            )
        )
    return tier


def _settings(params: dict[str, Any], previous: Any | None) -> dict[str, Any]:
    """Type, key, data type, description and pattern: as asked, else as they were."""
    asked = {
        "type": params.get("Type"),
        "key_id": params.get("KeyId"),
        "data_type": params.get("DataType"),
        "description": params.get("Description"),
        "allowed_pattern": params.get("AllowedPattern"),
    }
    kept = {k: getattr(previous, k) if previous is not None else None for k in _KEPT}
    chosen = {k: kept[k] if asked[k] is None else asked[k] for k in _KEPT}
    if chosen["type"] is None:
        raise validation("A parameter type is required when you create a parameter.")
    if previous is not None and chosen["type"] != previous.type:
        raise ApiError(
            "HierarchyTypeMismatchException",
            "Parameter Store doesn't support changing a parameter type in a hierarchy. For "
            f"example, you can't change a parameter from a {previous.type} type to a "
            f"{chosen['type']} type. You must create a new, unique parameter.",
        )
    if chosen["type"] != "SecureString" and asked["key_id"] is not None:
        raise validation("KeyId is required for SecureString type parameter only.")
    if chosen["type"] == "SecureString":
        chosen["key_id"] = chosen["key_id"] or secure.SSM_KEY
    chosen["data_type"] = chosen["data_type"] or "text"
    return chosen


def _check_value(ctx: Context, conn: Connection, settings: dict[str, Any], value: str) -> None:
    data_type = settings["data_type"]
    if data_type not in DATA_TYPES:
        raise validation(
            f"The following data type is not supported: {data_type} (Data type names are all "
            f"lowercase.) amiable supports {' and '.join(DATA_TYPES)}."
        )
    if data_type == image_aliases.IMAGE:
        if settings["type"] != "String":
            raise validation(f"The data type {data_type} is for String parameters only.")
        image_aliases.check_image(ctx, conn, value)
    pattern = settings["allowed_pattern"]
    if pattern:
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ApiError(
                "InvalidAllowedPatternException",
                "The request doesn't meet the regular expression requirement.",
            ) from exc
        if compiled.search(value) is None:
            raise ApiError(
                "ParameterPatternMismatchException",
                f"Parameter value, cannot be validated against allowedPattern: {pattern}",
            )


@action("ssm", "PutParameter")
def put_parameter(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name = naming.new_name(params["Name"], ctx.region, ctx.account_id)
    value = params["Value"]
    if not value:
        raise validation(
            "1 validation error detected: Value '' at 'value' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1."
        )
    _enum(params.get("Type"), TYPES, "type")
    _enum(params.get("Tier"), TIERS, "tier")
    if params.get("Overwrite") and params.get("Tags"):
        raise validation(
            "Invalid request: tags and overwrite can't be used together. To create a parameter "
            "with tags, please remove overwrite flag. To update tags for an existing parameter, "
            "please use AddTagsToResource or RemoveTagsFromResource."
        )
    if params.get("Policies"):
        raise validation("Parameter policies are not supported by amiable.")
    region = region_of(ctx)
    with region.catalog.begin() as conn:
        previous = records.latest(conn, ctx.account_id, name)
        if previous is not None and not params.get("Overwrite"):
            raise records.already_exists()
        settings = _settings(params, previous)
        _check_value(ctx, conn, settings, value)
        tier = _tier(params.get("Tier"), value, previous)
        if settings["type"] == "SecureString":
            arn = naming.parameter_arn(ctx.region, ctx.account_id, name)
            value = secure.encrypt(ctx, conn, region, settings["key_id"], arn, value)
        version = previous.version + 1 if previous is not None else 1
        row = {
            **settings,
            "account_id": ctx.account_id,
            "name": name,
            "version": version,
            "value": value,
            "tier": tier,
            "modified": ctx.cloud.clock.now(),
            "modified_user": shapes.modified_by(ctx.account_id),
        }
        records.add_version(conn, row, previous)
        if params.get("Tags"):
            put_tags(conn, ctx.account_id, name, params["Tags"])
    return {"Version": version, "Tier": tier}


def _found(ctx: Context, conn: Connection, asked: str) -> tuple[Any, naming.Reference]:
    ref = naming.reference(asked, ctx.region, ctx.account_id)
    return records.find(conn, ctx.account_id, ref, asked), ref


@action("ssm", "GetParameter")
def get_parameter(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region = region_of(ctx)
    decrypt = bool(params.get("WithDecryption"))
    with region.catalog.begin() as conn:
        row, ref = _found(ctx, conn, params["Name"])
        return {"Parameter": shapes.parameter(ctx, conn, region, row, decrypt, ref.selector)}


@action("ssm", "GetParameters")
def get_parameters(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters found, by the name asked, and the names that were not."""
    region = region_of(ctx)
    decrypt = bool(params.get("WithDecryption"))
    shown: list[dict[str, Any]] = []
    invalid: list[str] = []
    with region.catalog.begin() as conn:
        for asked in sorted(set(params["Names"])):
            try:
                row, ref = _found(ctx, conn, asked)
            except ApiError:
                invalid.append(asked)
                continue
            shown.append(shapes.parameter(ctx, conn, region, row, decrypt, ref.selector))
    return {"Parameters": shown, "InvalidParameters": invalid}


@action("ssm", "GetParameterHistory")
def get_parameter_history(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region = region_of(ctx)
    decrypt = bool(params.get("WithDecryption"))
    asked = params["Name"]
    ref = naming.reference(asked, ctx.region, ctx.account_id)
    if ref.selector is not None:
        raise records.not_found(asked)
    with region.catalog.begin() as conn:
        name = records.find(conn, ctx.account_id, ref, asked).name
        rows = records.versions_of(conn, ctx.account_id, name)
        chosen, token = records.paged(
            rows, lambda r: f"{r.version:09d}", params, HISTORY_PAGE, HISTORY_PAGE
        )
        labels = records.labels_of(conn, ctx.account_id, name)
        shown = [
            shapes.history(ctx, conn, region, r, decrypt, labels.get((name, r.version), []))
            for r in chosen
        ]
    return {"Parameters": shown, "NextToken": token}


@action("ssm", "DeleteParameter")
def delete_parameter(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name = naming.checked(params["Name"])
    with region_of(ctx).catalog.begin() as conn:
        if not records.remove(conn, ctx.account_id, name):
            raise records.not_found(name)
    return {}


@action("ssm", "DeleteParameters")
def delete_parameters(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    deleted: list[str] = []
    invalid: list[str] = []
    with region_of(ctx).catalog.begin() as conn:
        for asked in params["Names"]:
            name = asked.strip()
            gone = naming.well_formed(name) and records.remove(conn, ctx.account_id, name)
            (deleted if gone else invalid).append(asked)
    return {"DeletedParameters": deleted, "InvalidParameters": invalid}
