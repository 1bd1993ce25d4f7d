"""VPCs, subnets, the default VPC and DescribeAccountAttributes through real
boto3 clients; and what RunInstances uses to place an instance (the subnet it
launches into, its private address, its MAC), called directly.

Launching needs the instance sandbox, so an instance in a subnet is a row
written into the catalog (`instance_in`)."""

import re
import threading
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

import amiable
from amiable.catalog.regional import instance_groups, instances, security_groups, subnets, vpcs
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Cloud
from amiable.cloud.core.ids import new_id
from amiable.cloud.network import addresses
from amiable.cloud.network.subnets import launch_subnet
from api_helpers import OTHER, cloud_with_other_account, code_of, error_of

REGION = "ap-southeast-2"
ACCOUNT = "000000000000"
ZONES = {f"{REGION}a": "apse2-az1", f"{REGION}b": "apse2-az2", f"{REGION}c": "apse2-az3"}


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return cloud_with_other_account(tmp_path / "home")


def client(cloud: Cloud, account: str = ACCOUNT) -> Any:
    return amiable.Session(cloud=cloud, account=account, region=REGION).client("ec2")


@pytest.fixture
def ec2(cloud: Cloud) -> Any:
    return client(cloud)


@pytest.fixture
def other(cloud: Cloud) -> Any:
    return client(cloud, OTHER)


def instance_in(
    cloud: Cloud,
    subnet: dict[str, Any],
    address: str,
    state: str = "stopped",
    group_ids: tuple[str, ...] = (),
) -> str:
    """An instance row in `subnet` holding `address` (and these groups), as
    RunInstances will write it; `stopped` by default, so no sandbox is asked
    for and the host rules are left alone."""
    instance_id = new_id("i")
    with cloud.region(REGION).catalog.begin() as conn:
        conn.execute(
            instances.insert().values(
                instance_id=instance_id,
                owner_id=subnet["OwnerId"],
                reservation_id=new_id("r"),
                image_id=new_id("ami"),
                instance_type="t3.micro",
                state=state,
                launch_time=datetime.now(UTC),
                launch_index=0,
                zone=subnet["AvailabilityZone"],
                root_device="/dev/xvda",
                root_volume_id=new_id("vol"),
                document="{}",
                subnet_id=subnet["SubnetId"],
                vpc_id=subnet["VpcId"],
                private_ip=address,
            )
        )
        for group_id in group_ids:
            conn.execute(
                instance_groups.insert().values(instance_id=instance_id, group_id=group_id)
            )
    return instance_id


def default_vpc(ec2: Any) -> dict[str, Any]:
    (vpc,) = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    return dict(vpc)


def subnets_of(ec2: Any, vpc_id: str) -> list[dict[str, Any]]:
    found = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    return sorted(found, key=lambda s: s["AvailabilityZone"])


def delete_default_vpc(ec2: Any) -> str:
    vpc_id = default_vpc(ec2)["VpcId"]
    for subnet in subnets_of(ec2, vpc_id):
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    ec2.delete_vpc(VpcId=vpc_id)
    return str(vpc_id)


def default_vpc_attribute(ec2: Any) -> str:
    (attribute,) = ec2.describe_account_attributes(AttributeNames=["default-vpc"])[
        "AccountAttributes"
    ]
    return str(attribute["AttributeValues"][0]["AttributeValue"])


def count_rows(cloud: Cloud, table: Any, *where: Any) -> int:
    with cloud.region(REGION).catalog.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar())


# --- the default VPC ---------------------------------------------------------


