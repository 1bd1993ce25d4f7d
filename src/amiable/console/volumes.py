"""The Volumes page: the account's volumes in the region (DescribeVolumes),
filtered by volume ID, tag and state, paged on the server; the Actions of a
selected volume (Delete volume); how a volume is shown, in its row and on its
confirmation page."""

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

STATES = ("creating", "available", "in-use", "deleting", "deleted", "error")
ACTIONS = ("delete",)
COLUMNS = (
    ("name", "Name"),
    ("volume_id", "Volume ID"),
    ("type", "Type"),
    ("size", "Size"),
    ("snapshot", "Snapshot"),
    ("created", "Created"),
    ("zone", "Availability Zone"),
    ("state", "Volume state"),
    ("attached", "Attached resources"),
    ("encryption", "Encryption"),
)


def volumes_url(region: str) -> str:
    return f"/console/{quote(region)}/volumes"


class VolumeQuery(FilteredQuery):
    """The filters of the page (volume ID, tag, state) and its place in the pages."""

    ID_FILTER = "volume-id"
    STATES = STATES


def row_of(volume: dict[str, Any]) -> Row:
    """The columns of the Volumes table, as the EC2 console has them;
    `instances`: the ids of the instances it is attached to."""
    instances = [str(a["InstanceId"]) for a in volume.get("Attachments", []) if a.get("InstanceId")]
    return {
        "name": name_tag(volume),
        "volume_id": str(volume["VolumeId"]),
        "type": str(volume.get("VolumeType") or NONE),
        "size": gib(volume.get("Size")),
        "snapshot": str(volume.get("SnapshotId") or NONE),
        "created": when(volume.get("CreateTime")),
        "zone": str(volume.get("AvailabilityZone") or NONE),
        "state": str(volume.get("State") or NONE),
        "attached": ", ".join(instances) or NONE,
        "instances": instances,
        "encryption": encryption(volume.get("Encrypted")),
    }


async def volume_facts(cloud: Cloud, visitor: Visitor, region: str, volume_id: str) -> Facts:
    """The volume's columns, as DescribeVolumes shows it (InvalidVolume.* otherwise)."""
    found = await call(cloud, visitor, region, "DescribeVolumes", {"VolumeIds": [volume_id]})
    row = row_of(found["Volumes"][0])
    return facts_of(row, COLUMNS)


@signed_in
async def volumes_page(request: Request, visitor: Visitor) -> Response:
    query = VolumeQuery.of(request.query_params)
    return await list_page(
        request,
        visitor,
        template="volumes.html",
        title="Volumes",
        action="DescribeVolumes",
        params=query.describe_params(),
        rows=each("Volumes", row_of),
        query=query,
        list_url=volumes_url(region_of(request)),
        columns=COLUMNS,
        states=STATES,
    )


@signed_in
async def volume_action(request: Request, visitor: Visitor) -> Response:
    """The Actions buttons of the Volumes table, for the selected volume."""
    url = volumes_url(region_of(request))
    valid = partial(well_formed, "vol")
    return to_action(request, "volume_id", valid, ACTIONS, url, url, "a volume")
