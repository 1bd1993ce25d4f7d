"""STS GetCallerIdentity and the AutoScaling reads through in-process boto3:
what tools call first, answered as AWS answers."""

from pathlib import Path
from typing import Any

import pytest

import amiable
from amiable.cloud.core.home import Cloud
from api_helpers import OTHER, cloud_with_other_account, error_of


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return cloud_with_other_account(tmp_path / "home")


def client(cloud: Cloud, service: str, region: str, key: str, secret: str) -> Any:
    """An in-process client signing with any credentials, for any region."""
    return amiable.Session(cloud=cloud).client(
        service, region_name=region, aws_access_key_id=key, aws_secret_access_key=secret
    )


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "aws-global"])
def test_caller_identity_is_the_account_root_in_any_region(cloud: Cloud, region: str) -> None:
    default = client(cloud, "sts", region, "test", "test").get_caller_identity()
    assert (default["Account"], default["UserId"], default["Arn"]) == (
        "000000000000",
        "000000000000",
        "arn:aws:iam::000000000000:root",
    )
    other = amiable.Session(cloud=cloud, account=OTHER, region=region)
    assert other.client("sts").get_caller_identity()["Arn"] == f"arn:aws:iam::{OTHER}:root"


def test_sts_refuses_unknown_keys_and_wrong_secrets_as_sts_does(cloud: Cloud) -> None:
    unknown = client(cloud, "sts", "us-east-1", "AKIANOBODY", "x")
    assert error_of(unknown.get_caller_identity) == {
        "Type": "Sender",
        "Code": "InvalidClientTokenId",
        "Message": "The security token included in the request is invalid.",
        "Status": 403,
    }
    wrong = client(cloud, "sts", "us-east-1", "test", "not-test")
    assert error_of(wrong.get_caller_identity)["Code"] == "SignatureDoesNotMatch"


def test_sts_actions_amiable_lacks_say_so(cloud: Cloud) -> None:
    sts = amiable.Session(cloud=cloud).client("sts")
    found = error_of(
        sts.assume_role, RoleArn="arn:aws:iam::000000000000:role/deploy", RoleSessionName="ci"
    )
    assert (found["Code"], found["Message"]) == (
        "Unsupported",
        "The action AssumeRole is not supported by amiable yet.",
    )


def test_there_are_no_auto_scaling_groups_or_launch_configurations(cloud: Cloud) -> None:
    autoscaling = amiable.Session(cloud=cloud, region="eu-central-1").client("autoscaling")
    assert autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"] == []
    named = autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=["web", "workers"],
        MaxRecords=100,
        IncludeInstances=True,
        Filters=[{"Name": "tag-key", "Values": ["team"]}],
    )
    assert (named["AutoScalingGroups"], "NextToken" in named) == ([], False)
    configurations = autoscaling.describe_launch_configurations(
        LaunchConfigurationNames=["old-lc"], MaxRecords=5
    )
    assert configurations["LaunchConfigurations"] == []
    for operation, key in (
        ("describe_auto_scaling_groups", "AutoScalingGroups"),
        ("describe_launch_configurations", "LaunchConfigurations"),
    ):
        pages = list(
            autoscaling.get_paginator(operation).paginate(PaginationConfig={"PageSize": 2})
        )
        assert [page[key] for page in pages] == [[]]


def test_auto_scaling_reads_check_their_paging_and_region(cloud: Cloud) -> None:
    autoscaling = amiable.Session(cloud=cloud).client("autoscaling")
    assert error_of(autoscaling.describe_auto_scaling_groups, MaxRecords=101) == {
        "Type": "Sender",
        "Code": "ValidationError",
        "Message": "1 validation error detected: Value '101' at 'maxRecords' failed to "
        "satisfy constraint: Member must have value less than or equal to 100",
        "Status": 400,
    }
    found = error_of(autoscaling.describe_launch_configurations, NextToken="page-2")
    assert (found["Code"], found["Status"]) == ("InvalidNextToken", 400)
    with pytest.raises(autoscaling.exceptions.InvalidNextToken):
        autoscaling.describe_auto_scaling_groups(NextToken="page-2")
    elsewhere = client(cloud, "autoscaling", "mars-east-1", "test", "test")
    found = error_of(elsewhere.describe_auto_scaling_groups)
    assert (found["Code"], found["Message"]) == (
        "InvalidParameterValue",
        "Unknown region mars-east-1",
    )


def test_other_auto_scaling_actions_are_not_implemented(cloud: Cloud) -> None:
    autoscaling = amiable.Session(cloud=cloud).client("autoscaling")
    found = error_of(
        autoscaling.create_auto_scaling_group,
        AutoScalingGroupName="web",
        MinSize=1,
        MaxSize=2,
        LaunchTemplate={"LaunchTemplateName": "web"},
    )
    assert (found["Type"], found["Code"], found["Status"]) == ("Sender", "Unsupported", 400)
    assert autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"] == []