def test_the_default_vpc_is_made_on_first_use_as_aws_makes_it(ec2: Any) -> None:
    vpc = default_vpc(ec2)
    assert (vpc["CidrBlock"], vpc["State"], vpc["OwnerId"]) == (
        "172.31.0.0/16",
        "available",
        ACCOUNT,
    )
    assert vpc["InstanceTenancy"] == "default"
    assert vpc["DhcpOptionsId"].startswith("dopt-")
    assert vpc["CidrBlockAssociationSet"][0]["CidrBlockState"] == {"State": "associated"}
    for attribute, member in (
        ("enableDnsSupport", "EnableDnsSupport"),
        ("enableDnsHostnames", "EnableDnsHostnames"),
    ):
        shown = ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute=attribute)
        assert shown[member] == {"Value": True}
    found = subnets_of(ec2, vpc["VpcId"])
    assert [(s["AvailabilityZone"], s["AvailabilityZoneId"], s["CidrBlock"]) for s in found] == [
        (f"{REGION}a", "apse2-az1", "172.31.0.0/20"),
        (f"{REGION}b", "apse2-az2", "172.31.16.0/20"),
        (f"{REGION}c", "apse2-az3", "172.31.32.0/20"),
    ]
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert {z["ZoneName"]: z["ZoneId"] for z in zones} == ZONES
    for subnet in found:
        assert subnet["DefaultForAz"] is True
        assert subnet["MapPublicIpOnLaunch"] is False  # no public addresses on this host
        assert subnet["AvailableIpAddressCount"] == 4096 - 5
        assert subnet["SubnetArn"] == f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/{subnet['SubnetId']}"
    (group,) = ec2.describe_security_groups()["SecurityGroups"]
    assert (group["GroupName"], group["VpcId"]) == ("default", vpc["VpcId"])


@pytest.mark.parametrize(
    "first_call",
    [
        lambda ec2: ec2.describe_vpcs(),
        lambda ec2: ec2.describe_subnets(),
        lambda ec2: ec2.describe_security_groups(),
        lambda ec2: ec2.describe_account_attributes(),
        lambda ec2: ec2.create_security_group(GroupName="web", Description="web"),
    ],
)
def test_any_first_use_of_the_network_makes_the_default_vpc(
    cloud: Cloud, ec2: Any, first_call: Callable[[Any], Any]
) -> None:
    first_call(ec2)
    assert count_rows(cloud, vpcs, vpcs.c.is_default.is_(True)) == 1
    assert count_rows(cloud, subnets) == 3


