"""Parameters that name images, through real boto3 clients: the `aws:ec2:image`
data type takes only images the caller can launch, and launch templates take
`resolve:ssm:` image ids (launching through them is in tests/e2e)."""

from pathlib import Path
from typing import Any

import pytest

import amiable
from amiable.cloud.core.home import Cloud
from amiable.cloud.ssm.image_aliases import parameters_naming
from api_helpers import OTHER, cloud_with_other_account, error_of, imported_snapshot, register

REGION = "eu-west-1"
ACCOUNT = "000000000000"


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return cloud_with_other_account(tmp_path / "home")


def client(cloud: Cloud, service: str, account: str = ACCOUNT) -> Any:
    return amiable.Session(cloud=cloud, account=account, region=REGION).client(service)


@pytest.fixture
def images(cloud: Cloud, tmp_path: Path) -> dict[str, str]:
    """Images by how the default account relates to them."""
    ec2, theirs = client(cloud, "ec2"), client(cloud, "ec2", OTHER)
    mine = imported_snapshot(ec2, tmp_path / "mine")
    other = imported_snapshot(theirs, tmp_path / "other")
    found = {
        name: register(ec2, mine, name) for name in ("own", "disabled", "deregistered", "later")
    }
    found |= {name: register(theirs, other, name) for name in ("shared", "public", "foreign")}
    theirs.modify_image_attribute(
        ImageId=found["shared"], LaunchPermission={"Add": [{"UserId": ACCOUNT}]}
    )
    theirs.disable_image_block_public_access()
    theirs.modify_image_attribute(
        ImageId=found["public"], LaunchPermission={"Add": [{"Group": "all"}]}
    )
    ec2.disable_image(ImageId=found["disabled"])
    ec2.deregister_image(ImageId=found["deregistered"])
    return found


def put_image(ssm: Any, name: str, image_id: str, **params: Any) -> dict[str, Any]:
    return dict(
        ssm.put_parameter(
            Name=name, Value=image_id, Type="String", DataType="aws:ec2:image", **params
        )
    )


@pytest.mark.parametrize("kind", ["own", "shared", "public"])
def test_an_image_parameter_takes_a_launchable_image(
    cloud: Cloud, images: dict[str, str], kind: str
) -> None:
    ssm = client(cloud, "ssm")
    assert put_image(ssm, "/golden", images[kind])["Version"] == 1
    shown = ssm.get_parameter(Name="/golden")["Parameter"]
    assert (shown["Value"], shown["DataType"]) == (images[kind], "aws:ec2:image")


@pytest.mark.parametrize("kind", ["foreign", "disabled", "deregistered", "malformed", "unknown"])
def test_an_image_parameter_refuses_what_cannot_be_launched(
    cloud: Cloud, images: dict[str, str], kind: str
) -> None:
    ssm = client(cloud, "ssm")
    image_id = {**images, "malformed": "ami-notanimage", "unknown": "ami-0123456789abcdef0"}[kind]
    refused = error_of(
        ssm.put_parameter, Name="/golden", Value=image_id, Type="String", DataType="aws:ec2:image"
    )
    assert refused["Code"] == "ValidationException"
    assert refused["Message"].startswith("Unable to Describe Resource")
    assert ssm.describe_parameters()["Parameters"] == []  # nothing was written


def test_image_parameters_overwritten_and_named(cloud: Cloud, images: dict[str, str]) -> None:
    ssm = client(cloud, "ssm")
    put_image(ssm, "/golden", images["own"])
    put_image(ssm, "/golden-copy", images["own"])
    ssm.put_parameter(Name="/plain", Value=images["own"], Type="String")
    refused = error_of(ssm.put_parameter, Name="/golden", Value=images["foreign"], Overwrite=True)
    assert refused["Message"].startswith("Unable to Describe Resource")  # the data type stays
    assert ssm.put_parameter(Name="/golden", Value=images["later"], Overwrite=True)["Version"] == 2
    with cloud.region(REGION).catalog.connect() as conn:
        assert parameters_naming(conn, ACCOUNT, images["own"]) == ["/golden-copy"]
        assert parameters_naming(conn, ACCOUNT, images["later"]) == ["/golden"]
        assert parameters_naming(conn, OTHER, images["later"]) == []


def test_data_types(cloud: Cloud, images: dict[str, str]) -> None:
    ssm = client(cloud, "ssm")
    for kind in ("StringList", "SecureString"):
        refused = error_of(
            ssm.put_parameter, Name="/x", Value=images["own"], Type=kind, DataType="aws:ec2:image"
        )
        assert refused["Code"] == "ValidationException"
    refused = error_of(ssm.put_parameter, Name="/x", Value="1", Type="String", DataType="integer")
    assert refused["Code"] == "ValidationException"
    ssm.put_parameter(Name="/x", Value="ami-whatever", Type="String", DataType="text")
    assert ssm.get_parameter(Name="/x")["Parameter"]["DataType"] == "text"


def test_launch_templates_keep_resolve_ssm(cloud: Cloud, images: dict[str, str]) -> None:
    ssm, ec2 = client(cloud, "ssm"), client(cloud, "ec2")
    put_image(ssm, "/golden", images["own"])
    put_image(ssm, "/golden", images["later"], Overwrite=True)
    ssm.label_parameter_version(Name="/golden", ParameterVersion=1, Labels=["stable"])
    for n, alias in enumerate(("resolve:ssm:/golden", "resolve:ssm:/golden:1")):
        ec2.create_launch_template(
            LaunchTemplateName=f"web{n}", LaunchTemplateData={"ImageId": alias}
        )
    ec2.create_launch_template_version(
        LaunchTemplateName="web0",
        SourceVersion="1",
        LaunchTemplateData={"ImageId": "resolve:ssm:/golden:stable"},
    )

    def shown(name: str, **params: Any) -> list[str]:
        versions = ec2.describe_launch_template_versions(LaunchTemplateName=name, **params)
        return [v["LaunchTemplateData"]["ImageId"] for v in versions["LaunchTemplateVersions"]]

    assert sorted(shown("web0")) == ["resolve:ssm:/golden", "resolve:ssm:/golden:stable"]
    assert sorted(shown("web0", ResolveAlias=True)) == sorted([images["later"], images["own"]])
    assert shown("web1", ResolveAlias=True) == [images["own"]]
    ssm.put_parameter(Name="/text", Value=images["own"], Type="String")
    for alias, words in (
        ("resolve:ssm:/missing", "The following aliases are invalid"),
        ("resolve:ssm:/golden:9", "The following aliases are invalid"),
        ("resolve:ssm:/golden:nolabel", "The following aliases are invalid"),
        ("resolve:ssm:/text", "Unsupported data type"),
    ):
        refused = error_of(
            ec2.create_launch_template,
            LaunchTemplateName="bad",
            LaunchTemplateData={"ImageId": alias},
        )
        assert (refused["Code"], refused["Message"].startswith(words)) == (
            "SsmInvalidParameter",
            True,
        )
    names = [t["LaunchTemplateName"] for t in ec2.describe_launch_templates()["LaunchTemplates"]]
    assert sorted(names) == ["web0", "web1"]  # nothing half-made
