"""The EC2 API through real boto3 clients wired in-process (amiable.Session)."""

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import amiable
from amiable.cloud.core.home import Cloud


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_describe_regions_lists_enabled_regions_by_default(home: Path) -> None:
    ec2 = amiable.Session(home=home).client("ec2")
    names = [r["RegionName"] for r in ec2.describe_regions()["Regions"]]
    assert "us-east-1" in names and "eu-west-1" in names
    assert "af-south-1" not in names  # an opt-in region
    everything = ec2.describe_regions(AllRegions=True)["Regions"]
    opt_in = {r["RegionName"]: r["OptInStatus"] for r in everything}
    assert opt_in["af-south-1"] == "not-opted-in"
    assert opt_in["us-east-1"] == "opt-in-not-required"
    assert all(r["Endpoint"] == f"ec2.{r['RegionName']}.amazonaws.com" for r in everything)


def test_describe_regions_by_name_and_by_wildcard_filter(home: Path) -> None:
    ec2 = amiable.Session(home=home).client("ec2")
    named = ec2.describe_regions(RegionNames=["eu-west-1", "us-west-2"])["Regions"]
    assert sorted(r["RegionName"] for r in named) == ["eu-west-1", "us-west-2"]
    filtered = ec2.describe_regions(Filters=[{"Name": "region-name", "Values": ["us-*-2"]}])
    assert sorted(r["RegionName"] for r in filtered["Regions"]) == ["us-east-2", "us-west-2"]


def test_each_client_acts_in_its_own_region(home: Path) -> None:
    session = amiable.Session(home=home, region="ap-southeast-2")
    zones = session.client("ec2").describe_availability_zones()["AvailabilityZones"]
    assert [(z["ZoneName"], z["ZoneId"]) for z in zones] == [
        ("ap-southeast-2a", "apse2-az1"),
        ("ap-southeast-2b", "apse2-az2"),
        ("ap-southeast-2c", "apse2-az3"),
    ]
    other = session.client("ec2", region_name="eu-central-1").describe_availability_zones(
        ZoneNames=["eu-central-1b"]
    )
    assert [z["ZoneId"] for z in other["AvailabilityZones"]] == ["euc1-az2"]


def test_dry_run_answers_dry_run_operation_with_412(home: Path) -> None:
    ec2 = amiable.Session(home=home).client("ec2")
    with pytest.raises(ClientError) as caught:
        ec2.describe_regions(DryRun=True)
    error = caught.value.response
    assert error["Error"]["Code"] == "DryRunOperation"
    assert error["Error"]["Message"] == "Request would have succeeded, but DryRun flag is set."
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 412


def test_an_invalid_filter_is_a_client_error(home: Path) -> None:
    ec2 = amiable.Session(home=home).client("ec2")
    with pytest.raises(ClientError) as caught:
        ec2.describe_regions(Filters=[{"Name": "colour", "Values": ["blue"]}])
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_an_action_not_built_yet_says_so(home: Path) -> None:
    ec2 = amiable.Session(home=home).client("ec2")
    with pytest.raises(ClientError) as caught:
        ec2.describe_vpn_gateways()
    assert caught.value.response["Error"]["Code"] == "Unsupported"


def test_sessions_of_other_accounts_and_unknown_accounts(home: Path) -> None:
    cloud = Cloud(home)
    cloud.accounts.create("111122223333", "team", "AKIATEAM0000000001", "s3cret")
    team = amiable.Session(cloud=cloud, account="111122223333")
    assert team.client("ec2").describe_regions(RegionNames=["us-east-1"])["Regions"]
    with pytest.raises(ValueError, match="no account 999999999999"):
        amiable.Session(cloud=cloud, account="999999999999")