def test_concurrent_first_uses_make_one_default_vpc(cloud: Cloud) -> None:
    clients = [client(cloud) for _ in range(8)]
    start = threading.Barrier(len(clients))
    seen: list[str] = []

    def first_use(ec2: Any) -> None:
        start.wait()
        seen.append(default_vpc(ec2)["VpcId"])

    threads = [threading.Thread(target=first_use, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == len(clients) and len(set(seen)) == 1
    assert count_rows(cloud, vpcs) == 1
    assert count_rows(cloud, subnets) == 3
    assert count_rows(cloud, security_groups) == 1


def test_concurrent_first_uses_from_separate_clouds_make_one(tmp_path: Path) -> None:
    """Each Cloud has its own connections to the catalog, as separate processes do."""
    home = tmp_path / "home"
    Cloud(home).region(REGION)  # the catalog exists before the race
    clouds = [Cloud(home) for _ in range(4)]
    start = threading.Barrier(len(clouds))
    seen: list[str] = []

    def first_use(cloud: Cloud) -> None:
        start.wait()
        seen.append(default_vpc_attribute(client(cloud)))

    threads = [threading.Thread(target=first_use, args=(c,)) for c in clouds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 1 and seen[0].startswith("vpc-")
    assert count_rows(clouds[0], vpcs) == 1
    for cloud in clouds:
        cloud.close()


def test_a_deleted_default_vpc_stays_deleted_until_create_default_vpc(ec2: Any) -> None:
    assert code_of(ec2.create_default_vpc) == "DefaultVpcAlreadyExists"
    old = delete_default_vpc(ec2)
    assert ec2.describe_vpcs()["Vpcs"] == []
    assert ec2.describe_subnets()["Subnets"] == []
    assert ec2.describe_security_groups()["SecurityGroups"] == []
    assert default_vpc_attribute(ec2) == "none"
    error = error_of(ec2.create_security_group, GroupName="web", Description="web")
    assert (error["Code"], error["Message"]) == (
        "VPCIdNotSpecified",
        "No default VPC for this user",
    )
    made = ec2.create_default_vpc()["Vpc"]
    assert made["IsDefault"] is True and made["VpcId"] != old
    assert made["CidrBlock"] == "172.31.0.0/16"
    assert default_vpc_attribute(ec2) == made["VpcId"]
    assert len(subnets_of(ec2, made["VpcId"])) == 3
    error = error_of(ec2.create_default_vpc)
    assert error["Message"] == "A Default VPC already exists for this account in this region."


def test_concurrent_create_default_vpc_makes_one(cloud: Cloud, ec2: Any) -> None:
    delete_default_vpc(ec2)
    clients = [client(cloud) for _ in range(4)]
    start = threading.Barrier(len(clients))
    codes: list[str] = []

    def create(one: Any) -> None:
        start.wait()
        try:
            one.create_default_vpc()
            codes.append("ok")
        except ClientError as exc:
            codes.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=create, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == ["DefaultVpcAlreadyExists"] * 3 + ["ok"]
    assert count_rows(cloud, vpcs) == 1


def test_describe_account_attributes(ec2: Any) -> None:
    shown = {
        a["AttributeName"]: [v["AttributeValue"] for v in a["AttributeValues"]]
        for a in ec2.describe_account_attributes()["AccountAttributes"]
    }
    assert shown == {
        "vpc-max-security-groups-per-interface": ["5"],
        "max-instances": ["20"],
        "supported-platforms": ["VPC"],
        "default-vpc": [default_vpc(ec2)["VpcId"]],
        "max-elastic-ips": ["5"],
        "vpc-max-elastic-ips": ["5"],
    }
    (platforms,) = ec2.describe_account_attributes(AttributeNames=["supported-platforms"])[
        "AccountAttributes"
    ]
    assert platforms["AttributeValues"] == [{"AttributeValue": "VPC"}]
    assert code_of(ec2.describe_account_attributes, AttributeNames=["x"]) == "InvalidParameterValue"


# --- VPCs ----------------------------------------------------------------------


def test_create_vpc_canonical_block_tags_and_own_default_group(ec2: Any) -> None:
    made = ec2.create_vpc(
        CidrBlock="10.20.30.40/16",
        InstanceTenancy="dedicated",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "lab"}]}],
    )["Vpc"]
    assert (made["CidrBlock"], made["State"], made["IsDefault"]) == (
        "10.20.0.0/16",
        "pending",
        False,
    )
    assert made["Tags"] == [{"Key": "Name", "Value": "lab"}]
    assert re.fullmatch(r"vpc-[0-9a-f]{17}", made["VpcId"])
    ec2.get_waiter("vpc_available").wait(VpcIds=[made["VpcId"]], WaiterConfig={"Delay": 0.1})
    (shown,) = ec2.describe_vpcs(VpcIds=[made["VpcId"]])["Vpcs"]
    assert (shown["InstanceTenancy"], shown["State"]) == ("dedicated", "available")
    assert shown["DhcpOptionsId"] == default_vpc(ec2)["DhcpOptionsId"]
    hostnames = ec2.describe_vpc_attribute(VpcId=made["VpcId"], Attribute="enableDnsHostnames")
    assert hostnames["EnableDnsHostnames"] == {"Value": False}
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [made["VpcId"]]}])[
        "SecurityGroups"
    ]
    assert [(g["GroupName"], g["Description"]) for g in groups] == [
        ("default", "default VPC security group")
    ]


@pytest.mark.parametrize(
    ("cidr", "code"),
    [
        ("10.0.0.0/8", "InvalidVpc.Range"),
        ("10.0.0.0/15", "InvalidVpc.Range"),
        ("10.0.0.0/29", "InvalidVpc.Range"),
        ("10.0.0.0/33", "InvalidParameterValue"),
        ("not-a-block", "InvalidParameterValue"),
        ("2001:db8::/56", "InvalidParameterValue"),
    ],
)
def test_create_vpc_refuses_blocks_ec2_refuses(ec2: Any, cidr: str, code: str) -> None:
    assert code_of(ec2.create_vpc, CidrBlock=cidr) == code


def test_create_vpc_range_message(ec2: Any) -> None:
    error = error_of(ec2.create_vpc, CidrBlock="10.0.0.0/8")
    assert error["Message"] == "The CIDR '10.0.0.0/8' is invalid."


def test_create_vpc_refuses_host_tenancy_and_ipv6(ec2: Any) -> None:
    assert code_of(ec2.create_vpc, CidrBlock="10.0.0.0/16", InstanceTenancy="host") == (
        "InvalidParameterValue"
    )
    assert code_of(ec2.create_vpc, CidrBlock="10.0.0.0/16", AmazonProvidedIpv6CidrBlock=True) == (
        "InvalidParameterValue"
    )
    assert code_of(ec2.create_vpc) == "MissingParameter"


