"""Security groups and their rules through real boto3 clients: create,
describe (rules grouped as EC2 groups them), authorize, revoke, modify,
delete, another account's view; and `launch_groups`, the groups RunInstances
gives an instance, called directly.

An instance that has a group is a row written into the catalog (launching
needs the instance sandbox): see `instance_in`."""

from pathlib import Path
from typing import Any

import pytest
from test_api_vpcs import ACCOUNT, REGION, default_vpc, delete_default_vpc, instance_in

import amiable
from amiable.catalog.regional import instances
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Cloud
from amiable.cloud.network.security_groups import launch_groups
from api_helpers import OTHER, cloud_with_other_account, code_of, error_of

SSH = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22}


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return cloud_with_other_account(tmp_path / "home")


@pytest.fixture
def ec2(cloud: Cloud) -> Any:
    return amiable.Session(cloud=cloud, region=REGION).client("ec2")


@pytest.fixture
def other(cloud: Cloud) -> Any:
    return amiable.Session(cloud=cloud, account=OTHER, region=REGION).client("ec2")


@pytest.fixture
def vpc_id(ec2: Any) -> str:
    return str(ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"])


def new_group(ec2: Any, name: str, vpc_id: str | None = None, **extra: Any) -> str:
    place = {"VpcId": vpc_id} if vpc_id else {}
    made = ec2.create_security_group(GroupName=name, Description=f"{name} group", **place, **extra)
    return str(made["GroupId"])


def group(ec2: Any, group_id: str) -> dict[str, Any]:
    (found,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    return dict(found)


def default_group_of(ec2: Any, vpc_id: str) -> str:
    filters = [
        {"Name": "vpc-id", "Values": [vpc_id]},
        {"Name": "group-name", "Values": ["default"]},
    ]
    (found,) = ec2.describe_security_groups(Filters=filters)["SecurityGroups"]
    return str(found["GroupId"])


def rules_of(ec2: Any, group_id: str) -> list[dict[str, Any]]:
    filters = [{"Name": "group-id", "Values": [group_id]}]
    return list(ec2.describe_security_group_rules(Filters=filters)["SecurityGroupRules"])


def permission(
    protocol: str, low: int | None = None, high: int | None = None, **peers: Any
) -> dict[str, Any]:
    """An IpPermission as DescribeSecurityGroups shows it."""
    ports = {} if low is None else {"FromPort": low, "ToPort": high}
    lists = {"IpRanges": [], "Ipv6Ranges": [], "UserIdGroupPairs": [], "PrefixListIds": []}
    return {"IpProtocol": protocol, **ports, **lists, **peers}


ALL_OUT = [permission("-1", IpRanges=[{"CidrIp": "0.0.0.0/0"}])]


# --- groups ----------------------------------------------------------------------------


def test_the_default_group_admits_its_members_and_cannot_be_deleted(ec2: Any) -> None:
    (default,) = ec2.describe_security_groups()["SecurityGroups"]
    group_id = default["GroupId"]
    assert (default["GroupName"], default["Description"], default["OwnerId"]) == (
        "default",
        "default VPC security group",
        ACCOUNT,
    )
    assert default["IpPermissions"] == [
        permission("-1", UserIdGroupPairs=[{"UserId": ACCOUNT, "GroupId": group_id}])
    ]
    assert default["IpPermissionsEgress"] == ALL_OUT
    error = error_of(ec2.delete_security_group, GroupId=group_id)
    assert (error["Code"], error["Message"]) == (
        "CannotDelete",
        f'the specified group: "{group_id}" name: "default" cannot be deleted by a user',
    )
    assert code_of(ec2.delete_security_group, GroupName="default") == "CannotDelete"


def test_create_security_group_in_the_default_vpc_or_one_named(ec2: Any, vpc_id: str) -> None:
    made = ec2.create_security_group(
        GroupName="web",
        Description="Web servers: 80, 443 (public) [prod] #1",
        TagSpecifications=[
            {"ResourceType": "security-group", "Tags": [{"Key": "env", "Value": "prod"}]}
        ],
    )
    assert made["Tags"] == [{"Key": "env", "Value": "prod"}]
    assert made["SecurityGroupArn"] == (
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{made['GroupId']}"
    )
    shown = group(ec2, made["GroupId"])
    assert shown["VpcId"] == default_vpc(ec2)["VpcId"]
    assert (shown["IpPermissions"], shown["IpPermissionsEgress"]) == ([], ALL_OUT)
    assert shown["Tags"] == [{"Key": "env", "Value": "prod"}]
    same_name = new_group(ec2, "web", vpc_id)  # names are unique per VPC
    assert group(ec2, same_name)["VpcId"] == vpc_id


@pytest.mark.parametrize(
    ("name", "description", "code"),
    [
        ("default", "x", "InvalidGroup.Reserved"),
        ("sg-web", "x", "InvalidParameterValue"),
        ("web<script>", "x", "InvalidParameterValue"),
        ("w" * 256, "x", "InvalidParameterValue"),
        ("web", "naïve", "InvalidParameterValue"),
        ("web", "", "MissingParameter"),
        ("", "x", "MissingParameter"),
    ],
)
def test_create_security_group_refuses_names_and_descriptions_ec2_refuses(
    ec2: Any, name: str, description: str, code: str
) -> None:
    assert code_of(ec2.create_security_group, GroupName=name, Description=description) == code


def test_create_security_group_errors(ec2: Any, vpc_id: str) -> None:
    new_group(ec2, "web", vpc_id)
    error = error_of(ec2.create_security_group, GroupName="WEB", Description="x", VpcId=vpc_id)
    assert (error["Code"], error["Message"]) == (
        "InvalidGroup.Duplicate",
        f"The security group 'WEB' already exists for VPC '{vpc_id}'",
    )
    prefixed = error_of(ec2.create_security_group, GroupName="sg-1", Description="x")
    assert prefixed["Message"] == (
        "Value (sg-1) for parameter GroupName is invalid. "
        "Group names may not be in the format sg-*."
    )
    missing = "vpc-0123456789abcdef0"
    assert code_of(ec2.create_security_group, GroupName="a", Description="a", VpcId=missing) == (
        "InvalidVpcID.NotFound"
    )


def test_delete_security_group_by_id_or_by_name_in_the_default_vpc(ec2: Any, vpc_id: str) -> None:
    by_id = new_group(ec2, "a", vpc_id)
    answer = ec2.delete_security_group(GroupId=by_id)
    assert (answer["Return"], answer["GroupId"]) == (True, by_id)
    by_name = new_group(ec2, "b")
    ec2.delete_security_group(GroupName="b")
    for gone in (by_id, by_name):
        error = error_of(ec2.describe_security_groups, GroupIds=[gone])
        assert (error["Code"], error["Message"]) == (
            "InvalidGroup.NotFound",
            f"The security group '{gone}' does not exist",
        )
    new_group(ec2, "c", vpc_id)
    error = error_of(ec2.delete_security_group, GroupName="c")  # not in the default VPC
    assert (error["Code"], error["Message"]) == (
        "InvalidGroup.NotFound",
        f"The security group 'c' does not exist in default VPC '{default_vpc(ec2)['VpcId']}'",
    )
    assert code_of(ec2.delete_security_group) == "MissingParameter"


def test_delete_security_group_while_used(cloud: Cloud, ec2: Any, vpc_id: str) -> None:
    used, named = new_group(ec2, "used", vpc_id), new_group(ec2, "named", vpc_id)
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24")["Subnet"]
    instance_in(cloud, subnet, "10.0.1.9", state="terminated", group_ids=(used,))
    live = instance_in(cloud, subnet, "10.0.1.10", state="stopped", group_ids=(used,))
    error = error_of(ec2.delete_security_group, GroupId=used)
    assert (error["Code"], error["Message"]) == (
        "DependencyViolation",
        f"resource {used} has a dependent object",
    )
    ec2.authorize_security_group_ingress(
        GroupId=used, IpPermissions=[{**SSH, "UserIdGroupPairs": [{"GroupId": named}]}]
    )
    assert code_of(ec2.delete_security_group, GroupId=named) == "DependencyViolation"
    ec2.authorize_security_group_ingress(
        GroupId=named, IpPermissions=[{**SSH, "UserIdGroupPairs": [{"GroupId": named}]}]
    )
    with cloud.region(REGION).catalog.begin() as conn:
        conn.execute(
            instances.update().where(instances.c.instance_id == live).values(state="terminated")
        )
    ec2.delete_security_group(GroupId=used)  # its rule naming `named` goes with it
    ec2.delete_security_group(GroupId=named)  # a rule naming itself is no dependency


def test_describe_security_groups_by_name_filters_and_pages(ec2: Any, vpc_id: str) -> None:
    web, db = new_group(ec2, "web"), new_group(ec2, "db")
    other_vpc = new_group(ec2, "batch", vpc_id)
    ec2.create_tags(Resources=[db], Tags=[{"Key": "tier", "Value": "data"}])
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {**SSH, "IpRanges": [{"CidrIp": "203.0.113.0/24"}]},
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            },
        ],
    )
    ec2.authorize_security_group_ingress(
        GroupId=db,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": web}],
            }
        ],
    )
    ec2.authorize_security_group_egress(
        GroupId=db,
        IpPermissions=[
            {
                "IpProtocol": "udp",
                "FromPort": 53,
                "ToPort": 53,
                "IpRanges": [{"CidrIp": "10.0.0.2/32"}],
            }
        ],
    )
    named = ec2.describe_security_groups(GroupNames=["web", "db"])["SecurityGroups"]
    assert {g["GroupId"] for g in named} == {web, db}
    error = error_of(ec2.describe_security_groups, GroupNames=["batch"])
    assert error["Code"] == "InvalidGroup.NotFound"  # only the default VPC's groups by name
    malformed = error_of(ec2.describe_security_groups, GroupIds=["web"])
    assert (malformed["Code"], malformed["Message"]) == (
        "InvalidGroupId.Malformed",
        'Invalid id: "web" (expecting "sg-...")',
    )

    def ids(name: str, *values: str) -> set[str]:
        asked = [{"Name": name, "Values": list(values)}]
        return {g["GroupId"] for g in ec2.describe_security_groups(Filters=asked)["SecurityGroups"]}

    assert ids("group-name", "web", "batch") == {web, other_vpc}
    assert ids("vpc-id", vpc_id) == {other_vpc, default_group_of(ec2, vpc_id)}
    assert ids("description", "db *") == {db}
    assert ids("ip-permission.from-port", "22") == {web}
    assert ids("ip-permission.to-port", "5432") == {db}
    assert ids("ip-permission.protocol", "tcp") == {web, db}
    assert ids("ip-permission.cidr", "203.0.113.0/24") == {web}
    assert ids("ip-permission.ipv6-cidr", "::/0") == {web}
    assert ids("ip-permission.group-id", web) == {db}
    assert ids("ip-permission.user-id", ACCOUNT) >= {db}
    assert ids("egress.ip-permission.protocol", "udp") == {db}
    assert ids("egress.ip-permission.cidr", "10.0.0.2/32") == {db}
    assert ids("tag:tier", "data") == {db}
    assert ids("tag-key", "tier") == {db}
    assert ids("owner-id", ACCOUNT) == ids("group-id", "sg-*")
    pages = ec2.get_paginator("describe_security_groups").paginate(PaginationConfig={"PageSize": 5})
    assert [len(page["SecurityGroups"]) for page in pages] == [5]  # 2 defaults and 3 made
    assert len(ec2.describe_security_groups(MaxResults=5)["SecurityGroups"]) == 5


