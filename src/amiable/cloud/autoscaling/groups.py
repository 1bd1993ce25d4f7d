"""DescribeAutoScalingGroups and DescribeLaunchConfigurations, answered truthfully.

amiable has no Auto Scaling groups and no launch configurations, so both list
nothing: names asked for that do not exist are simply absent, as on AWS.
Image retention tools (Cloud Custodian, aws-amicleaner) call them to find
the images in use, and learn that none is used this way. `MaxRecords` is
checked against the documented maximum (100); as no answer ever carries a
`NextToken`, any token sent is `InvalidNextToken`. The other AutoScaling
actions are not implemented (`Unsupported`).
"""

from typing import Any

from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.regions import check_region

MAX_RECORDS = 100


def _check(ctx: Context, params: dict[str, Any]) -> None:
    check_region(ctx.region)
    records = params.get("MaxRecords")
    if records is not None and records > MAX_RECORDS:
        raise ApiError(
            "ValidationError",
            f"1 validation error detected: Value '{records}' at 'maxRecords' failed to "
            f"satisfy constraint: Member must have value less than or equal to {MAX_RECORDS}",
        )
    if params.get("NextToken") is not None:
        raise ApiError("InvalidNextToken", "The token you supplied is invalid.")


@action("autoscaling", "DescribeAutoScalingGroups")
def describe_auto_scaling_groups(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    _check(ctx, params)
    return {"AutoScalingGroups": []}


@action("autoscaling", "DescribeLaunchConfigurations")
def describe_launch_configurations(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    _check(ctx, params)
    return {"LaunchConfigurations": []}