def test_delete_vpc_waits_for_its_subnets_groups_and_instances(cloud: Cloud, ec2: Any) -> None:
    vpc_id = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.1.1.0/24")["Subnet"]
    error = error_of(ec2.delete_vpc, VpcId=vpc_id)
    assert (error["Code"], error["Message"]) == (
        "DependencyViolation",
        f"The vpc '{vpc_id}' has dependencies and cannot be deleted.",
    )
    ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    group_id = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc_id)[
        "GroupId"
    ]
    assert code_of(ec2.delete_vpc, VpcId=vpc_id) == "DependencyViolation"
    ec2.delete_security_group(GroupId=group_id)
    ec2.delete_vpc(VpcId=vpc_id)
    assert code_of(ec2.describe_vpcs, VpcIds=[vpc_id]) == "InvalidVpcID.NotFound"
    assert count_rows(cloud, security_groups, security_groups.c.vpc_id == vpc_id) == 0
    assert code_of(ec2.delete_vpc, VpcId=vpc_id) == "InvalidVpcID.NotFound"


def test_delete_vpc_refused_while_an_instance_is_in_it(cloud: Cloud, ec2: Any) -> None:
    vpc_id = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.1.1.0/24")["Subnet"]
    instance_in(cloud, subnet, "10.1.1.10")
    assert code_of(ec2.delete_subnet, SubnetId=subnet["SubnetId"]) == "DependencyViolation"
    assert code_of(ec2.delete_vpc, VpcId=vpc_id) == "DependencyViolation"


def test_describe_vpcs_by_id_filters_and_pages(ec2: Any) -> None:
    made = [
        ec2.create_vpc(
            CidrBlock=f"10.{n}.0.0/16",
            TagSpecifications=[
                {"ResourceType": "vpc", "Tags": [{"Key": "team", "Value": f"t{n % 2}"}]}
            ],
        )["Vpc"]["VpcId"]
        for n in range(6)
    ]
    error = error_of(ec2.describe_vpcs, VpcIds=[made[0], "vpc-0123456789abcdef0"])
    assert (error["Code"], error["Message"]) == (
        "InvalidVpcID.NotFound",
        "The vpc ID 'vpc-0123456789abcdef0' does not exist",
    )

    def ids(*filters: tuple[str, list[str]]) -> set[str]:
        asked = [{"Name": n, "Values": v} for n, v in filters]
        return {v["VpcId"] for v in ec2.describe_vpcs(Filters=asked)["Vpcs"]}

    assert ids(("cidr", ["10.3.0.0/16"])) == {made[3]}
    assert ids(("cidr-block-association.cidr-block", ["10.4.*"])) == {made[4]}
    assert ids(("is-default", ["false"])) == set(made)
    assert ids(("tag:team", ["t1"])) == {made[1], made[3], made[5]}
    assert ids(("tag-key", ["team"]), ("cidr", ["10.0.0.0/16", "10.2.0.0/16"])) == {
        made[0],
        made[2],
    }
    assert ids(("state", ["available"]), ("owner-id", [ACCOUNT])) == {
        *made,
        default_vpc(ec2)["VpcId"],
    }
    assert ids(("instance-tenancy", ["dedicated"])) == set()
    dhcp = default_vpc(ec2)["DhcpOptionsId"]
    assert len(ids(("dhcp-options-id", [dhcp]))) == 7
    assert code_of(ec2.describe_vpcs, Filters=[{"Name": "nope", "Values": ["x"]}]) == (
        "InvalidParameterValue"
    )
    pages = ec2.get_paginator("describe_vpcs").paginate(PaginationConfig={"PageSize": 5})
    sizes = [len(page["Vpcs"]) for page in pages]
    assert sizes == [5, 2]


def test_modify_vpc_attribute(ec2: Any) -> None:
    vpc_id = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": False})
    assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")[
        "EnableDnsHostnames"
    ] == {"Value": True}
    assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsSupport")[
        "EnableDnsSupport"
    ] == {"Value": False}
    both = {"EnableDnsHostnames": {"Value": True}, "EnableDnsSupport": {"Value": True}}
    assert code_of(ec2.modify_vpc_attribute, VpcId=vpc_id, **both) == "InvalidParameterCombination"
    assert code_of(
        ec2.modify_vpc_attribute, VpcId="vpc-0123456789abcdef0", EnableDnsSupport={"Value": True}
    ) == ("InvalidVpcID.NotFound")


