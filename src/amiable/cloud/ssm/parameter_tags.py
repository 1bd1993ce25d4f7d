"""Tags on parameters: AddTagsToResource, ListTagsForResource and
RemoveTagsFromResource with `ResourceType=Parameter` and the parameter's name
as `ResourceId`, and PutParameter's `Tags`. At most 50 a parameter; keys
starting with `aws:` are reserved. They live apart from EC2's tags, so EC2's
DescribeTags never lists them."""

from typing import Any

from sqlalchemy import Connection, delete, select

from amiable.catalog.regional import ssm_parameter_tags
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Region

from . import records

MAX_TAGS = 50
_tags = ssm_parameter_tags


def tags_of(conn: Connection, account_id: str) -> dict[str, dict[str, str]]:
    """Parameter name -> its tags, for the account's parameters that have any."""
    found: dict[str, dict[str, str]] = {}
    for row in conn.execute(select(_tags).where(_tags.c.account_id == account_id)):
        found.setdefault(row.name, {})[row.key] = row.value
    return found


def _mine(account_id: str, name: str) -> Any:
    return (_tags.c.account_id == account_id) & (_tags.c.name == name)


def put_tags(conn: Connection, account_id: str, name: str, tags: list[dict[str, str]]) -> None:
    new = {t["Key"]: t["Value"] for t in tags}
    if any(key.lower().startswith("aws:") for key in new):
        raise ApiError("ValidationException", "Tag keys starting with aws: are reserved.")
    have = set(conn.execute(select(_tags.c.key).where(_mine(account_id, name))).scalars())
    if len(have | set(new)) > MAX_TAGS:
        raise ApiError("TooManyTagsError", f"A parameter can have at most {MAX_TAGS} tags.")
    conn.execute(delete(_tags).where(_mine(account_id, name), _tags.c.key.in_(list(new))))
    for key, value in new.items():
        conn.execute(_tags.insert().values(account_id=account_id, name=name, key=key, value=value))


def _parameter(conn: Connection, account_id: str, params: dict[str, Any]) -> str:
    if params["ResourceType"] != "Parameter":
        raise ApiError(
            "InvalidResourceType", "The resource type isn't valid: amiable tags parameters only."
        )
    name = str(params["ResourceId"]).strip()
    if records.latest(conn, account_id, name) is None:
        raise ApiError(
            "InvalidResourceId",
            "The resource ID isn't valid. Verify that you entered the correct ID and try again.",
        )
    return name


def _catalog(ctx: Context) -> Any:
    region: Region = ctx.cloud.region(ctx.region)
    return region.catalog


@action("ssm", "AddTagsToResource")
def add_tags_to_resource(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    with _catalog(ctx).begin() as conn:
        put_tags(conn, ctx.account_id, _parameter(conn, ctx.account_id, params), params["Tags"])
    return {}


@action("ssm", "ListTagsForResource")
def list_tags_for_resource(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    with _catalog(ctx).connect() as conn:
        name = _parameter(conn, ctx.account_id, params)
        rows = conn.execute(select(_tags).where(_mine(ctx.account_id, name)).order_by(_tags.c.key))
        return {"TagList": [{"Key": r.key, "Value": r.value} for r in rows]}


@action("ssm", "RemoveTagsFromResource")
def remove_tags_from_resource(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    with _catalog(ctx).begin() as conn:
        name = _parameter(conn, ctx.account_id, params)
        doomed = _tags.c.key.in_(params["TagKeys"])
        conn.execute(delete(_tags).where(_mine(ctx.account_id, name), doomed))
    return {}
