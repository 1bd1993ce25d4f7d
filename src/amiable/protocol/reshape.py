"""Carrying a value from one shape to a sibling shape with the same member names.

EC2 often models the same data twice, once for requests and once for
responses (`RequestLaunchTemplateData` / `ResponseLaunchTemplateData`); a
value stored from one is shown in the other by keeping, at every level, the
members the target shape has.
"""

from typing import Any

from botocore.model import Shape


def reshape(value: Any, shape: Shape) -> Any:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: reshape(v, members[k]) for k, v in value.items() if k in members}
    if kind == "list" and isinstance(value, list):
        return [reshape(item, shape.member) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {k: reshape(v, shape.value) for k, v in value.items()}
    return value