# --- subnets -------------------------------------------------------------------


@pytest.fixture
def vpc_id(ec2: Any) -> str:
    return str(ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"])


def test_create_subnet_in_a_zone_by_name_or_id(ec2: Any, vpc_id: str) -> None:
    by_name = ec2.create_subnet(
        VpcId=vpc_id,
        CidrBlock="10.0.1.7/24",
        AvailabilityZone=f"{REGION}b",
        TagSpecifications=[{"ResourceType": "subnet", "Tags": [{"Key": "tier", "Value": "web"}]}],
    )["Subnet"]
    assert (by_name["CidrBlock"], by_name["AvailabilityZone"], by_name["AvailabilityZoneId"]) == (
        "10.0.1.0/24",
        f"{REGION}b",
        "apse2-az2",
    )
    assert (by_name["AvailableIpAddressCount"], by_name["DefaultForAz"]) == (251, False)
    assert by_name["Tags"] == [{"Key": "tier", "Value": "web"}]
    by_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.2.0/28", AvailabilityZoneId="apse2-az3")
    assert by_id["Subnet"]["AvailabilityZone"] == f"{REGION}c"
    assert by_id["Subnet"]["AvailableIpAddressCount"] == 11


def test_create_subnet_picks_the_zone_with_fewest_subnets(ec2: Any, vpc_id: str) -> None:
    zones = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.0.{n}.0/24")["Subnet"]["AvailabilityZone"]
        for n in range(4)
    ]
    assert zones == [f"{REGION}a", f"{REGION}b", f"{REGION}c", f"{REGION}a"]


@pytest.mark.parametrize(
    ("cidr", "code"),
    [
        ("10.1.0.0/24", "InvalidSubnet.Range"),  # outside the VPC
        ("10.0.0.0/29", "InvalidSubnet.Range"),
        ("10.0.0.0/15", "InvalidSubnet.Range"),
        ("10.0.0.0/16", "InvalidSubnet.Conflict"),  # the whole VPC overlaps the existing one
        ("10.0.5.128/25", "InvalidSubnet.Conflict"),
        ("10.0.999.0/24", "InvalidParameterValue"),
    ],
)
def test_create_subnet_refuses_blocks_outside_or_overlapping(
    ec2: Any, vpc_id: str, cidr: str, code: str
) -> None:
    ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.5.0/24")
    assert code_of(ec2.create_subnet, VpcId=vpc_id, CidrBlock=cidr) == code


