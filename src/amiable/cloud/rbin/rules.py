"""Recycle Bin retention rules (the `rbin` REST-JSON API): CreateRule, GetRule,
ListRules, UpdateRule, DeleteRule, LockRule, UnlockRule and rule tags.

A rule is per account and region, for one resource type. A *tag-level* rule
(with `ResourceTags`) keeps resources that carry any of its tags; a
*region-level* rule (none) keeps every resource of its type except those
carrying one of its `ExcludeResourceTags`. A locked rule cannot be deleted or
changed; `UnlockRule` starts its unlock delay, after which it is unlocked
(derived from the clock).
"""

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from amiable.catalog.regional import rbin_rules, tags
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Region
from amiable.cloud.core.pages import page
from amiable.cloud.core.tags import put_tags, tags_of

MAX_RETENTION_DAYS = 365
UNLOCK_DELAY_DAYS = (7, 30)
RULE_TAG_TYPE = "recycle-bin-rule"


def rule_arn(region: str, account_id: str, identifier: str) -> str:
    return f"arn:aws:rbin:{region}:{account_id}:rule/{identifier}"


def lock_state(rule: Any, now: datetime) -> str:
    if rule.unlock_delay_days is None:
        return "unlocked"
    if rule.unlock_at is None:
        return "locked"
    return "pending_unlock" if now < rule.unlock_at else "unlocked"


def _validation(message: str) -> ApiError:
    return ApiError("ValidationException", message)


def _retention(params: dict[str, Any]) -> int:
    period = params["RetentionPeriod"]
    days = int(period["RetentionPeriodValue"])
    if period["RetentionPeriodUnit"] != "DAYS" or not 1 <= days <= MAX_RETENTION_DAYS:
        raise _validation(f"RetentionPeriodValue must be 1 to {MAX_RETENTION_DAYS} DAYS.")
    return days


def _unlock_delay(config: dict[str, Any]) -> int:
    delay = config["UnlockDelay"]
    days = int(delay["UnlockDelayValue"])
    low, high = UNLOCK_DELAY_DAYS
    if delay["UnlockDelayUnit"] != "DAYS" or not low <= days <= high:
        raise _validation(f"UnlockDelayValue must be {low} to {high} DAYS.")
    return days


def _check_tags(resource_tags: list[dict[str, str]], exclude: list[dict[str, str]]) -> None:
    if resource_tags and exclude:
        raise _validation("ExcludeResourceTags applies to region-level rules only.")
    if len(resource_tags) > 50 or len(exclude) > 5:
        raise _validation("At most 50 ResourceTags and 5 ExcludeResourceTags.")


def _shown(region: str, rule: Any, now: datetime, *, summary: bool = False) -> dict[str, Any]:
    state = lock_state(rule, now)
    shown: dict[str, Any] = {
        "Identifier": rule.identifier,
        "Description": rule.description,
        "RetentionPeriod": {
            "RetentionPeriodValue": rule.retention_days,
            "RetentionPeriodUnit": "DAYS",
        },
        "LockState": state,
        "RuleArn": rule_arn(region, rule.account_id, rule.identifier),
    }
    if summary:
        return shown
    shown.update(
        {
            "ResourceType": rule.resource_type,
            "ResourceTags": json.loads(rule.resource_tags),
            "ExcludeResourceTags": json.loads(rule.exclude_tags),
            "Status": "available",
        }
    )
    if rule.unlock_delay_days is not None and state != "unlocked":
        shown["LockConfiguration"] = {
            "UnlockDelay": {"UnlockDelayValue": rule.unlock_delay_days, "UnlockDelayUnit": "DAYS"}
        }
    if rule.unlock_at is not None and state == "pending_unlock":
        shown["LockEndTime"] = rule.unlock_at
    return shown


def _rule(conn: Connection, account_id: str, identifier: str) -> Any:
    row = conn.execute(
        select(rbin_rules).where(
            rbin_rules.c.identifier == identifier, rbin_rules.c.account_id == account_id
        )
    ).first()
    if row is None:
        raise ApiError("ResourceNotFoundException", f"Rule {identifier} was not found.")
    return row


def _region(ctx: Context) -> Region:
    region: Region = ctx.cloud.region(ctx.region)
    return region


