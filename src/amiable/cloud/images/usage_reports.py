"""AMI usage reports: CreateImageUsageReport, DescribeImageUsageReports,
DescribeImageUsageReportEntries and DeleteImageUsageReport.

An image's owner asks how other accounts use the image in the region: per
account and resource type, how many resources reference it. `ec2:Instance`
counts the instances launched from it that are not terminated;
`ec2:LaunchTemplate` counts the launch templates naming it in one of their
newest `version-depth` versions (20 by default), once per template however
many of those versions name it. amiable has no Image Builder, so the recipe
types are accepted and count nothing. `AccountIds` narrows the accounts
(all of them when omitted); the owner's own resources are never counted,
and an account with no such resource has no entry.

The report is computed when it is created, a point-in-time record kept in
the catalog: it is `available` at once and expires 30 days later, when it
is no longer listed (and is deleted the next time reports are looked at).
Reports are tagged as `image-usage-report` resources.
"""

import json
import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, func, select

from amiable.catalog.regional import (
    image_usage_report_entries,
    image_usage_reports,
    instances,
    launch_templates,
)
from amiable.cloud.core import client_tokens
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.clock import iso
from amiable.cloud.core.errors import ApiError, invalid_value, missing_parameter
from amiable.cloud.core.filters import Extractor, field
from amiable.cloud.core.filters import select as filter_items
from amiable.cloud.core.home import Region
from amiable.cloud.core.ids import new_id, well_formed
from amiable.cloud.core.listing import filtered_page
from amiable.cloud.core.pages import page
from amiable.cloud.core.permissions import caller_of
from amiable.cloud.core.tags import apply_specifications, delete_tags_of, tags_of

from .images import check_image_ids, owned_image
from .lineage import template_references, version_depth

LIFETIME = timedelta(days=30)
DEFAULT_VERSION_DEPTH = 20
MAX_ACCOUNTS = 200
RESOURCE_TYPES = (
    "ec2:Instance",
    "ec2:LaunchTemplate",
    "imagebuilder:ImageRecipe",
    "imagebuilder:ContainerRecipe",
)
PAGE_LIMITS = (1, 2**31 - 1)  # the model sets no maximum
_ACCOUNT = re.compile(r"\d{12}")
_reports = image_usage_reports
_entries = image_usage_report_entries


def _not_found(ids: list[str]) -> ApiError:
    return ApiError(
        "InvalidImageUsageReportId.NotFound",
        f"The image usage report ID '{', '.join(ids)}' does not exist",
    )


def _check_report_ids(ids: list[str]) -> None:
    for report_id in ids:
        if not well_formed("amiur", report_id):
            raise ApiError("InvalidImageUsageReportId.Malformed", f'Invalid id: "{report_id}"')


def _depth(kind: str, options: list[dict[str, Any]]) -> int:
    """A launch template's version depth (20 unless its option says), 0 for the other types."""
    depth = DEFAULT_VERSION_DEPTH if kind == "ec2:LaunchTemplate" else 0
    for option in options:
        if kind != "ec2:LaunchTemplate" or option.get("OptionName") != "version-depth":
            why = "only ec2:LaunchTemplate takes an option: version-depth"
            raise invalid_value("OptionName", option.get("OptionName"), why)
        depth = version_depth(list(option.get("OptionValues") or []))
    return depth


