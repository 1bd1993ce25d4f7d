"""The tags a bake puts on everything it creates, so that a sweep finds the
leftovers of a dead build with no journal at all, and a later bake finds
its cache and its last published image."""

from typing import Any

BUILD = "amiable:bake:build"  # the build id, on every resource
RECIPE = "amiable:bake:recipe"  # the recipe's name
ROLE = "amiable:bake:role"  # build-instance, test-instance, candidate, copy, cache
STATUS = "amiable:bake:status"  # staged, then published
CACHE_KEY = "amiable:bake:cache-key"
CONTENT = "amiable:bake:content"  # the content key of a candidate and its copies
TESTED = "amiable:bake:tested"  # the tests key its tests passed with
INPUTS = "amiable:bake:inputs"  # digest of everything the image was made from
SBOM = "amiable:bake:sbom-sha256"
VERSION = "amiable:bake:version"


def pairs(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in values.items()]


def specifications(values: dict[str, str], *kinds: str) -> list[dict[str, Any]]:
    return [{"ResourceType": kind, "Tags": pairs(values)} for kind in kinds]


def of(resource: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def filters(values: dict[str, str]) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{k}", "Values": [v]} for k, v in values.items()]
