"""How images are used, through real boto3 clients: DescribeImageReferences
over launch templates and Parameter Store parameters, and AMI usage reports
(CreateImageUsageReport and the calls around it). Instances are in
tests/e2e/test_image_references.py (they need root)."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import amiable
from amiable.cloud.core.home import Cloud
from api_helpers import OTHER, cloud_with_other_account, code_of, imported_snapshot, register

OWNER = "000000000000"
THIRD = "333333333333"
REGION = "us-east-1"
FAST = {"Delay": 0.2}


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    cloud = cloud_with_other_account(tmp_path / "home")
    cloud.accounts.create(THIRD, "third", "AKIATHIRD", "third-secret")
    return cloud


def client(cloud: Cloud, account: str = OWNER, service: str = "ec2") -> Any:
    return amiable.Session(cloud=cloud, account=account, region=REGION).client(service)


@pytest.fixture
def images(cloud: Cloud, tmp_path: Path) -> tuple[str, str]:
    """Two images of the owner's, on one snapshot."""
    ec2 = client(cloud)
    snapshot = imported_snapshot(ec2, tmp_path / "root")
    return register(ec2, snapshot, "used"), register(ec2, snapshot, "newer")


def references(ec2: Any, image_id: str, **params: Any) -> list[tuple[str, str]]:
    found = ec2.describe_image_references(ImageIds=[image_id], **params)["ImageReferences"]
    assert all(r["ImageId"] == image_id for r in found)
    return [(r["ResourceType"], r["Arn"]) for r in found]


def template(ec2: Any, name: str, *image_ids: str) -> str:
    """A launch template whose versions name `image_ids`, the first one oldest."""
    first, *later = image_ids
    made = ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": first}
    )
    template_id = str(made["LaunchTemplate"]["LaunchTemplateId"])
    for image_id in later:
        ec2.create_launch_template_version(
            LaunchTemplateId=template_id, LaunchTemplateData={"ImageId": image_id}
        )
    return template_id


def template_arn(account: str, template_id: str) -> str:
    return f"arn:aws:ec2:{REGION}:{account}:launch-template/{template_id}"


def lt_types(**options: str) -> list[dict[str, Any]]:
    """`ec2:LaunchTemplate` with options (`version_depth="5"`: version-depth 5)."""
    listed = [{"OptionName": k.replace("_", "-"), "OptionValues": [v]} for k, v in options.items()]
    kind: dict[str, Any] = {"ResourceType": "ec2:LaunchTemplate"}
    return [{**kind, "ResourceTypeOptions": listed}] if listed else [kind]


def test_references_find_string_parameters_naming_the_image(
    cloud: Cloud, images: tuple[str, str]
) -> None:
    used, newer = images
    ssm = client(cloud, service="ssm")
    ssm.put_parameter(Name="/golden/ami", Value=used, Type="String", DataType="aws:ec2:image")
    ssm.put_parameter(Name="plain", Value=used, Type="String")
    ssm.put_parameter(Name="secret", Value=used, Type="SecureString")
    ssm.put_parameter(Name="listed", Value=used, Type="StringList")
    ssm.put_parameter(Name="moved-on", Value=used, Type="String")
    ssm.put_parameter(Name="moved-on", Value=newer, Type="String", Overwrite=True)
    client(cloud, OTHER, "ssm").put_parameter(Name="theirs", Value=used, Type="String")
    ec2 = client(cloud)
    prefix = f"arn:aws:ssm:{REGION}:{OWNER}:parameter/"
    assert references(ec2, used, ResourceTypes=[{"ResourceType": "ssm:Parameter"}]) == [
        ("ssm:Parameter", prefix + "golden/ami"),
        ("ssm:Parameter", prefix + "plain"),
    ]
    assert references(ec2, newer, ResourceTypes=[{"ResourceType": "ssm:Parameter"}]) == [
        ("ssm:Parameter", prefix + "moved-on")
    ]
    assert references(ec2, used, ResourceTypes=[{"ResourceType": "ec2:LaunchTemplate"}]) == []
    with_option = [
        {
            "ResourceType": "ssm:Parameter",
            "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["5"]}],
        }
    ]
    assert (
        code_of(ec2.describe_image_references, ImageIds=[used], ResourceTypes=with_option)
        == "InvalidParameterValue"
    )