def _resource_types(
    asked: list[dict[str, Any]] | None,
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Resource type -> its version depth, and the types as the report shows them."""
    if not asked:
        raise missing_parameter("ResourceTypes")
    depths: dict[str, int] = {}
    shown: dict[str, dict[str, Any]] = {}
    for item in asked:
        kind = item.get("ResourceType")
        if kind not in RESOURCE_TYPES:
            raise invalid_value("ResourceType", kind, " | ".join(RESOURCE_TYPES))
        options = item.get("ResourceTypeOptions") or []
        depths[kind] = _depth(kind, options)
        shown[kind] = {"ResourceType": kind}
        if options:
            asked_depth = {"OptionName": "version-depth", "OptionValues": [str(depths[kind])]}
            shown[kind]["ResourceTypeOptions"] = [asked_depth]
    return depths, list(shown.values())


def _account_ids(asked: list[str] | None) -> list[str] | None:
    """The accounts to report on, as given (None: every account)."""
    if not asked:
        return None
    if len(asked) > MAX_ACCOUNTS:
        raise invalid_value("AccountIds", f"{len(asked)} accounts", f"at most {MAX_ACCOUNTS}")
    for account_id in asked:
        if not _ACCOUNT.fullmatch(account_id):
            raise invalid_value("AccountId", account_id, "a 12-digit account ID")
    return list(dict.fromkeys(asked))


def _others(column: Any, owner: str, accounts: list[str] | None) -> ColumnElement[bool]:
    """Resources of accounts other than the owner (of `accounts` only, if given)."""
    other: ColumnElement[bool] = column != owner
    return other & column.in_(accounts) if accounts else other


def _instance_counts(
    conn: Connection, owner: str, image_id: str, accounts: list[str] | None
) -> dict[str, int]:
    rows = conn.execute(
        select(instances.c.owner_id, func.count())
        .where(
            instances.c.image_id == image_id,
            instances.c.state != "terminated",
            _others(instances.c.owner_id, owner, accounts),
        )
        .group_by(instances.c.owner_id)
    )
    return {account_id: count for account_id, count in rows}


def _template_counts(
    conn: Connection, owner: str, image_id: str, accounts: list[str] | None, depth: int
) -> dict[str, int]:
    others = _others(launch_templates.c.owner_id, owner, accounts)
    found = template_references(conn, [image_id], depth, others)
    return dict(Counter(account_id for account_id, _, _ in found))


def _usage(
    conn: Connection, owner: str, image_id: str, depths: dict[str, int], accounts: list[str] | None
) -> list[dict[str, Any]]:
    """The report's entry rows: one per account and resource type that counts one or more."""
    counted: dict[str, dict[str, int]] = {}
    if "ec2:Instance" in depths:
        counted["ec2:Instance"] = _instance_counts(conn, owner, image_id, accounts)
    if "ec2:LaunchTemplate" in depths:
        depth = depths["ec2:LaunchTemplate"]
        counted["ec2:LaunchTemplate"] = _template_counts(conn, owner, image_id, accounts, depth)
    return [
        {"account_id": account_id, "resource_type": kind, "usage_count": count}
        for kind, counts in counted.items()
        for account_id, count in counts.items()
        if count > 0
    ]


def _remove(conn: Connection, report_id: str) -> None:
    conn.execute(_entries.delete().where(_entries.c.report_id == report_id))
    conn.execute(_reports.delete().where(_reports.c.report_id == report_id))
    delete_tags_of(conn, report_id)


def _forget_expired(region: Region, now: datetime) -> None:
    """Delete the region's reports that have expired, with their entries and tags."""
    with region.catalog.connect() as conn:
        expired = select(_reports.c.report_id).where(_reports.c.expires <= now)
        doomed = list(conn.execute(expired).scalars())
    if doomed:
        with region.catalog.begin() as conn:
            for report_id in doomed:
                _remove(conn, report_id)


@action("ec2", "CreateImageUsageReport")
def create_image_usage_report(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    image_id = params["ImageId"]
    check_image_ids([image_id])
    depths, resource_types = _resource_types(params.get("ResourceTypes"))
    accounts = _account_ids(params.get("AccountIds"))
    region: Region = ctx.cloud.region(ctx.region)
    now = ctx.cloud.clock.now()
    _forget_expired(region, now)
    with region.catalog.begin() as conn:
        earlier = client_tokens.earlier_answer(
            conn, ctx.account_id, "CreateImageUsageReport", params
        )
        if earlier is not None:
            return earlier
        owned_image(conn, caller_of(ctx), image_id)
        report_id = new_id("amiur")
        conn.execute(
            _reports.insert().values(
                report_id=report_id,
                owner_id=ctx.account_id,
                image_id=image_id,
                state="available",
                resource_types=json.dumps(resource_types),
                account_ids=None if accounts is None else json.dumps(accounts),
                created=now,
                expires=now + LIFETIME,
            )
        )
        specs = params.get("TagSpecifications")
        apply_specifications(conn, specs, "image-usage-report", report_id, ctx.account_id)
        entries = _usage(conn, ctx.account_id, image_id, depths, accounts)
        if entries:
            conn.execute(_entries.insert(), [{**e, "report_id": report_id} for e in entries])
        answer = {"ReportId": report_id}
        client_tokens.remember(conn, ctx.account_id, "CreateImageUsageReport", params, answer)
    return answer


def _chosen_reports(ctx: Context, region: Region, params: dict[str, Any]) -> list[Row[Any]]:
    """The caller's reports that have not expired, in creation order: those of
    `ReportIds` (NotFound for any other) and of `ImageIds`, when given."""
    ids = params.get("ReportIds") or []
    image_ids = params.get("ImageIds") or []
    _check_report_ids(ids)
    check_image_ids(image_ids)
    now = ctx.cloud.clock.now()
    _forget_expired(region, now)
    query = select(_reports).where(_reports.c.owner_id == ctx.account_id, _reports.c.expires > now)
    if ids:
        query = query.where(_reports.c.report_id.in_(ids))
    with region.catalog.connect() as conn:
        rows = conn.execute(query.order_by(_reports.c.created, _reports.c.report_id)).all()
    missing = sorted(set(ids) - {r.report_id for r in rows})
    if missing:
        raise _not_found(missing)
    return [r for r in rows if not image_ids or r.image_id in image_ids]


def _shown(row: Row[Any], tags: list[dict[str, str]]) -> dict[str, Any]:
    shown = {
        "ImageId": row.image_id,
        "ReportId": row.report_id,
        "ResourceTypes": json.loads(row.resource_types),
        "State": row.state,
        "CreationTime": row.created,
        "ExpirationTime": row.expires,
        "Tags": tags,
    }
    if row.account_ids is not None:
        shown["AccountIds"] = json.loads(row.account_ids)
    if row.state_reason:
        shown["StateReason"] = row.state_reason
    return shown


def _position(created: datetime, *rest: str) -> str:
    return " ".join((iso(created), *rest))


def _entry_position(entry: dict[str, Any]) -> str:
    return _position(
        entry["ReportCreationTime"], entry["ReportId"], entry["AccountId"], entry["ResourceType"]
    )


_REPORT_FILTERS: dict[str, Extractor] = {
    "creation-time": lambda r: [iso(r["CreationTime"])],
    "state": field("State"),
}


@action("ec2", "DescribeImageUsageReports")
def describe_image_usage_reports(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    rows = _chosen_reports(ctx, region, params)
    with region.catalog.connect() as conn:
        tags = tags_of(conn, [r.report_id for r in rows])
    items = [_shown(r, tags[r.report_id]) for r in rows]
    chosen, token = filtered_page(
        items,
        params,
        _REPORT_FILTERS,
        lambda r: _position(r["CreationTime"], r["ReportId"]),
        PAGE_LIMITS,
    )
    return {"ImageUsageReports": chosen, "NextToken": token}


_ENTRY_FILTERS: dict[str, Extractor] = {
    "account-id": field("AccountId"),
    "creation-time": lambda e: [iso(e["ReportCreationTime"])],
    "resource-type": field("ResourceType"),
}


def _entry(report: Row[Any], row: Row[Any]) -> dict[str, Any]:
    return {
        "ResourceType": row.resource_type,
        "ReportId": report.report_id,
        "UsageCount": row.usage_count,
        "AccountId": row.account_id,
        "ImageId": report.image_id,
        "ReportCreationTime": report.created,
    }


@action("ec2", "DescribeImageUsageReportEntries")
def describe_image_usage_report_entries(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    reports = {r.report_id: r for r in _chosen_reports(ctx, region, params)}
    with region.catalog.connect() as conn:
        rows = conn.execute(
            select(_entries)
            .where(_entries.c.report_id.in_(list(reports)))
            .order_by(_entries.c.account_id, _entries.c.resource_type)
        ).all()
    items = [_entry(reports[row.report_id], row) for row in rows]
    items.sort(key=lambda e: (e["ReportCreationTime"], e["ReportId"]))  # stable: keeps the rest
    chosen, token = page(
        filter_items(items, params.get("Filters"), _ENTRY_FILTERS),
        _entry_position,
        params,
        PAGE_LIMITS,
    )
    return {"ImageUsageReportEntries": chosen, "NextToken": token}


@action("ec2", "DeleteImageUsageReport")
def delete_image_usage_report(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    report_id = params["ReportId"]
    region: Region = ctx.cloud.region(ctx.region)
    (row,) = _chosen_reports(ctx, region, {"ReportIds": [report_id]})
    with region.catalog.begin() as conn:
        _remove(conn, row.report_id)
    return {"Return": True}
