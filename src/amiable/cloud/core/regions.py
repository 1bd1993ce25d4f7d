"""Regions and availability zones: AWS's names, one endpoint for all of them.

Every region has its own catalog and store under the data home; a request
acts in the region of its SigV4 credential scope.
"""

from typing import Any

from .actions import Context, action
from .errors import ApiError
from .filters import field, select

# (name, opt-in status) for the commercial regions.
REGIONS: tuple[tuple[str, str], ...] = (
    ("af-south-1", "not-opted-in"),
    ("ap-east-1", "not-opted-in"),
    ("ap-northeast-1", "opt-in-not-required"),
    ("ap-northeast-2", "opt-in-not-required"),
    ("ap-northeast-3", "opt-in-not-required"),
    ("ap-south-1", "opt-in-not-required"),
    ("ap-south-2", "not-opted-in"),
    ("ap-southeast-1", "opt-in-not-required"),
    ("ap-southeast-2", "opt-in-not-required"),
    ("ap-southeast-3", "not-opted-in"),
    ("ap-southeast-4", "not-opted-in"),
    ("ca-central-1", "opt-in-not-required"),
    ("ca-west-1", "not-opted-in"),
    ("eu-central-1", "opt-in-not-required"),
    ("eu-central-2", "not-opted-in"),
    ("eu-north-1", "opt-in-not-required"),
    ("eu-south-1", "not-opted-in"),
    ("eu-south-2", "not-opted-in"),
    ("eu-west-1", "opt-in-not-required"),
    ("eu-west-2", "opt-in-not-required"),
    ("eu-west-3", "opt-in-not-required"),
    ("il-central-1", "not-opted-in"),
    ("me-central-1", "not-opted-in"),
    ("me-south-1", "not-opted-in"),
    ("sa-east-1", "opt-in-not-required"),
    ("us-east-1", "opt-in-not-required"),
    ("us-east-2", "opt-in-not-required"),
    ("us-west-1", "opt-in-not-required"),
    ("us-west-2", "opt-in-not-required"),
)
REGION_NAMES = frozenset(name for name, _ in REGIONS)
ZONE_LETTERS = "abc"


def check_region(name: str) -> None:
    """InvalidParameterValue unless `name` is one of the regions."""
    if name not in REGION_NAMES:
        raise ApiError("InvalidParameterValue", f"Unknown region {name}")


def _region(name: str, status: str) -> dict[str, Any]:
    return {"RegionName": name, "Endpoint": f"ec2.{name}.amazonaws.com", "OptInStatus": status}


_COMPASS = {"northeast": "ne", "southeast": "se", "northwest": "nw", "southwest": "sw"}


def _zone_id(region: str, number: int) -> str:
    """`us-east-1` -> `use1-az1`, `ap-southeast-2` -> `apse2-az1`, as AWS names them."""
    area, direction, index = region.split("-")
    return f"{area}{_COMPASS.get(direction, direction[0])}{index}-az{number}"


def zone_id_of(zone: str) -> str:
    """`eu-west-1b` -> `euw1-az2`."""
    return _zone_id(zone[:-1], ZONE_LETTERS.index(zone[-1]) + 1)


def _zones(region: str) -> list[dict[str, Any]]:
    return [
        {
            "ZoneName": f"{region}{letter}",
            "ZoneId": _zone_id(region, number),
            "State": "available",
            "RegionName": region,
            "ZoneType": "availability-zone",
            "GroupName": region,
            "NetworkBorderGroup": region,
            "OptInStatus": "opt-in-not-required",
            "Messages": [],
        }
        for number, letter in enumerate(ZONE_LETTERS, start=1)
    ]


_REGION_FILTERS = {
    "region-name": field("RegionName"),
    "endpoint": field("Endpoint"),
    "opt-in-status": field("OptInStatus"),
}
_ZONE_FILTERS = {
    "zone-name": field("ZoneName"),
    "zone-id": field("ZoneId"),
    "region-name": field("RegionName"),
    "state": field("State"),
    "zone-type": field("ZoneType"),
    "group-name": field("GroupName"),
    "opt-in-status": field("OptInStatus"),
}


@action("ec2", "DescribeRegions")
def describe_regions(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    everything = params.get("AllRegions", False)
    regions = [_region(n, s) for n, s in REGIONS if everything or s != "not-opted-in"]
    names = params.get("RegionNames")
    if names:
        regions = [r for r in regions if r["RegionName"] in names]
    return {"Regions": select(regions, params.get("Filters"), _REGION_FILTERS)}


@action("ec2", "DescribeAvailabilityZones")
def describe_availability_zones(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    zones = _zones(ctx.region)
    names, ids = params.get("ZoneNames"), params.get("ZoneIds")
    if names:
        zones = [z for z in zones if z["ZoneName"] in names]
    if ids:
        zones = [z for z in zones if z["ZoneId"] in ids]
    return {"AvailabilityZones": select(zones, params.get("Filters"), _ZONE_FILTERS)}
