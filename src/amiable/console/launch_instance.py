"""Launch instance from AMI: the form (Name, Instance type, Key pair name,
Security groups, Number of instances, User data), with the choices the
account has in the region (DescribeInstanceTypes for the image's
architecture, DescribeKeyPairs, DescribeSecurityGroups), and RunInstances.
On success the Instances page says the launch began, the first instance linked."""

import base64
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from amiable.cloud.core.errors import invalid_value
from amiable.cloud.core.home import Cloud

from .auth import Visitor, cloud_of, signed_in
from .calls import call
from .image_forms import Done, image_form
from .instance_views import instance_url, instances_url
from .regions import region_of

MAX_COUNT = 20  # instances per launch from the console (EC2's default vCPU limits allow about this)


def _count(form: FormData) -> int:
    given = str(form.get("count", "1"))
    if not given.isdigit() or not 1 <= int(given) <= MAX_COUNT:
        raise invalid_value("MaxCount", given, f"a number from 1 to {MAX_COUNT}")
    return int(given)


def _params(image_id: str, form: FormData) -> dict[str, Any]:
    count = _count(form)
    params: dict[str, Any] = {"ImageId": image_id, "MinCount": count, "MaxCount": count}
    if kind := str(form.get("instance_type", "")):
        params["InstanceType"] = kind
    if key := str(form.get("key_name", "")):
        params["KeyName"] = key
    if groups := [str(g) for g in form.getlist("security_group") if g]:
        params["SecurityGroupIds"] = groups
    # a browser sends a textarea's lines with CRLF: a "#!/bin/sh\r" would name no shell
    if user_data := str(form.get("user_data", "")).replace("\r\n", "\n"):
        params["UserData"] = base64.b64encode(user_data.encode()).decode()
    if name := str(form.get("name", "")).strip():
        tags = [{"Key": "Name", "Value": name}]
        params["TagSpecifications"] = [{"ResourceType": "instance", "Tags": tags}]
    return params


async def _choices(
    cloud: Cloud, visitor: Visitor, region: str, image: dict[str, Any]
) -> dict[str, Any]:
    architecture = image.get("Architecture", "x86_64")
    arch_filter = [{"Name": "processor-info.supported-architecture", "Values": [architecture]}]
    types = await call(
        cloud, visitor, region, "DescribeInstanceTypes", {"Filters": arch_filter, "MaxResults": 100}
    )
    keys = await call(cloud, visitor, region, "DescribeKeyPairs", {})
    groups = await call(cloud, visitor, region, "DescribeSecurityGroups", {})
    return {
        "instance_types": sorted(t["InstanceType"] for t in types["InstanceTypes"]),
        "key_pairs": sorted(k["KeyName"] for k in keys["KeyPairs"]),
        "security_groups": [
            (g["GroupId"], g["GroupName"], g.get("VpcId", ""))
            for g in sorted(groups["SecurityGroups"], key=lambda g: g["GroupName"])
        ],
        "max_count": MAX_COUNT,
    }


@signed_in
async def launch_instance(request: Request, visitor: Visitor) -> Response:
    region, cloud = region_of(request), cloud_of(request)

    async def act(image_id: str, form: FormData) -> Done:
        launched = await call(cloud, visitor, region, "RunInstances", _params(image_id, form))
        ids = [i["InstanceId"] for i in launched["Instances"]]
        others = f" and {len(ids) - 1} more" if len(ids) > 1 else ""
        return Done(
            "Successfully initiated launch of instance ",
            instances_url(region),
            (instance_url(region, ids[0]), ids[0]),
            f"{others}.",
        )

    async def choices(image: dict[str, Any]) -> dict[str, Any]:
        return await _choices(cloud, visitor, region, image)

    return await image_form(request, visitor, "launch.html", act, choices)
