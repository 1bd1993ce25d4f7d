"""Tags: `TagSpecifications` on create actions, tags in outputs, `tag:` filters."""

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, bindparam, select

from amiable.catalog.regional import tags

from .errors import ApiError
from .filters import Extractor

MAX_TAGS = 50
_KEYS_OF = select(tags.c.key).where(tags.c.resource_id == bindparam("resource_id"))
_INSERT_TAG = tags.insert()
_UPDATE_TAG = (
    tags.update()
    .where(tags.c.resource_id == bindparam("id"), tags.c.key == bindparam("tag_key"))
    .values(value=bindparam("tag_value"))
)


def apply_specifications(
    conn: Connection,
    specs: list[dict[str, Any]] | None,
    resource_type: str,
    resource_id: str,
    owner_id: str,
) -> list[dict[str, str]]:
    """Store the tags meant for `resource_type`; returns them as EC2 lists them."""
    applied: dict[str, str] = {}
    for spec in specs or []:
        if spec.get("ResourceType") != resource_type:
            raise ApiError(
                "InvalidParameterValue",
                f"'{spec.get('ResourceType')}' is not a valid taggable resource type "
                f"for this operation.",
            )
        for tag in spec.get("Tags", []):
            applied[tag["Key"]] = tag.get("Value", "")
    put_tags(conn, resource_id, resource_type, owner_id, applied)
    return [{"Key": k, "Value": v} for k, v in applied.items()]


def check_tag(key: str, value: str) -> None:
    if not 1 <= len(key) <= 128:
        raise ApiError("InvalidParameterValue", f"Tag key '{key}' must be 1 to 128 characters")
    if key.lower().startswith("aws:"):
        raise ApiError(
            "InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use"
        )
    if len(value) > 256:
        raise ApiError("InvalidParameterValue", f"Tag value for '{key}' is over 256 characters")


def put_tags(
    conn: Connection, resource_id: str, resource_type: str, owner_id: str, new: dict[str, str]
) -> None:
    """Add or overwrite tags, keeping EC2's limit of 50 per resource."""
    for key, value in new.items():
        check_tag(key, value)
    existing = set(conn.execute(_KEYS_OF, {"resource_id": resource_id}).scalars())
    if len(existing | set(new)) > MAX_TAGS:
        raise ApiError(
            "TagLimitExceeded", f"The maximum number of tags ({MAX_TAGS}) has been exceeded"
        )
    for key, value in new.items():
        if key in existing:
            conn.execute(_UPDATE_TAG, {"id": resource_id, "tag_key": key, "tag_value": value})
        else:
            row = {"resource_id": resource_id, "key": key, "value": value}
            conn.execute(_INSERT_TAG, {**row, "resource_type": resource_type, "owner_id": owner_id})


def tags_of(conn: Connection, resource_ids: Iterable[str]) -> dict[str, list[dict[str, str]]]:
    ids = list(resource_ids)
    found: dict[str, list[dict[str, str]]] = {i: [] for i in ids}
    if ids:
        rows = conn.execute(
            select(tags.c.resource_id, tags.c.key, tags.c.value)
            .where(tags.c.resource_id.in_(ids))
            .order_by(tags.c.resource_id, tags.c.key)
        )
        for resource_id, key, value in rows:
            found[resource_id].append({"Key": key, "Value": value})
    return found


def delete_tags_of(conn: Connection, resource_id: str) -> None:
    conn.execute(tags.delete().where(tags.c.resource_id == resource_id))


def tag_extractors(names: Iterable[str]) -> dict[str, Extractor]:
    """`tag-key` and `tag:<key>` for the filter names a request uses."""

    def by_key(key: str) -> Extractor:
        return lambda item: [t["Value"] for t in item.get("Tags", []) if t["Key"] == key]

    extractors: dict[str, Extractor] = {
        "tag-key": lambda item: [t["Key"] for t in item.get("Tags", [])]
    }
    for name in names:
        if name.startswith("tag:"):
            extractors[name] = by_key(name[4:])
    return extractors


def filter_names(filters: list[Mapping[str, Any]] | None) -> list[str]:
    return [f.get("Name", "") for f in filters or []]
