"""DescribeNetworkInterfaces: an instance's primary interface, as DescribeInstances
shows it, with its attachment; by id, by filter and by page; the caller's own only;
gone with its instance. ModifyNetworkInterfaceAttribute on an id that is not there."""

from typing import Any

import pytest
from botocore.exceptions import ClientError
from instance_api import launch

import amiable
from amiable.cloud.core.home import Cloud
from api_helpers import OTHER


def _error(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


def test_an_instances_interface_is_described_with_its_attachment(
    clients: tuple[Any, Any], image: str, cloud: Cloud
) -> None:
    ec2, _ = clients
    group = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
    first, second = launch(ec2, image, count=2, SecurityGroupIds=[group])
    described = ec2.describe_instances(InstanceIds=[first])["Reservations"][0]["Instances"][0]
    (primary,) = described["NetworkInterfaces"]
    interface = primary["NetworkInterfaceId"]

    (found,) = ec2.describe_network_interfaces(NetworkInterfaceIds=[interface])["NetworkInterfaces"]
    assert found["Attachment"]["InstanceId"] == first
    assert found["Attachment"]["InstanceOwnerId"] == described["NetworkInterfaces"][0]["OwnerId"]
    assert found["Attachment"]["DeviceIndex"] == 0
    assert found["Status"] == "in-use"
    assert found["PrivateIpAddress"] == described["PrivateIpAddress"]
    assert found["MacAddress"] == primary["MacAddress"]
    assert found["SubnetId"] == described["SubnetId"]
    assert found["AvailabilityZone"] == described["Placement"]["AvailabilityZone"]
    assert [g["GroupId"] for g in found["Groups"]] == [group]
    assert found["TagSet"] == [] and found["RequesterManaged"] is False

    by_instance = ec2.describe_network_interfaces(
        Filters=[{"Name": "attachment.instance-id", "Values": [second]}]
    )["NetworkInterfaces"]
    assert [i["Attachment"]["InstanceId"] for i in by_instance] == [second]
    by_address = ec2.describe_network_interfaces(
        Filters=[{"Name": "addresses.private-ip-address", "Values": [found["PrivateIpAddress"]]}]
    )["NetworkInterfaces"]
    assert [i["NetworkInterfaceId"] for i in by_address] == [interface]
    by_group = ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [group]}])
    assert len(by_group["NetworkInterfaces"]) == 2

    paged = ec2.get_paginator("describe_network_interfaces").paginate(
        PaginationConfig={"PageSize": 5}
    )
    every = [i["NetworkInterfaceId"] for p in paged for i in p["NetworkInterfaces"]]
    assert interface in every and every == sorted(every)

    other = amiable.Session(cloud=cloud, region="eu-central-1", account=OTHER).client("ec2")
    assert other.describe_network_interfaces()["NetworkInterfaces"] == []
    assert _error(other.describe_network_interfaces, NetworkInterfaceIds=[interface]) == (
        "InvalidNetworkInterfaceID.NotFound",
        f"The networkInterface ID '{interface}' does not exist",
    )

    ec2.terminate_instances(InstanceIds=[first])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[first], WaiterConfig={"Delay": 0.2})
    left = ec2.describe_network_interfaces()["NetworkInterfaces"]
    assert [i["Attachment"]["InstanceId"] for i in left] == [second]


def test_bad_requests_are_refused(clients: tuple[Any, Any]) -> None:
    ec2, _ = clients
    missing = ["eni-0123456789abcdef0", "eni-0fedcba9876543210"]
    assert _error(ec2.describe_network_interfaces, NetworkInterfaceIds=missing) == (
        "InvalidNetworkInterfaceID.NotFound",
        f"The networkInterface IDs '{missing[0]}, {missing[1]}' do not exist",
    )
    code, _ = _error(ec2.describe_network_interfaces, NetworkInterfaceIds=missing[:1], MaxResults=5)
    assert code == "InvalidParameterCombination"
    code, message = _error(
        ec2.describe_network_interfaces, Filters=[{"Name": "nonsense", "Values": ["x"]}]
    )
    assert (code, message) == ("InvalidParameterValue", "The filter 'nonsense' is invalid")
    code, _ = _error(
        ec2.modify_network_interface_attribute, NetworkInterfaceId=missing[0], Groups=["sg-1"]
    )
    assert code == "InvalidNetworkInterfaceID.NotFound"