def test_include_all_resource_types_checks_templates_and_parameters(
    cloud: Cloud, images: tuple[str, str]
) -> None:
    used, newer = images
    ec2 = client(cloud)
    template_id = template(ec2, "app", used)
    client(cloud, service="ssm").put_parameter(Name="app-ami", Value=used, Type="String")
    assert references(ec2, used, IncludeAllResourceTypes=True) == [
        ("ec2:LaunchTemplate", template_arn(OWNER, template_id)),
        ("ssm:Parameter", f"arn:aws:ssm:{REGION}:{OWNER}:parameter/app-ami"),
    ]
    assert references(ec2, newer, IncludeAllResourceTypes=True) == []
    recipes = [{"ResourceType": "imagebuilder:ImageRecipe"}]
    assert references(ec2, used, ResourceTypes=recipes) == []  # no Image Builder here
    bad = [{"ResourceType": "ec2:Volume"}]
    assert code_of(ec2.describe_image_references, ImageIds=[used], ResourceTypes=bad) == (
        "InvalidParameterValue"
    )


def test_launch_template_version_depth(cloud: Cloud, images: tuple[str, str]) -> None:
    used, newer = images
    ec2 = client(cloud)
    outside = template(ec2, "outside", used, *[newer] * 10)  # `used` is 11th newest
    inside = template(ec2, "inside", newer, used, *[newer] * 9)  # `used` is 10th newest
    kept = template_arn(OWNER, inside)
    by_default = [("ec2:LaunchTemplate", kept)]
    assert references(ec2, used, ResourceTypes=lt_types()) == by_default
    assert references(ec2, used, IncludeAllResourceTypes=True) == by_default
    deeper = sorted([kept, template_arn(OWNER, outside)])
    assert references(ec2, used, ResourceTypes=lt_types(version_depth="11")) == [
        ("ec2:LaunchTemplate", arn) for arn in deeper
    ]
    overridden = references(
        ec2, used, IncludeAllResourceTypes=True, ResourceTypes=lt_types(version_depth="11")
    )
    assert overridden == [("ec2:LaunchTemplate", arn) for arn in deeper]
    assert references(ec2, used, ResourceTypes=lt_types(version_depth="1")) == []
    assert references(ec2, newer, ResourceTypes=lt_types(version_depth="1")) == [
        ("ec2:LaunchTemplate", arn) for arn in sorted([kept, template_arn(OWNER, outside)])
    ]
    for bad in ("0", "10001", "ten", "-1"):
        assert code_of(
            ec2.describe_image_references,
            ImageIds=[used],
            ResourceTypes=lt_types(version_depth=bad),
        ) == ("InvalidParameterValue"), bad
    wrong_option = lt_types(state_name="running")
    assert code_of(ec2.describe_image_references, ImageIds=[used], ResourceTypes=wrong_option) == (
        "InvalidParameterValue"
    )
    bad_state = [
        {
            "ResourceType": "ec2:Instance",
            "ResourceTypeOptions": [{"OptionName": "state-name", "OptionValues": ["asleep"]}],
        }
    ]
    assert code_of(ec2.describe_image_references, ImageIds=[used], ResourceTypes=bad_state) == (
        "InvalidParameterValue"
    )


def share(ec2: Any, image_id: str, *accounts: str) -> None:
    ec2.modify_image_attribute(
        ImageId=image_id, LaunchPermission={"Add": [{"UserId": a} for a in accounts]}
    )


BOTH = [{"ResourceType": "ec2:Instance"}, {"ResourceType": "ec2:LaunchTemplate"}]


def report(ec2: Any, image_id: str, **params: Any) -> str:
    """A new report's id, once the waiter says it is available."""
    report_id = str(ec2.create_image_usage_report(ImageId=image_id, **params)["ReportId"])
    ec2.get_waiter("image_usage_report_available").wait(ReportIds=[report_id], WaiterConfig=FAST)
    return report_id


