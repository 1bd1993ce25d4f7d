"""The Snapshots page: the account's snapshots in the region (DescribeSnapshots
with OwnerIds=[self]), filtered by snapshot ID, tag and status, paged on the
server; the Actions of a selected snapshot (Delete snapshot); how a snapshot
is shown, in its row and on its confirmation page."""

from functools import partial
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from amiable.cloud.core.home import Cloud
from amiable.cloud.core.ids import well_formed

from .auth import Visitor, signed_in
from .calls import call
from .confirm import Facts, facts_of
from .image_views import NONE, name_tag
from .list_page import Row, each, list_page
from .list_query import FilteredQuery
from .regions import region_of
from .selection import to_action
from .shown import encryption, gib, when

STATES = ("pending", "completed", "error", "recoverable", "recovering")
ACTIONS = ("delete",)
COLUMNS = (
    ("name", "Name"),
    ("snapshot_id", "Snapshot ID"),
    ("size", "Volume size"),
    ("description", "Description"),
    ("tier", "Storage tier"),
    ("state", "Snapshot status"),
    ("started", "Started"),
    ("progress", "Progress"),
    ("encryption", "Encryption"),
    ("owner", "Owner"),
)


def snapshots_url(region: str) -> str:
    return f"/console/{quote(region)}/snapshots"


class SnapshotQuery(FilteredQuery):
    """The filters of the page (snapshot ID, tag, status) and its place in the pages."""

    ID_FILTER = "snapshot-id"
    STATES = STATES


def row_of(snapshot: dict[str, Any]) -> Row:
    """The columns of the Snapshots table, as the EC2 console has them."""
    return {
        "name": name_tag(snapshot),
        "snapshot_id": str(snapshot["SnapshotId"]),
        "size": gib(snapshot.get("VolumeSize")),
        "description": str(snapshot.get("Description") or NONE),
        "tier": str(snapshot.get("StorageTier") or NONE).capitalize(),
        "state": str(snapshot.get("State") or NONE),
        "started": when(snapshot.get("StartTime")),
        "progress": str(snapshot.get("Progress") or NONE),
        "encryption": encryption(snapshot.get("Encrypted")),
        "owner": str(snapshot.get("OwnerId") or NONE),
    }


async def snapshot_facts(cloud: Cloud, visitor: Visitor, region: str, snapshot_id: str) -> Facts:
    """The snapshot's columns, as DescribeSnapshots shows it (InvalidSnapshot.* otherwise)."""
    found = await call(cloud, visitor, region, "DescribeSnapshots", {"SnapshotIds": [snapshot_id]})
    row = row_of(found["Snapshots"][0])
    return facts_of(row, COLUMNS)


@signed_in
async def snapshots_page(request: Request, visitor: Visitor) -> Response:
    query = SnapshotQuery.of(request.query_params)
    return await list_page(
        request,
        visitor,
        template="snapshots.html",
        title="Snapshots",
        action="DescribeSnapshots",
        params=query.describe_params(OwnerIds=["self"]),
        rows=each("Snapshots", row_of),
        query=query,
        list_url=snapshots_url(region_of(request)),
        columns=COLUMNS,
        states=STATES,
    )


@signed_in
async def snapshot_action(request: Request, visitor: Visitor) -> Response:
    """The Actions buttons of the Snapshots table, for the selected snapshot."""
    url = snapshots_url(region_of(request))
    valid = partial(well_formed, "snap")
    return to_action(request, "snapshot_id", valid, ACTIONS, url, url, "a snapshot")