# --- rules: authorize and describe --------------------------------------------------


def test_permissions_are_grouped_by_protocol_and_ports(ec2: Any, vpc_id: str) -> None:
    web, app = new_group(ec2, "web", vpc_id), new_group(ec2, "app", vpc_id)
    answer = ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {**SSH, "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "office"}]},
            {
                **SSH,
                "IpRanges": [{"CidrIp": "192.0.2.7/24"}],
                "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}],
            },
            {**SSH, "UserIdGroupPairs": [{"GroupId": app, "Description": "from app"}]},
            {
                "IpProtocol": "icmp",
                "FromPort": 8,
                "ToPort": -1,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            },
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": web}]},
        ],
    )
    assert answer["Return"] is True
    assert len(answer["SecurityGroupRules"]) == 6
    assert group(ec2, web)["IpPermissions"] == [
        permission(
            "tcp",
            22,
            22,
            IpRanges=[
                {"CidrIp": "10.0.0.0/8", "Description": "office"},
                {"CidrIp": "192.0.2.0/24"},
            ],
            Ipv6Ranges=[{"CidrIpv6": "2001:db8::/32"}],
            UserIdGroupPairs=[{"UserId": ACCOUNT, "GroupId": app, "Description": "from app"}],
        ),
        permission("icmp", 8, -1, IpRanges=[{"CidrIp": "0.0.0.0/0"}]),
        permission("-1", UserIdGroupPairs=[{"UserId": ACCOUNT, "GroupId": web}]),
    ]