def entries(ec2: Any, report_id: str, **params: Any) -> list[tuple[str, str, int]]:
    found = ec2.describe_image_usage_report_entries(ReportIds=[report_id], **params)[
        "ImageUsageReportEntries"
    ]
    return sorted((e["AccountId"], e["ResourceType"], e["UsageCount"]) for e in found)


def test_usage_report_counts_templates_per_other_account(
    cloud: Cloud, images: tuple[str, str]
) -> None:
    used, newer = images
    owner = client(cloud)
    share(owner, used, OTHER, THIRD)
    share(owner, newer, OTHER)
    other, third = client(cloud, OTHER), client(cloud, THIRD)
    template(owner, "own", used)  # the owner's own use is not reported
    template(other, "many-versions", used, used, used)  # counted once
    template(other, "deep", used, *[newer] * 20)  # 21st newest: beyond the default 20
    template(other, "unrelated", newer)
    template(third, "third", used)
    report_id = report(owner, used, ResourceTypes=BOTH)
    assert entries(owner, report_id) == [
        (OTHER, "ec2:LaunchTemplate", 1),
        (THIRD, "ec2:LaunchTemplate", 1),
    ]  # no instance uses the image: no ec2:Instance entry
    deeper = report(owner, used, ResourceTypes=lt_types(version_depth="21"))
    assert entries(owner, deeper) == [
        (OTHER, "ec2:LaunchTemplate", 2),
        (THIRD, "ec2:LaunchTemplate", 1),
    ]
    only_third = report(owner, used, ResourceTypes=BOTH, AccountIds=[THIRD])
    assert entries(owner, only_third) == [(THIRD, "ec2:LaunchTemplate", 1)]
    instances_only = report(owner, used, ResourceTypes=[{"ResourceType": "ec2:Instance"}])
    assert entries(owner, instances_only) == []
    (shown,) = owner.describe_image_usage_reports(ReportIds=[only_third])["ImageUsageReports"]
    assert shown["ImageId"] == used and shown["State"] == "available"
    assert shown["AccountIds"] == [THIRD]
    assert shown["ResourceTypes"] == BOTH
    assert shown["ExpirationTime"] - shown["CreationTime"] == timedelta(days=30)
    (deep_shown,) = owner.describe_image_usage_reports(ReportIds=[deeper])["ImageUsageReports"]
    assert deep_shown["ResourceTypes"] == lt_types(version_depth="21")
    assert "AccountIds" not in deep_shown
    # a report is a snapshot: later use shows in a new report only
    template(third, "later", used)
    assert entries(owner, only_third) == [(THIRD, "ec2:LaunchTemplate", 1)]
    assert entries(owner, report(owner, used, ResourceTypes=BOTH, AccountIds=[THIRD])) == [
        (THIRD, "ec2:LaunchTemplate", 2)
    ]


