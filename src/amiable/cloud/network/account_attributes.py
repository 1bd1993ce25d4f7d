"""DescribeAccountAttributes: the account's default VPC in the region (or
`none`) and EC2's fixed limits, with AWS's default values: EC2-Classic is
gone, so the only platform is VPC."""

from typing import Any

from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import invalid_value

from .rows import default_vpc, network
from .security_groups import MAX_PER_INTERFACE

# in the order AWS lists them; `default-vpc` is the account's own
_FIXED: dict[str, list[str]] = {
    "vpc-max-security-groups-per-interface": [str(MAX_PER_INTERFACE)],
    "max-instances": ["20"],
    "supported-platforms": ["VPC"],
    "default-vpc": [],
    "max-elastic-ips": ["5"],
    "vpc-max-elastic-ips": ["5"],
}


@action("ec2", "DescribeAccountAttributes")
def describe_account_attributes(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    names = params.get("AttributeNames") or list(_FIXED)
    for name in names:
        if name not in _FIXED:
            raise invalid_value("AttributeName", name, "not an account attribute")
    region = network(ctx)
    with region.catalog.connect() as conn:
        vpc = default_vpc(conn, ctx.account_id)
    values = {**_FIXED, "default-vpc": [vpc.vpc_id if vpc is not None else "none"]}
    return {
        "AccountAttributes": [
            {
                "AttributeName": name,
                "AttributeValues": [{"AttributeValue": value} for value in values[name]],
            }
            for name in names
        ]
    }