def test_authorize_answers_the_new_rules_and_describe_rules_shows_them(
    ec2: Any, vpc_id: str
) -> None:
    web = new_group(ec2, "web", vpc_id)
    made = ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[{**SSH, "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "office"}]}],
        TagSpecifications=[
            {"ResourceType": "security-group-rule", "Tags": [{"Key": "why", "Value": "ssh"}]}
        ],
    )["SecurityGroupRules"]
    (rule,) = made
    assert rule["SecurityGroupRuleId"].startswith("sgr-")
    expected = {
        "SecurityGroupRuleId": rule["SecurityGroupRuleId"],
        "GroupId": web,
        "GroupOwnerId": ACCOUNT,
        "IsEgress": False,
        "IpProtocol": "tcp",
        "FromPort": 22,
        "ToPort": 22,
        "CidrIpv4": "10.0.0.0/8",
        "Description": "office",
        "Tags": [{"Key": "why", "Value": "ssh"}],
        "SecurityGroupRuleArn": (
            f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group-rule/{rule['SecurityGroupRuleId']}"
        ),
    }
    assert rule == expected
    shown = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule["SecurityGroupRuleId"]])
    assert shown["SecurityGroupRules"] == [expected]
    by_tag = ec2.describe_security_group_rules(Filters=[{"Name": "tag:why", "Values": ["ssh"]}])
    assert [r["SecurityGroupRuleId"] for r in by_tag["SecurityGroupRules"]] == [
        rule["SecurityGroupRuleId"]
    ]
    (egress,) = [r for r in rules_of(ec2, web) if r["IsEgress"]]
    assert (egress["IpProtocol"], egress["FromPort"], egress["CidrIpv4"]) == ("-1", -1, "0.0.0.0/0")
    missing = error_of(
        ec2.describe_security_group_rules, SecurityGroupRuleIds=["sgr-0123456789abcdef0"]
    )
    assert missing["Code"] == "InvalidSecurityGroupRuleId.NotFound"