def test_usage_reports_are_listed_filtered_and_tagged(
    cloud: Cloud, images: tuple[str, str]
) -> None:
    used, newer = images
    owner = client(cloud)
    share(owner, used, OTHER)
    template(client(cloud, OTHER), "theirs", used)
    tagged = report(
        owner,
        used,
        ResourceTypes=BOTH,
        TagSpecifications=[
            {"ResourceType": "image-usage-report", "Tags": [{"Key": "team", "Value": "infra"}]}
        ],
    )
    plain = report(owner, newer, ResourceTypes=BOTH)

    def listed(**params: Any) -> list[str]:
        found = owner.describe_image_usage_reports(**params)["ImageUsageReports"]
        return sorted(r["ReportId"] for r in found)

    assert listed() == sorted([tagged, plain])
    assert listed(ImageIds=[newer]) == [plain]
    assert listed(ReportIds=[tagged, plain], ImageIds=[used]) == [tagged]
    assert listed(Filters=[{"Name": "tag:team", "Values": ["infra"]}]) == [tagged]
    assert listed(Filters=[{"Name": "tag-key", "Values": ["team"]}]) == [tagged]
    assert listed(Filters=[{"Name": "state", "Values": ["available"]}]) == sorted([tagged, plain])
    assert listed(Filters=[{"Name": "state", "Values": ["pending"]}]) == []
    (shown,) = owner.describe_image_usage_reports(ReportIds=[tagged])["ImageUsageReports"]
    assert shown["Tags"] == [{"Key": "team", "Value": "infra"}]
    day = shown["CreationTime"].strftime("%Y-%m-%d")
    assert listed(Filters=[{"Name": "creation-time", "Values": [f"{day}T*"]}]) == sorted(
        [tagged, plain]
    )
    assert listed(Filters=[{"Name": "creation-time", "Values": ["1999-01-01T*"]}]) == []
    unknown = [{"Name": "size", "Values": ["1"]}]
    assert code_of(owner.describe_image_usage_reports, Filters=unknown) == "InvalidParameterValue"
    first = owner.describe_image_usage_reports(MaxResults=1)
    assert len(first["ImageUsageReports"]) == 1 and first["NextToken"]
    pages = owner.get_paginator("describe_image_usage_reports").paginate(
        PaginationConfig={"PageSize": 1}
    )
    assert sorted(r["ReportId"] for p in pages for r in p["ImageUsageReports"]) == sorted(
        [tagged, plain]
    )
    assert client(cloud, OTHER).describe_image_usage_reports()["ImageUsageReports"] == []

    owner.create_tags(Resources=[plain], Tags=[{"Key": "stage", "Value": "dev"}])
    described = owner.describe_tags(
        Filters=[{"Name": "resource-type", "Values": ["image-usage-report"]}]
    )["Tags"]
    assert sorted((t["ResourceId"], t["Key"]) for t in described) == sorted(
        [(tagged, "team"), (plain, "stage")]
    )
    owner.delete_tags(Resources=[tagged], Tags=[{"Key": "team"}])
    assert listed(Filters=[{"Name": "tag-key", "Values": ["team"]}]) == []
    assert code_of(
        client(cloud, OTHER).create_tags, Resources=[plain], Tags=[{"Key": "a", "Value": "b"}]
    ) == ("InvalidImageUsageReportId.NotFound")

    all_entries = owner.describe_image_usage_report_entries()["ImageUsageReportEntries"]
    assert [(e["ReportId"], e["ImageId"], e["AccountId"]) for e in all_entries] == [
        (tagged, used, OTHER)
    ]
    assert all_entries[0]["ReportCreationTime"] == shown["CreationTime"]
    assert entries(owner, tagged, Filters=[{"Name": "account-id", "Values": [OTHER]}]) == [
        (OTHER, "ec2:LaunchTemplate", 1)
    ]
    assert entries(owner, tagged, Filters=[{"Name": "account-id", "Values": [THIRD]}]) == []
    by_type = [{"Name": "resource-type", "Values": ["ec2:Instance"]}]
    assert entries(owner, tagged, Filters=by_type) == []
    by_day = [{"Name": "creation-time", "Values": [f"{day}T*"]}]
    assert entries(owner, tagged, Filters=by_day) == [(OTHER, "ec2:LaunchTemplate", 1)]
    assert (
        owner.describe_image_usage_report_entries(ImageIds=[newer])["ImageUsageReportEntries"] == []
    )


def test_usage_reports_expire_after_thirty_days(cloud: Cloud, images: tuple[str, str]) -> None:
    used, _ = images
    owner = client(cloud)
    share(owner, used, OTHER)
    template(client(cloud, OTHER), "theirs", used)
    report_id = report(owner, used, ResourceTypes=BOTH)
    cloud.clock.advance(timedelta(days=29, hours=23))
    assert [r["ReportId"] for r in owner.describe_image_usage_reports()["ImageUsageReports"]] == [
        report_id
    ]
    cloud.clock.advance(timedelta(hours=1, seconds=1))
    assert owner.describe_image_usage_reports()["ImageUsageReports"] == []
    assert owner.describe_image_usage_report_entries()["ImageUsageReportEntries"] == []
    for call, params in (
        (owner.describe_image_usage_reports, {"ReportIds": [report_id]}),
        (owner.describe_image_usage_report_entries, {"ReportIds": [report_id]}),
        (owner.delete_image_usage_report, {"ReportId": report_id}),
        (owner.create_tags, {"Resources": [report_id], "Tags": [{"Key": "k", "Value": "v"}]}),
    ):
        assert code_of(call, **params) == "InvalidImageUsageReportId.NotFound"


