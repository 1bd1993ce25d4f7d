"""An instance's metadata options: `MetadataOptions` at launch and in
ModifyInstanceMetadataOptions (`attributes.py`), as DescribeInstances shows
them.

The defaults are EC2's: IMDSv2 optional with a hop limit of 1, unless the
image says `ImdsSupport: v2.0`, whose instances require IMDSv2 with a hop
limit of 2; the endpoint enabled; tags not in the metadata. A change takes
effect at once on the running instance: its metadata service reads the
options on every request.
"""

import json
from typing import Any

from amiable.cloud.core.errors import ApiError

_CHOICES = {
    "HttpTokens": ("optional", "required"),
    "HttpEndpoint": ("enabled", "disabled"),
    "HttpProtocolIpv6": ("enabled", "disabled"),
    "InstanceMetadataTags": ("enabled", "disabled"),
}
HOP_LIMITS = range(1, 65)


def defaults(image: dict[str, Any]) -> dict[str, Any]:
    v2 = image.get("ImdsSupport") == "v2.0"
    return {
        "HttpTokens": "required" if v2 else "optional",
        "HttpPutResponseHopLimit": 2 if v2 else 1,
        "HttpEndpoint": "enabled",
        "HttpProtocolIpv6": "disabled",
        "InstanceMetadataTags": "disabled",
    }


def changed(options: dict[str, Any], asked: dict[str, Any] | None) -> dict[str, Any]:
    """`options` with what was asked for, checked as EC2 checks it."""
    result = dict(options)
    for name, value in (asked or {}).items():
        if name in _CHOICES:
            if value not in _CHOICES[name]:
                raise ApiError(
                    "InvalidParameterValue", f"The value '{value}' is not valid for {name}."
                )
            result[name] = value
        elif name == "HttpPutResponseHopLimit":
            if value not in HOP_LIMITS:
                raise ApiError(
                    "InvalidParameterValue",
                    f"The HttpPutResponseHopLimit value '{value}' is not valid. "
                    "Specify a value from 1 to 64.",
                )
            result[name] = value
    return result


def of(stored: str | None) -> dict[str, Any]:
    """An instance's options (one launched before options existed has EC2's defaults)."""
    return json.loads(stored) if stored else defaults({})


def shown(stored: str | None) -> dict[str, Any]:
    """MetadataOptions as DescribeInstances shows them."""
    return {"State": "applied", **of(stored)}