@action("rbin", "CreateRule")
def create_rule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    days = _retention(params)
    resource_tags, exclude = params.get("ResourceTags", []), params.get("ExcludeResourceTags", [])
    _check_tags(resource_tags, exclude)
    delay = _unlock_delay(params["LockConfiguration"]) if "LockConfiguration" in params else None
    if delay is not None and resource_tags:
        raise _validation("Only region-level rules can be locked.")
    identifier = uuid.uuid4().hex[:11]
    now = ctx.cloud.clock.now()
    region = _region(ctx)
    with region.catalog.begin() as conn:
        conn.execute(
            rbin_rules.insert().values(
                identifier=identifier,
                account_id=ctx.account_id,
                resource_type=params["ResourceType"],
                description=params.get("Description", ""),
                retention_days=days,
                resource_tags=json.dumps(resource_tags),
                exclude_tags=json.dumps(exclude),
                unlock_delay_days=delay,
                created=now,
            )
        )
        labels = {t["Key"]: t["Value"] for t in params.get("Tags", [])}
        put_tags(conn, identifier, RULE_TAG_TYPE, ctx.account_id, labels)
        rule = _rule(conn, ctx.account_id, identifier)
    return {**_shown(region.name, rule, now), "Tags": params.get("Tags", [])}


@action("rbin", "GetRule")
def get_rule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region = _region(ctx)
    with region.catalog.connect() as conn:
        rule = _rule(conn, ctx.account_id, params["Identifier"])
    return _shown(region.name, rule, ctx.cloud.clock.now())


def _matches_filter(wanted: list[dict[str, str]], have: list[dict[str, str]]) -> bool:
    return all(tag in have for tag in wanted)