def test_create_subnet_messages_and_other_errors(ec2: Any, vpc_id: str) -> None:
    ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.5.0/24")
    conflict = error_of(ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.0.5.0/26")
    assert conflict["Message"] == "The CIDR '10.0.5.0/26' conflicts with another subnet"
    outside = error_of(ec2.create_subnet, VpcId=vpc_id, CidrBlock="192.168.0.0/24")
    assert outside["Message"] == "The CIDR '192.168.0.0/24' is invalid."
    zone = error_of(ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.0.6.0/24", AvailabilityZone="x")
    assert zone["Message"] == (
        "Value (x) for parameter availabilityZone is invalid. Subnets can currently only be "
        f"created in the following availability zones: {', '.join(ZONES)}."
    )
    assert code_of(
        ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.0.6.0/24", AvailabilityZoneId="use1-az1"
    ) == ("InvalidParameterValue")
    missing = "vpc-0123456789abcdef0"
    assert code_of(ec2.create_subnet, VpcId=missing, CidrBlock="10.0.6.0/24") == (
        "InvalidVpcID.NotFound"
    )


def test_delete_subnet_waits_for_instances_not_terminated(
    cloud: Cloud, ec2: Any, vpc_id: str
) -> None:
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24")["Subnet"]
    instance_in(cloud, subnet, "10.0.1.20", state="terminated")
    live = instance_in(cloud, subnet, "10.0.1.21", state="stopped")
    error = error_of(ec2.delete_subnet, SubnetId=subnet["SubnetId"])
    assert (error["Code"], error["Message"]) == (
        "DependencyViolation",
        f"The subnet '{subnet['SubnetId']}' has dependencies and cannot be deleted.",
    )
    with cloud.region(REGION).catalog.begin() as conn:
        conn.execute(
            instances.update().where(instances.c.instance_id == live).values(state="terminated")
        )
    ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    assert code_of(ec2.describe_subnets, SubnetIds=[subnet["SubnetId"]]) == (
        "InvalidSubnetID.NotFound"
    )
    assert code_of(ec2.delete_subnet, SubnetId=subnet["SubnetId"]) == "InvalidSubnetID.NotFound"


def test_available_addresses_count_what_live_instances_hold(
    cloud: Cloud, ec2: Any, vpc_id: str
) -> None:
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/28")["Subnet"]
    instance_in(cloud, subnet, "10.0.1.4")
    instance_in(cloud, subnet, "10.0.1.5", state="running")
    instance_in(cloud, subnet, "10.0.1.6", state="terminated")
    (shown,) = ec2.describe_subnets(SubnetIds=[subnet["SubnetId"]])["Subnets"]
    assert shown["AvailableIpAddressCount"] == 16 - 5 - 2


def test_describe_subnets_filters_and_pages(ec2: Any, vpc_id: str) -> None:
    made = [
        ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{REGION}{'ab'[n % 2]}"
        )["Subnet"]["SubnetId"]
        for n in range(5)
    ]
    ec2.create_tags(Resources=[made[2]], Tags=[{"Key": "tier", "Value": "db"}])

    def ids(name: str, *values: str) -> set[str]:
        asked = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": name, "Values": list(values)}]
        return {s["SubnetId"] for s in ec2.describe_subnets(Filters=asked)["Subnets"]}

    assert ids("availability-zone", f"{REGION}b") == {made[1], made[3]}
    assert ids("availabilityZone", f"{REGION}b") == {made[1], made[3]}
    assert ids("availability-zone-id", "apse2-az1") == {made[0], made[2], made[4]}
    assert ids("cidr-block", "10.0.3.0/24") == {made[3]}
    assert ids("cidr", "10.0.4.0/24") == {made[4]}
    assert ids("default-for-az", "false") == set(made)
    assert ids("state", "available") == set(made)
    assert ids("owner-id", ACCOUNT) == set(made)
    assert ids("map-public-ip-on-launch", "true") == set()
    assert ids("subnet-id", made[0], made[1]) == {made[0], made[1]}
    assert ids("tag:tier", "db") == {made[2]}
    assert ids("tag-key", "tier") == {made[2]}
    defaults = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])
    assert {s["CidrBlock"] for s in defaults["Subnets"]} == {
        "172.31.0.0/20",
        "172.31.16.0/20",
        "172.31.32.0/20",
    }
    pages = ec2.get_paginator("describe_subnets").paginate(PaginationConfig={"PageSize": 5})
    assert [len(page["Subnets"]) for page in pages] == [5, 3]


def test_modify_subnet_attribute_map_public_ip(ec2: Any, vpc_id: str) -> None:
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})
    (shown,) = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"]
    assert shown["MapPublicIpOnLaunch"] is True
    ec2.modify_subnet_attribute(SubnetId=subnet_id, AssignIpv6AddressOnCreation={"Value": False})
    assert code_of(
        ec2.modify_subnet_attribute,
        SubnetId=subnet_id,
        AssignIpv6AddressOnCreation={"Value": True},
    ) == ("InvalidParameterValue")


# --- other accounts ----------------------------------------------------------------