def test_describe_security_group_rules_pages(ec2: Any, vpc_id: str) -> None:
    web = new_group(ec2, "web", vpc_id)
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": p,
                "ToPort": p,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            }
            for p in range(1000, 1006)
        ],
    )
    filters = [{"Name": "group-id", "Values": [web]}]
    pages = ec2.get_paginator("describe_security_group_rules").paginate(
        Filters=filters, PaginationConfig={"PageSize": 5}
    )
    assert [len(page["SecurityGroupRules"]) for page in pages] == [5, 2]


def test_protocol_names_and_numbers(ec2: Any, vpc_id: str) -> None:
    web = new_group(ec2, "web", vpc_id)
    anywhere = [{"CidrIp": "0.0.0.0/0"}]
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {"IpProtocol": "6", "FromPort": 80, "ToPort": 80, "IpRanges": anywhere},
            {"IpProtocol": "UDP", "FromPort": 53, "ToPort": 53, "IpRanges": anywhere},
            {"IpProtocol": "50", "FromPort": 1, "ToPort": 2, "IpRanges": anywhere},
            {"IpProtocol": "icmpv6", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
        ],
    )
    shown = {
        (p["IpProtocol"], p.get("FromPort"), p.get("ToPort"))
        for p in group(ec2, web)["IpPermissions"]
    }
    assert shown == {("tcp", 80, 80), ("udp", 53, 53), ("50", None, None), ("icmpv6", -1, -1)}
    assert (
        code_of(
            ec2.authorize_security_group_ingress,
            GroupId=web,
            IpPermissions=[{"IpProtocol": "gre", "IpRanges": anywhere}],
        )
        == "InvalidParameterValue"
    )