@action("rbin", "ListRules")
def list_rules(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region = _region(ctx)
    with region.catalog.connect() as conn:
        rows = conn.execute(
            select(rbin_rules)
            .where(
                rbin_rules.c.account_id == ctx.account_id,
                rbin_rules.c.resource_type == params["ResourceType"],
            )
            .order_by(rbin_rules.c.identifier)
        ).all()
    now = ctx.cloud.clock.now()
    chosen = [
        _shown(region.name, row, now, summary=True)
        for row in rows
        if _matches_filter(params.get("ResourceTags", []), json.loads(row.resource_tags))
        and _matches_filter(params.get("ExcludeResourceTags", []), json.loads(row.exclude_tags))
        and params.get("LockState") in (None, lock_state(row, now))
    ]
    results, token = page(chosen, "Identifier", params, (1, 1000))
    return {"Rules": results, "NextToken": token}


def _unlocked(rule: Any, now: datetime, doing: str) -> None:
    if lock_state(rule, now) != "unlocked":
        raise ApiError(
            "ConflictException", f"The rule {rule.identifier} is locked; cannot {doing}."
        )


def _change(
    ctx: Context, identifier: str, values_for: Callable[[Any, datetime], dict[str, Any]]
) -> dict[str, Any]:
    """Read a rule, write the values `values_for` decides (or raises), show it."""
    region = _region(ctx)
    now = ctx.cloud.clock.now()
    with region.catalog.begin() as conn:
        rule = _rule(conn, ctx.account_id, identifier)
        conn.execute(
            rbin_rules.update()
            .where(rbin_rules.c.identifier == identifier)
            .values(**values_for(rule, now))
        )
        rule = _rule(conn, ctx.account_id, identifier)
    return _shown(region.name, rule, now)


@action("rbin", "UpdateRule")
def update_rule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    def values(rule: Any, now: datetime) -> dict[str, Any]:
        _unlocked(rule, now, "update it")
        if "ResourceType" in params and params["ResourceType"] != rule.resource_type:
            raise _validation("The resource type of a rule cannot change.")
        resource_tags = params.get("ResourceTags", json.loads(rule.resource_tags))
        exclude = params.get("ExcludeResourceTags", json.loads(rule.exclude_tags))
        _check_tags(resource_tags, exclude)
        return {
            "retention_days": _retention(params)
            if "RetentionPeriod" in params
            else rule.retention_days,
            "description": params.get("Description", rule.description),
            "resource_tags": json.dumps(resource_tags),
            "exclude_tags": json.dumps(exclude),
        }

    return _change(ctx, params["Identifier"], values)


@action("rbin", "DeleteRule")
def delete_rule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region = _region(ctx)
    with region.catalog.begin() as conn:
        rule = _rule(conn, ctx.account_id, params["Identifier"])
        _unlocked(rule, ctx.cloud.clock.now(), "delete it")
        conn.execute(rbin_rules.delete().where(rbin_rules.c.identifier == rule.identifier))
        conn.execute(tags.delete().where(tags.c.resource_id == rule.identifier))
    return {}


@action("rbin", "LockRule")
def lock_rule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    delay = _unlock_delay(params["LockConfiguration"])

    def values(rule: Any, now: datetime) -> dict[str, Any]:
        if json.loads(rule.resource_tags):
            raise _validation("Only region-level rules can be locked.")
        if lock_state(rule, now) == "locked":
            raise ApiError("ConflictException", f"The rule {rule.identifier} is already locked.")
        return {"unlock_delay_days": delay, "unlock_at": None}

    return _change(ctx, params["Identifier"], values)


@action("rbin", "UnlockRule")
def unlock_rule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    def values(rule: Any, now: datetime) -> dict[str, Any]:
        if lock_state(rule, now) != "locked":
            raise ApiError("ConflictException", f"The rule {rule.identifier} is not locked.")
        return {"unlock_at": now + timedelta(days=rule.unlock_delay_days)}

    return _change(ctx, params["Identifier"], values)


def _rule_from_arn(conn: Connection, ctx: Context, arn: str) -> Any:
    prefix = rule_arn(ctx.region, ctx.account_id, "")
    if not arn.startswith(prefix):
        raise ApiError("ResourceNotFoundException", f"Rule {arn} was not found.")
    return _rule(conn, ctx.account_id, arn[len(prefix) :])


@action("rbin", "TagResource")
def tag_resource(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    with _region(ctx).catalog.begin() as conn:
        rule = _rule_from_arn(conn, ctx, params["ResourceArn"])
        labels = {t["Key"]: t["Value"] for t in params["Tags"]}
        put_tags(conn, rule.identifier, RULE_TAG_TYPE, ctx.account_id, labels)
    return {}


@action("rbin", "UntagResource")
def untag_resource(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    with _region(ctx).catalog.begin() as conn:
        rule = _rule_from_arn(conn, ctx, params["ResourceArn"])
        conn.execute(
            tags.delete().where(
                tags.c.resource_id == rule.identifier, tags.c.key.in_(params["TagKeys"])
            )
        )
    return {}


@action("rbin", "ListTagsForResource")
def list_tags_for_resource(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    with _region(ctx).catalog.connect() as conn:
        rule = _rule_from_arn(conn, ctx, params["ResourceArn"])
        return {"Tags": tags_of(conn, [rule.identifier])[rule.identifier]}


def retention_days(
    conn: Connection, account_id: str, resource_type: str, labels: dict[str, str]
) -> int | None:
    """How long a deleted resource with these tags stays in the bin: the longest
    retention of the rules that keep it, or None when no rule does."""
    rows = conn.execute(
        select(rbin_rules).where(
            rbin_rules.c.account_id == account_id, rbin_rules.c.resource_type == resource_type
        )
    ).all()
    kept = [row.retention_days for row in rows if _keeps(row, labels)]
    return max(kept) if kept else None


def _keeps(rule: Any, labels: dict[str, str]) -> bool:
    def carries(tag: dict[str, str]) -> bool:
        key, value = tag["ResourceTagKey"], tag.get("ResourceTagValue")
        return key in labels and (value is None or labels[key] == value)

    wanted = json.loads(rule.resource_tags)
    if wanted:
        return any(carries(tag) for tag in wanted)
    return not any(carries(tag) for tag in json.loads(rule.exclude_tags))


def bin_retention(
    conn: Connection, account_id: str, resource_type: str, resource_id: str, now: datetime
) -> dict[str, datetime] | None:
    """The bin columns for a resource being deleted, if a rule keeps it."""
    labels = {t["Key"]: t["Value"] for t in tags_of(conn, [resource_id])[resource_id]}
    days = retention_days(conn, account_id, resource_type, labels)
    if days is None:
        return None
    return {"bin_entered": now, "bin_exit": now + timedelta(days=days)}