def test_another_account_sees_and_uses_none_of_this_accounts_network(
    cloud: Cloud, ec2: Any, other: Any, vpc_id: str
) -> None:
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    mine = {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]}
    theirs = other.describe_vpcs()["Vpcs"]
    assert [v["OwnerId"] for v in theirs] == [OTHER]
    assert theirs[0]["IsDefault"] is True and theirs[0]["VpcId"] not in mine
    assert all(s["OwnerId"] == OTHER for s in other.describe_subnets()["Subnets"])
    assert code_of(other.describe_vpcs, VpcIds=[vpc_id]) == "InvalidVpcID.NotFound"
    assert code_of(other.describe_subnets, SubnetIds=[subnet_id]) == "InvalidSubnetID.NotFound"
    assert code_of(other.create_subnet, VpcId=vpc_id, CidrBlock="10.0.2.0/24") == (
        "InvalidVpcID.NotFound"
    )
    assert code_of(other.delete_subnet, SubnetId=subnet_id) == "InvalidSubnetID.NotFound"
    assert code_of(other.delete_vpc, VpcId=vpc_id) == "InvalidVpcID.NotFound"
    assert code_of(other.modify_vpc_attribute, VpcId=vpc_id, EnableDnsSupport={"Value": False}) == (
        "InvalidVpcID.NotFound"
    )
    assert code_of(other.create_tags, Resources=[vpc_id], Tags=[{"Key": "k", "Value": "v"}]) == (
        "InvalidVpcID.NotFound"
    )
    with cloud.region(REGION).catalog.begin() as conn, pytest.raises(ApiError) as caught:
        launch_subnet(conn, OTHER, REGION, subnet_id, None, datetime.now(UTC))
    assert caught.value.code == "InvalidSubnetID.NotFound"


# --- the subnet a launch goes into --------------------------------------------------


def launch(cloud: Cloud, subnet_id: str | None, zone: str | None) -> Any:
    with cloud.region(REGION).catalog.begin() as conn:
        return launch_subnet(conn, ACCOUNT, REGION, subnet_id, zone, datetime.now(UTC))


def launch_error(cloud: Cloud, subnet_id: str | None, zone: str | None) -> ApiError:
    with pytest.raises(ApiError) as caught:
        launch(cloud, subnet_id, zone)
    return caught.value


def test_launch_subnet_is_the_one_asked(cloud: Cloud, ec2: Any, vpc_id: str) -> None:
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24", AvailabilityZone=f"{REGION}b")
    subnet_id = subnet["Subnet"]["SubnetId"]
    assert launch(cloud, subnet_id, None).subnet_id == subnet_id
    assert launch(cloud, subnet_id, f"{REGION}b").subnet_id == subnet_id
    error = launch_error(cloud, subnet_id, f"{REGION}a")
    assert (error.code, error.message) == (
        "InvalidParameterValue",
        f"Value ({REGION}a) for parameter availabilityZone is invalid. "
        f"Subnet '{subnet_id}' is in the availability zone {REGION}b",
    )
    assert launch_error(cloud, "subnet-0123456789abcdef0", None).code == "InvalidSubnetID.NotFound"


def test_launch_subnet_defaults_to_the_default_vpc_made_on_first_use(cloud: Cloud) -> None:
    first = launch(cloud, None, None)  # the very first use of the network
    assert (first.zone, first.cidr_block, first.default_for_az) == (
        f"{REGION}a",
        "172.31.0.0/20",
        True,
    )
    assert launch(cloud, None, f"{REGION}c").cidr_block == "172.31.32.0/20"
    assert count_rows(cloud, vpcs) == 1


def test_launch_subnet_without_default_subnet_or_vpc(cloud: Cloud, ec2: Any) -> None:
    found = {s["AvailabilityZone"]: s for s in subnets_of(ec2, default_vpc(ec2)["VpcId"])}
    ec2.delete_subnet(SubnetId=found[f"{REGION}b"]["SubnetId"])
    assert launch_error(cloud, None, f"{REGION}b").code == "MissingInput"
    assert launch(cloud, None, None).zone == f"{REGION}a"
    delete_default_vpc(ec2)
    error = launch_error(cloud, None, None)
    assert (error.code, error.message) == ("VPCIdNotSpecified", "No default VPC for this user")


# --- addresses ---------------------------------------------------------------------------


def small_subnet(cloud: Cloud, ec2: Any, vpc_id: str, cidr: str = "10.0.9.0/28") -> Any:
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr)["Subnet"]["SubnetId"]
    with cloud.region(REGION).catalog.connect() as conn:
        return conn.execute(select(subnets).where(subnets.c.subnet_id == subnet_id)).one()


def allocate(cloud: Cloud, subnet: Any, wanted: str | None, taken: Collection[str] = ()) -> str:
    with cloud.region(REGION).catalog.begin() as conn:
        return addresses.allocate(conn, subnet, wanted, taken.__contains__)


