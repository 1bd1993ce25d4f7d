"""The Recycle Bin page: tabs Images (ListImagesInRecycleBin) and Snapshots
(ListSnapshotsInRecycleBin), each paged on the server, with *Recover* for the
selected one; and, read-only, the retention rules of both resource types
(the `rbin` service's ListRules), since without a rule nothing goes to the
bin, which the page says."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import quote

from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Cloud
from amiable.cloud.core.ids import well_formed

from .auth import Visitor, cloud_of, signed_in
from .calls import call
from .confirm import Facts, facts_of
from .image_views import IMAGE_ID, NONE
from .list_page import Row, each, list_page
from .list_query import ListQuery
from .regions import region_of
from .selection import to_action
from .shown import when


@dataclass(frozen=True)
class Bin:
    """One tab of the page: a resource type in the bin, and how it is recovered."""

    tab: str  # in the URL
    label: str
    what: str  # one of them, in a sentence
    valid: Callable[[str], bool]  # a well-formed id
    action: str  # the EC2 action listing them
    key: str  # its answer's list
    id_param: str  # the ids it is asked for
    restore: str  # the EC2 action recovering one
    restore_param: str
    not_found: str  # the error code when one is not in the bin
    rule_type: str  # the rbin resource type
    rule_label: str
    gone: str  # what happens to one without a rule
    columns: tuple[tuple[str, str], ...]


IMAGES = Bin(
    tab="images",
    label="Images",
    what="an AMI",
    valid=lambda i: IMAGE_ID.match(i) is not None,
    action="ListImagesInRecycleBin",
    key="Images",
    id_param="ImageIds",
    restore="RestoreImageFromRecycleBin",
    restore_param="ImageId",
    not_found="InvalidAMIID.NotFound",
    rule_type="EC2_IMAGE",
    rule_label="AMIs",
    gone="a deregistered AMI is gone for good",
    columns=(
        ("id", "AMI ID"),
        ("name", "AMI name"),
        ("description", "Description"),
        ("entered", "Recycle Bin enter time"),
        ("leaves", "Recycle Bin exit time"),
    ),
)
SNAPSHOTS = Bin(
    tab="snapshots",
    label="Snapshots",
    what="a snapshot",
    valid=partial(well_formed, "snap"),
    action="ListSnapshotsInRecycleBin",
    key="Snapshots",
    id_param="SnapshotIds",
    restore="RestoreSnapshotFromRecycleBin",
    restore_param="SnapshotId",
    not_found="InvalidSnapshot.NotFound",
    rule_type="EBS_SNAPSHOT",
    rule_label="EBS snapshots",
    gone="a deleted snapshot is gone for good",
    columns=(
        ("id", "Snapshot ID"),
        ("description", "Description"),
        ("volume", "Volume ID"),
        ("entered", "Recycle Bin enter time"),
        ("leaves", "Recycle Bin exit time"),
    ),
)
BINS = {b.tab: b for b in (IMAGES, SNAPSHOTS)}


def recycle_bin_url(region: str, tab: str = "") -> str:
    url = f"/console/{quote(region)}/recycle-bin"
    return f"{url}?tab={quote(tab)}" if tab else url


@dataclass(frozen=True)
class BinQuery(ListQuery):
    """The tab shown and its place in the pages."""

    tab: str = IMAGES.tab

    @classmethod
    def of(cls, query: QueryParams) -> "BinQuery":
        tab = query.get("tab", IMAGES.tab)
        return cls(tab=tab if tab in BINS else IMAGES.tab, **cls.place(query))


def _row_of(item: dict[str, Any]) -> Row:
    return {
        "id": str(item.get("ImageId") or item.get("SnapshotId")),
        "name": str(item.get("Name") or NONE),
        "description": str(item.get("Description") or NONE),
        "volume": str(item.get("VolumeId") or NONE),
        "entered": when(item.get("RecycleBinEnterTime")),
        "leaves": when(item.get("RecycleBinExitTime")),
    }


async def _rules(cloud: Cloud, visitor: Visitor, region: str) -> tuple[list[Row], ApiError | None]:
    """The retention rules of both resource types, or why they cannot be read."""
    rows: list[Row] = []
    for kind in BINS.values():
        params = {"ResourceType": kind.rule_type}
        try:
            found = await call(cloud, visitor, region, "ListRules", params, service="rbin")
        except ApiError as exc:
            return [], exc
        rows.extend(_rule_row(kind, rule) for rule in found.get("Rules", []))
    return rows, None


def _rule_row(kind: Bin, rule: dict[str, Any]) -> Row:
    period = rule.get("RetentionPeriod") or {}
    days = period.get("RetentionPeriodValue")
    return {
        "type": kind.rule_type,
        "resources": kind.rule_label,
        "identifier": str(rule.get("Identifier") or NONE),
        "description": str(rule.get("Description") or NONE),
        "retention": NONE if days is None else f"{days} day{'' if days == 1 else 's'}",
        "lock": str(rule.get("LockState") or NONE),
    }


async def binned_facts(
    kind: Bin, cloud: Cloud, visitor: Visitor, region: str, resource_id: str
) -> Facts:
    """The resource as the bin's list shows it; the error its restore would
    answer when it is not in the bin."""
    params = {kind.id_param: [resource_id]}
    found = (await call(cloud, visitor, region, kind.action, params)).get(kind.key, [])
    if not found:
        message = f"The resource '{resource_id}' is not in the Recycle Bin."
        raise ApiError(kind.not_found, message)
    return facts_of(_row_of(found[0]), kind.columns)


@signed_in
async def recycle_bin_page(request: Request, visitor: Visitor) -> Response:
    region = region_of(request)
    query = BinQuery.of(request.query_params)
    kind = BINS[query.tab]
    rules, rules_error = await _rules(cloud_of(request), visitor, region)
    return await list_page(
        request,
        visitor,
        template="recycle_bin.html",
        title="Recycle Bin",
        action=kind.action,
        params=query.page_params(),
        rows=each(kind.key, _row_of),
        query=query,
        list_url=recycle_bin_url(region),
        kind=kind,
        bins=tuple(BINS.values()),
        rules=rules,
        rules_error=rules_error,
        ruled={rule["type"] for rule in rules},
    )


@signed_in
async def recover_action(request: Request, visitor: Visitor) -> Response:
    """*Recover* on a tab, for the selected image or snapshot."""
    region, kind = region_of(request), BINS.get(str(request.path_params["tab"]))
    if kind is None:
        raise HTTPException(404, "Not Found")
    base = f"{recycle_bin_url(region)}/{kind.tab}"
    back = recycle_bin_url(region, kind.tab)
    return to_action(request, "resource_id", kind.valid, ("recover",), base, back, kind.what)