@pytest.mark.parametrize(
    ("asked", "code", "message"),
    [
        (
            {"IpProtocol": "tcp"},
            "InvalidParameterValue",
            "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange.",
        ),
        (
            {"IpProtocol": "tcp", "ToPort": 22},
            "InvalidPermission.Malformed",
            "TCP/UDP port (-1) out of range",
        ),
        (
            {"IpProtocol": "udp", "FromPort": 0, "ToPort": 65536},
            "InvalidPermission.Malformed",
            "TCP/UDP port (65536) out of range",
        ),
        ({"IpProtocol": "tcp", "FromPort": 90, "ToPort": 80}, "InvalidParameterValue", None),
        (
            {"IpProtocol": "icmp"},
            "InvalidParameterValue",
            "Invalid value 'Must specify both from and to ports with ICMP.' for portRange.",
        ),
        (
            {"IpProtocol": "icmp", "FromPort": 0, "ToPort": 65535},
            "InvalidParameterValue",
            "ICMP code (65535) out of range",
        ),
        (
            {"IpProtocol": "icmp", "FromPort": 300, "ToPort": 0},
            "InvalidParameterValue",
            "ICMP type (300) out of range",
        ),
        ({"IpProtocol": "icmp", "FromPort": -1, "ToPort": 3}, "InvalidParameterValue", None),
    ],
)
def test_ports_are_checked_as_ec2_checks_them(
    ec2: Any, vpc_id: str, asked: dict[str, Any], code: str, message: str | None
) -> None:
    web = new_group(ec2, "web", vpc_id)
    error = error_of(
        ec2.authorize_security_group_ingress,
        GroupId=web,
        IpPermissions=[{**asked, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
    )
    assert error["Code"] == code
    if message is not None:
        assert error["Message"] == message


def test_duplicate_rules_are_refused(ec2: Any, vpc_id: str) -> None:
    web, app = new_group(ec2, "web", vpc_id), new_group(ec2, "app", vpc_id)
    ssh_from = {**SSH, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[ssh_from])
    again = {**SSH, "IpRanges": [{"CidrIp": "10.1.2.3/8", "Description": "other words"}]}
    error = error_of(ec2.authorize_security_group_ingress, GroupId=web, IpPermissions=[again])
    assert (error["Code"], error["Message"]) == (
        "InvalidPermission.Duplicate",
        'the specified rule "peer: 10.0.0.0/8, TCP, from port: 22, to port: 22, ALLOW" '
        "already exists",
    )
    error = error_of(
        ec2.authorize_security_group_egress,
        GroupId=web,
        IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    assert error["Message"] == 'the specified rule "peer: 0.0.0.0/0, ALL, ALLOW" already exists'
    pair = {**SSH, "UserIdGroupPairs": [{"GroupId": app}]}
    error = error_of(ec2.authorize_security_group_ingress, GroupId=web, IpPermissions=[pair, pair])
    assert (error["Code"], error["Message"]) == (
        "InvalidParameterValue",
        "The same permission must not appear multiple times",
    )
    assert len(rules_of(ec2, web)) == 2  # nothing of a refused request was added
    ec2.authorize_security_group_egress(GroupId=web, IpPermissions=[ssh_from])  # other direction


def test_the_old_flat_parameters_of_authorize_ingress(ec2: Any) -> None:
    web, app = new_group(ec2, "web"), new_group(ec2, "app")
    ec2.authorize_security_group_ingress(
        GroupName="web", IpProtocol="tcp", FromPort=80, ToPort=80, CidrIp="0.0.0.0/0"
    )
    ec2.authorize_security_group_ingress(GroupId=web, SourceSecurityGroupName="app")
    shown = {
        (p["IpProtocol"], p["FromPort"], p["ToPort"]): p for p in group(ec2, web)["IpPermissions"]
    }
    assert shown[("tcp", 80, 80)]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    pair = [{"UserId": ACCOUNT, "GroupId": app}]
    assert shown[("tcp", 0, 65535)]["UserIdGroupPairs"] == pair
    assert shown[("udp", 0, 65535)]["UserIdGroupPairs"] == pair
    assert shown[("icmp", -1, -1)]["UserIdGroupPairs"] == pair
    assert (
        code_of(
            ec2.authorize_security_group_ingress,
            GroupId=web,
            SourceSecurityGroupName="app",
            CidrIp="10.0.0.0/8",
        )
        == "InvalidParameterCombination"
    )
    assert (
        code_of(
            ec2.authorize_security_group_egress, GroupId=web, CidrIp="10.0.0.0/8", IpProtocol="-1"
        )
        == "InvalidParameterCombination"
    )
    assert code_of(ec2.authorize_security_group_ingress, GroupId=web) == "MissingParameter"


def test_peers_are_checked(ec2: Any, other: Any, vpc_id: str) -> None:
    web = new_group(ec2, "web", vpc_id)
    elsewhere = new_group(ec2, "elsewhere")  # the default VPC
    theirs = other.create_security_group(GroupName="x", Description="x")["GroupId"]

    def code(**peers: Any) -> str:
        return code_of(
            ec2.authorize_security_group_ingress, GroupId=web, IpPermissions=[{**SSH, **peers}]
        )

    error = error_of(
        ec2.authorize_security_group_ingress,
        GroupId=web,
        IpPermissions=[{**SSH, "UserIdGroupPairs": [{"GroupId": elsewhere}]}],
    )
    assert (error["Code"], error["Message"]) == (
        "InvalidParameter",
        "You have specified two resources that belong to different networks.",
    )
    assert code(UserIdGroupPairs=[{"GroupId": theirs}]) == "InvalidGroup.NotFound"
    assert code(UserIdGroupPairs=[{"GroupId": theirs, "UserId": OTHER}]) == "InvalidParameterValue"
    assert code(UserIdGroupPairs=[{"GroupId": "sg-0123456789abcdef0"}]) == "InvalidGroup.NotFound"
    assert code(IpRanges=[{"CidrIp": "10.0.0.300/8"}]) == "InvalidParameterValue"
    assert (
        code(IpRanges=[{"CidrIp": "10.0.0.0/8", "Description": "<bad>"}]) == "InvalidParameterValue"
    )
    assert code(Ipv6Ranges=[{"CidrIpv6": "10.0.0.0/8"}]) == "InvalidParameterValue"
    assert code(PrefixListIds=[{"PrefixListId": "pl-12345678"}]) == "InvalidPrefixListId.NotFound"
    assert code() == "InvalidParameterValue"
    assert rules_of(ec2, web) == [r for r in rules_of(ec2, web) if r["IsEgress"]]


# --- rules: revoke and modify ------------------------------------------------------


def test_revoke_by_permission_and_by_rule_id(ec2: Any, vpc_id: str) -> None:
    web = new_group(ec2, "web", vpc_id)
    made = ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {
                **SSH,
                "IpRanges": [
                    {"CidrIp": "10.0.0.0/8", "Description": "office"},
                    {"CidrIp": "192.0.2.0/24"},
                ],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            },
        ],
    )["SecurityGroupRules"]
    revoked = ec2.revoke_security_group_ingress(
        GroupId=web, IpPermissions=[{**SSH, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]
    )
    assert revoked["Return"] is True
    assert "UnknownIpPermissions" not in revoked
    (gone,) = revoked["RevokedSecurityGroupRules"]
    assert gone == {
        "SecurityGroupRuleId": made[0]["SecurityGroupRuleId"],
        "GroupId": web,
        "IsEgress": False,
        "IpProtocol": "tcp",
        "FromPort": 22,
        "ToPort": 22,
        "CidrIpv4": "10.0.0.0/8",
        "Description": "office",
    }
    ec2.revoke_security_group_ingress(
        GroupId=web, SecurityGroupRuleIds=[made[2]["SecurityGroupRuleId"]]
    )
    left = [r["SecurityGroupRuleId"] for r in rules_of(ec2, web) if not r["IsEgress"]]
    assert left == [made[1]["SecurityGroupRuleId"]]
    egress = [r["SecurityGroupRuleId"] for r in rules_of(ec2, web) if r["IsEgress"]]
    ec2.revoke_security_group_egress(GroupId=web, SecurityGroupRuleIds=egress)
    assert group(ec2, web)["IpPermissionsEgress"] == []
    error = error_of(ec2.revoke_security_group_ingress, GroupId=web, SecurityGroupRuleIds=egress)
    assert error["Code"] == "InvalidSecurityGroupRuleId.NotFound"  # not an ingress rule (any more)


def test_revoking_an_unknown_rule_outside_the_default_vpc_is_an_error(
    ec2: Any, vpc_id: str
) -> None:
    web = new_group(ec2, "web", vpc_id)
    ec2.authorize_security_group_ingress(
        GroupId=web, IpPermissions=[{**SSH, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]
    )
    error = error_of(
        ec2.revoke_security_group_ingress,
        GroupId=web,
        IpPermissions=[{**SSH, "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "10.9.0.0/16"}]}],
    )
    assert (error["Code"], error["Message"]) == (
        "InvalidPermission.NotFound",
        "The specified rule does not exist in this security group.",
    )
    assert len(rules_of(ec2, web)) == 2  # nothing was revoked


def test_revoking_an_unknown_rule_in_the_default_vpc_answers_it(ec2: Any) -> None:
    web = new_group(ec2, "web")
    ec2.authorize_security_group_ingress(
        GroupId=web, IpPermissions=[{**SSH, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]
    )
    answer = ec2.revoke_security_group_ingress(
        GroupName="web",
        IpPermissions=[{**SSH, "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "10.9.0.0/16"}]}],
    )
    assert answer["UnknownIpPermissions"] == [
        permission("tcp", 22, 22, IpRanges=[{"CidrIp": "10.9.0.0/16"}])
    ]
    assert [r["CidrIpv4"] for r in answer["RevokedSecurityGroupRules"]] == ["10.0.0.0/8"]
    assert group(ec2, web)["IpPermissions"] == []


def test_modify_security_group_rules(ec2: Any, vpc_id: str) -> None:
    web, app = new_group(ec2, "web", vpc_id), new_group(ec2, "app", vpc_id)
    first, second = ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[{**SSH, "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "10.1.0.0/16"}]}],
    )["SecurityGroupRules"]
    answer = ec2.modify_security_group_rules(
        GroupId=web,
        SecurityGroupRules=[
            {
                "SecurityGroupRuleId": first["SecurityGroupRuleId"],
                "SecurityGroupRule": {
                    "IpProtocol": "tcp",
                    "FromPort": 8080,
                    "ToPort": 8081,
                    "ReferencedGroupId": app,
                    "Description": "app",
                },
            }
        ],
    )
    assert answer["Return"] is True
    (changed,) = ec2.describe_security_group_rules(
        SecurityGroupRuleIds=[first["SecurityGroupRuleId"]]
    )["SecurityGroupRules"]
    assert (changed["FromPort"], changed["ToPort"], changed["Description"]) == (8080, 8081, "app")
    assert changed["ReferencedGroupInfo"] == {"GroupId": app, "UserId": ACCOUNT}
    assert "CidrIpv4" not in changed
    clash = {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8081, "ReferencedGroupId": app}
    assert (
        code_of(
            ec2.modify_security_group_rules,
            GroupId=web,
            SecurityGroupRules=[
                {"SecurityGroupRuleId": second["SecurityGroupRuleId"], "SecurityGroupRule": clash}
            ],
        )
        == "InvalidPermission.Duplicate"
    )
    assert (
        code_of(
            ec2.modify_security_group_rules,
            GroupId=app,
            SecurityGroupRules=[
                {"SecurityGroupRuleId": second["SecurityGroupRuleId"], "SecurityGroupRule": clash}
            ],
        )
        == "InvalidSecurityGroupRuleId.NotFound"
    )  # a rule of another group


# --- another account ----------------------------------------------------------------


def test_another_account_sees_and_uses_none_of_this_accounts_groups(
    ec2: Any, other: Any, vpc_id: str
) -> None:
    web = new_group(ec2, "web", vpc_id)
    (rule,) = ec2.authorize_security_group_ingress(
        GroupId=web, IpPermissions=[{**SSH, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]
    )["SecurityGroupRules"]
    theirs = other.describe_security_groups()["SecurityGroups"]
    assert [g["OwnerId"] for g in theirs] == [OTHER]
    assert all(
        r["GroupOwnerId"] == OTHER
        for r in other.describe_security_group_rules()["SecurityGroupRules"]
    )
    assert code_of(other.describe_security_groups, GroupIds=[web]) == "InvalidGroup.NotFound"
    assert code_of(
        other.describe_security_group_rules, SecurityGroupRuleIds=[rule["SecurityGroupRuleId"]]
    ) == ("InvalidSecurityGroupRuleId.NotFound")
    assert code_of(other.create_security_group, GroupName="a", Description="a", VpcId=vpc_id) == (
        "InvalidVpcID.NotFound"
    )
    ssh = [{**SSH, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    assert code_of(other.authorize_security_group_ingress, GroupId=web, IpPermissions=ssh) == (
        "InvalidGroup.NotFound"
    )
    assert code_of(
        other.revoke_security_group_ingress,
        GroupId=web,
        SecurityGroupRuleIds=[rule["SecurityGroupRuleId"]],
    ) == ("InvalidGroup.NotFound")
    assert code_of(other.delete_security_group, GroupId=web) == "InvalidGroup.NotFound"
    assert code_of(other.delete_security_group, GroupName="web") == "InvalidGroup.NotFound"


# --- the groups a launch gets ------------------------------------------------------------


def launch(
    cloud: Cloud, vpc_id: str, ids: list[str], names: list[str], account: str = ACCOUNT
) -> list[str]:
    with cloud.region(REGION).catalog.connect() as conn:
        found = launch_groups(
            conn, account, vpc_id, ids, names, subnet_id="subnet-0123456789abcdef0"
        )
    return [row.group_id for row in found]


def launch_error(
    cloud: Cloud, vpc_id: str, ids: list[str], names: list[str], account: str = ACCOUNT
) -> ApiError:
    with pytest.raises(ApiError) as caught:
        launch(cloud, vpc_id, ids, names, account)
    return caught.value


def test_launch_groups_default_by_id_or_by_name(cloud: Cloud, ec2: Any, vpc_id: str) -> None:
    default = default_vpc(ec2)["VpcId"]
    web, app = new_group(ec2, "web"), new_group(ec2, "app")
    assert launch(cloud, default, [], []) == [default_group_of(ec2, default)]
    assert launch(cloud, default, [web], ["app", "web"]) == [web, app]
    inner = new_group(ec2, "inner", vpc_id)
    assert launch(cloud, vpc_id, [inner], []) == [inner]
    error = launch_error(cloud, vpc_id, [web], [])
    assert (error.code, error.message) == (
        "InvalidParameter",
        f"Security group {web} and subnet subnet-0123456789abcdef0 belong to different networks.",
    )
    assert launch_error(cloud, vpc_id, [], ["inner"]).code == "InvalidParameterCombination"
    assert launch_error(cloud, default, [], ["nope"]).code == "InvalidGroup.NotFound"
    assert (
        launch_error(cloud, default, ["sg-0123456789abcdef0"], []).code == "InvalidGroup.NotFound"
    )
    assert launch_error(cloud, default, [web], [], account=OTHER).code == "InvalidGroup.NotFound"
    six = [new_group(ec2, f"g{n}") for n in range(6)]
    assert len(launch(cloud, default, six[:5], [])) == 5
    assert launch_error(cloud, default, six, []).code == "SecurityGroupsPerInterfaceLimitExceeded"


def test_group_names_need_the_default_vpc(cloud: Cloud, ec2: Any, vpc_id: str) -> None:
    delete_default_vpc(ec2)
    assert launch_error(cloud, vpc_id, [], ["web"]).code == "InvalidParameterCombination"
    error = error_of(ec2.delete_security_group, GroupName="web")
    assert (error["Code"], error["Message"]) == (
        "VPCIdNotSpecified",
        "No default VPC for this user. "
        "GroupName is only supported for EC2-Classic and default VPC.",
    )