def test_deleting_a_usage_report(cloud: Cloud, images: tuple[str, str]) -> None:
    used, _ = images
    owner = client(cloud)
    share(owner, used, OTHER)
    template(client(cloud, OTHER), "theirs", used)
    report_id = report(
        owner,
        used,
        ResourceTypes=BOTH,
        TagSpecifications=[
            {"ResourceType": "image-usage-report", "Tags": [{"Key": "k", "Value": "v"}]}
        ],
    )
    other = client(cloud, OTHER)
    assert code_of(other.delete_image_usage_report, ReportId=report_id) == (
        "InvalidImageUsageReportId.NotFound"
    )
    assert owner.delete_image_usage_report(ReportId=report_id)["Return"] is True
    assert owner.describe_image_usage_reports()["ImageUsageReports"] == []
    assert owner.describe_image_usage_report_entries()["ImageUsageReportEntries"] == []
    assert (
        owner.describe_tags(Filters=[{"Name": "resource-id", "Values": [report_id]}])["Tags"] == []
    )
    assert code_of(owner.delete_image_usage_report, ReportId=report_id) == (
        "InvalidImageUsageReportId.NotFound"
    )
    assert code_of(owner.delete_image_usage_report, ReportId="amiur-nothex") == (
        "InvalidImageUsageReportId.Malformed"
    )


def test_usage_report_errors_and_idempotency(cloud: Cloud, images: tuple[str, str]) -> None:
    used, _ = images
    owner, other = client(cloud), client(cloud, OTHER)
    share(owner, used, OTHER)
    create = owner.create_image_usage_report
    assert code_of(other.create_image_usage_report, ImageId=used, ResourceTypes=BOTH) == (
        "AuthFailure"
    )
    assert code_of(create, ImageId="ami-0123456789abcdef0", ResourceTypes=BOTH) == (
        "InvalidAMIID.NotFound"
    )
    assert code_of(create, ImageId="ami-nope", ResourceTypes=BOTH) == "InvalidAMIID.Malformed"
    assert code_of(create, ImageId=used, ResourceTypes=[]) == "MissingParameter"
    refused = {
        "unknown type": [{"ResourceType": "ec2:Volume"}],
        "depth zero": lt_types(version_depth="0"),
        "depth too deep": lt_types(version_depth="10001"),
        "instance option": [
            {
                "ResourceType": "ec2:Instance",
                "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["2"]}],
            }
        ],
        "unknown option": lt_types(state_name="running"),
    }
    for why, types in refused.items():
        assert code_of(create, ImageId=used, ResourceTypes=types) == "InvalidParameterValue", why
    assert code_of(create, ImageId=used, ResourceTypes=BOTH, AccountIds=["1234"]) == (
        "InvalidParameterValue"
    )
    too_many = [f"{n:012d}" for n in range(201)]
    assert code_of(create, ImageId=used, ResourceTypes=BOTH, AccountIds=too_many) == (
        "InvalidParameterValue"
    )
    wrong_tags = [{"ResourceType": "image", "Tags": [{"Key": "k", "Value": "v"}]}]
    assert code_of(create, ImageId=used, ResourceTypes=BOTH, TagSpecifications=wrong_tags) == (
        "InvalidParameterValue"
    )
    assert code_of(create, ImageId=used, ResourceTypes=BOTH, DryRun=True) == "DryRunOperation"
    assert owner.describe_image_usage_reports()["ImageUsageReports"] == []  # none half-made
    assert code_of(owner.describe_image_usage_reports, ReportIds=["amiur-0123456789abcdef0"]) == (
        "InvalidImageUsageReportId.NotFound"
    )
    first = create(ImageId=used, ResourceTypes=BOTH, ClientToken="once")["ReportId"]
    again = create(ImageId=used, ResourceTypes=BOTH, ClientToken="once")["ReportId"]
    assert first == again and first.startswith("amiur-") and len(first) == len("amiur-") + 17
    assert len(owner.describe_image_usage_reports()["ImageUsageReports"]) == 1
    changed = {"ImageId": used, "ResourceTypes": lt_types(), "ClientToken": "once"}
    assert code_of(create, **changed) == "IdempotentParameterMismatch"