def allocate_error(
    cloud: Cloud, subnet: Any, wanted: str | None, taken: Collection[str] = ()
) -> ApiError:
    with pytest.raises(ApiError) as caught:
        allocate(cloud, subnet, wanted, taken)
    return caught.value


def test_allocate_the_address_asked_if_it_is_free(cloud: Cloud, ec2: Any, vpc_id: str) -> None:
    subnet = small_subnet(cloud, ec2, vpc_id)
    assert allocate(cloud, subnet, "10.0.9.4") == "10.0.9.4"
    assert allocate(cloud, subnet, "10.0.9.14") == "10.0.9.14"
    for reserved in ("10.0.9.0", "10.0.9.1", "10.0.9.2", "10.0.9.3", "10.0.9.15"):
        error = allocate_error(cloud, subnet, reserved)
        assert (error.code, error.message) == (
            "InvalidParameterValue",
            "Address is in subnet's reserved address range",
        )
    outside = allocate_error(cloud, subnet, "10.0.10.4")
    assert outside.message == "Address does not fall within the subnet's address range"
    assert allocate_error(cloud, subnet, "nonsense").code == "InvalidParameterValue"
    instance_in(cloud, ec2.describe_subnets(SubnetIds=[subnet.subnet_id])["Subnets"][0], "10.0.9.7")
    used = allocate_error(cloud, subnet, "10.0.9.7")
    assert (used.code, used.message) == ("InvalidIPAddress.InUse", "Address 10.0.9.7 is in use.")
    assert allocate_error(cloud, subnet, "10.0.9.8", {"10.0.9.8"}).code == "InvalidIPAddress.InUse"


def test_allocate_fails_when_the_subnet_is_full(cloud: Cloud, ec2: Any, vpc_id: str) -> None:
    subnet = small_subnet(cloud, ec2, vpc_id)
    shown = ec2.describe_subnets(SubnetIds=[subnet.subnet_id])["Subnets"][0]
    for last in range(4, 13):
        instance_in(cloud, shown, f"10.0.9.{last}")
    taken = {"10.0.9.13"}
    assert allocate(cloud, subnet, None, taken) == "10.0.9.14"  # the one free address
    instance_in(cloud, shown, "10.0.9.14")
    error = allocate_error(cloud, subnet, None, taken)
    assert error.code == "InsufficientFreeAddressesInSubnet"
    assert subnet.subnet_id in error.message


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    held=st.sets(st.integers(0, 15), max_size=16),
    taken=st.sets(st.integers(0, 15), max_size=16),
)
def test_allocate_never_returns_a_reserved_held_or_taken_address(
    cloud: Cloud, ec2: Any, vpc_id: str, held: set[int], taken: set[int]
) -> None:
    """Each example has a /28 subnet of its own: 16 addresses, 5 reserved."""
    known = len(ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"])
    block = list(IPv4Network("10.0.0.0/16").subnets(new_prefix=28))[known]
    subnet = small_subnet(cloud, ec2, vpc_id, str(block))
    shown = ec2.describe_subnets(SubnetIds=[subnet.subnet_id])["Subnets"][0]
    for n in held:
        instance_in(cloud, shown, str(block[n]))
    free = set(range(4, 15)) - held - taken
    try:
        address = allocate(cloud, subnet, None, {str(block[n]) for n in taken})
    except ApiError as exc:
        assert not free and exc.code == "InsufficientFreeAddressesInSubnet"
    else:
        assert int(IPv4Address(address)) - int(block.network_address) in free


def test_allocate_picks_at_random_in_a_large_subnet(cloud: Cloud, ec2: Any, vpc_id: str) -> None:
    subnet = small_subnet(cloud, ec2, vpc_id, "10.0.128.0/20")
    picked = {allocate(cloud, subnet, None) for _ in range(20)}
    assert len(picked) > 1
    block = IPv4Network("10.0.128.0/20")
    assert all(IPv4Address(a) in block for a in picked)


def test_mac_addresses_look_like_ec2s() -> None:
    macs = {addresses.mac_address() for _ in range(200)}
    assert len(macs) == 200
    for mac in macs:
        assert re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac)
        assert int(mac[:2], 16) & 0b11 == 0b10  # unicast, locally administered
