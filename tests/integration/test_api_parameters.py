"""SSM Parameter Store through real boto3 `ssm` clients, in-process: versions,
selectors, history, labels, SecureString with KMS, listing and tags."""

import base64
from pathlib import Path
from typing import Any

import pytest

import amiable
from amiable.cloud.core.home import Cloud
from api_helpers import OTHER, cloud_with_other_account, code_of, error_of

REGION = "eu-west-1"
ACCOUNT = "000000000000"


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return cloud_with_other_account(tmp_path / "home")


def client(cloud: Cloud, service: str = "ssm", account: str = ACCOUNT, region: str = REGION) -> Any:
    return amiable.Session(cloud=cloud, account=account, region=region).client(service)


@pytest.fixture
def ssm(cloud: Cloud) -> Any:
    return client(cloud)


def value(ssm: Any, name: str, **params: Any) -> str:
    return str(ssm.get_parameter(Name=name, **params)["Parameter"]["Value"])


def test_each_put_makes_a_version(ssm: Any) -> None:
    made = ssm.put_parameter(Name="/app/db/url", Value="one", Type="String")
    assert (made["Version"], made["Tier"]) == (1, "Standard")
    failed = error_of(ssm.put_parameter, Name="/app/db/url", Value="two", Type="String")
    assert failed["Code"] == "ParameterAlreadyExists"
    assert value(ssm, "/app/db/url") == "one"
    answer = ssm.put_parameter(Name="/app/db/url", Value="two", Overwrite=True)
    assert (answer["Version"], answer["Tier"]) == (2, "Standard")
    shown = ssm.get_parameter(Name="/app/db/url")["Parameter"]
    assert {k: shown[k] for k in ("Name", "Type", "Value", "Version", "DataType", "ARN")} == {
        "Name": "/app/db/url",
        "Type": "String",
        "Value": "two",
        "Version": 2,
        "DataType": "text",
        "ARN": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app/db/url",
    }
    assert "Selector" not in shown and "SourceResult" not in shown
    first = ssm.get_parameter(Name="/app/db/url:1")["Parameter"]
    assert (first["Value"], first["Version"], first["Selector"]) == ("one", 1, ":1")
    by_arn = ssm.get_parameter(Name=f"{shown['ARN']}:1")["Parameter"]
    assert (by_arn["Name"], by_arn["Value"]) == ("/app/db/url", "one")
    ssm.put_parameter(Name="plain", Value="x", Type="String")
    plain = ssm.get_parameter(Name=f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/plain")
    assert plain["Parameter"]["ARN"].endswith(":parameter/plain")
    described = ssm.describe_parameters()["Parameters"]
    assert {p["LastModifiedUser"] for p in described} == {f"arn:aws:iam::{ACCOUNT}:root"}


def test_unknown_parameters_and_versions(ssm: Any) -> None:
    ssm.put_parameter(Name="/app/x", Value="v", Type="String")
    assert code_of(ssm.get_parameter, Name="/app/missing") == "ParameterNotFound"
    assert code_of(ssm.get_parameter, Name="/app/x:9") == "ParameterVersionNotFound"
    assert code_of(ssm.get_parameter, Name="/app/x:nolabel") == "ParameterVersionNotFound"
    assert code_of(ssm.get_parameter, Name="/app/x y") == "ValidationException"
    other_account = f"arn:aws:ssm:{REGION}:{OTHER}:parameter/app/x"
    assert code_of(ssm.get_parameter, Name=other_account) == "ParameterNotFound"


def test_parameters_belong_to_an_account_and_a_region(cloud: Cloud, ssm: Any) -> None:
    ssm.put_parameter(Name="/shared/name", Value="mine", Type="String")
    other = client(cloud, account=OTHER)
    assert code_of(other.get_parameter, Name="/shared/name") == "ParameterNotFound"
    other.put_parameter(Name="/shared/name", Value="theirs", Type="String")
    assert value(ssm, "/shared/name") == "mine"
    elsewhere = client(cloud, region="us-east-1")
    assert elsewhere.describe_parameters()["Parameters"] == []


def test_overwrite_keeps_what_it_does_not_change(ssm: Any) -> None:
    ssm.put_parameter(
        Name="/app/port", Value="80", Type="String", Description="the port", AllowedPattern=r"^\d+$"
    )
    ssm.put_parameter(Name="/app/port", Value="8080", Overwrite=True)
    (described,) = ssm.describe_parameters()["Parameters"]
    assert (described["Type"], described["Description"], described["AllowedPattern"]) == (
        "String",
        "the port",
        r"^\d+$",
    )
    assert code_of(ssm.put_parameter, Name="/app/port", Value="http", Overwrite=True) == (
        "ParameterPatternMismatchException"
    )
    changed = error_of(
        ssm.put_parameter, Name="/app/port", Value="81", Type="SecureString", Overwrite=True
    )
    assert changed["Code"] == "HierarchyTypeMismatchException"
    tagged = error_of(
        ssm.put_parameter,
        Name="/app/port",
        Value="81",
        Overwrite=True,
        Tags=[{"Key": "team", "Value": "web"}],
    )
    assert tagged["Code"] == "ValidationException" and "tags and overwrite" in tagged["Message"]
    assert code_of(ssm.put_parameter, Name="/app/new", Value="v") == "ValidationException"
    assert value(ssm, "/app/port") == "8080"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("awsconfig", "ValidationException"),
        ("SSM-thing", "ValidationException"),
        ("/ssm/x", "ValidationException"),
        ("/Aws/x/y", "AccessDeniedException"),
        ("a/b", "ValidationException"),
        ("/a//b", "ValidationException"),
        ("/a/b/", "ValidationException"),
        ("/a b", "ValidationException"),
        ("/a:b", "ValidationException"),
        ("/" + "/".join(f"l{n}" for n in range(16)), "HierarchyLevelLimitExceededException"),
        ("/" + "x" * 1000, "ValidationException"),
    ],
)
def test_names_put_parameter_refuses(ssm: Any, name: str, code: str) -> None:
    assert code_of(ssm.put_parameter, Name=name, Value="v", Type="String") == code


def test_names_it_takes(ssm: Any) -> None:
    fifteen = "/" + "/".join(f"l{n}" for n in range(15))
    longest = "/" + "x" * (1011 - len(f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/"))
    for name in (fifteen, longest, "My_param-1.0", "/team/aws/x"):
        assert ssm.put_parameter(Name=name, Value="v", Type="String")["Version"] == 1
    ssm.put_parameter(Name="  padded  ", Value="v", Type="String")
    assert ssm.get_parameter(Name="padded")["Parameter"]["Name"] == "padded"


def test_values_and_tiers(ssm: Any) -> None:
    assert code_of(ssm.put_parameter, Name="empty", Value="", Type="String") == (
        "ValidationException"
    )
    ssm.put_parameter(Name="standard", Value="x" * 4096, Type="String")
    too_big = error_of(ssm.put_parameter, Name="big", Value="x" * 4097, Type="String")
    assert too_big["Code"] == "ValidationException" and "4096" in too_big["Message"]
    advanced = ssm.put_parameter(Name="big", Value="x" * 8192, Type="String", Tier="Advanced")
    assert advanced["Tier"] == "Advanced"
    assert code_of(
        ssm.put_parameter, Name="bigger", Value="x" * 8193, Type="String", Tier="Advanced"
    ) == ("ValidationException")
    smart = ssm.put_parameter(
        Name="smart", Value="x" * 5000, Type="String", Tier="Intelligent-Tiering"
    )
    assert smart["Tier"] == "Advanced"
    small = ssm.put_parameter(Name="small", Value="x", Type="String", Tier="Intelligent-Tiering")
    assert small["Tier"] == "Standard"
    assert code_of(ssm.put_parameter, Name="big", Value="x", Overwrite=True, Tier="Standard") == (
        "ValidationException"
    )
    assert ssm.put_parameter(Name="big", Value="y", Overwrite=True)["Tier"] == "Advanced"
    ssm.put_parameter(Name="list", Value="a,b, c", Type="StringList")
    listed = ssm.get_parameter(Name="list")["Parameter"]
    assert (listed["Type"], listed["Value"]) == ("StringList", "a,b, c")
    assert code_of(ssm.put_parameter, Name="odd", Value="v", Type="Number") == (
        "ValidationException"
    )


def test_allowed_pattern(ssm: Any) -> None:
    ssm.put_parameter(Name="n", Value="42", Type="String", AllowedPattern=r"^\d+$")
    refused = error_of(
        ssm.put_parameter, Name="m", Value="4x", Type="String", AllowedPattern=r"^\d+$"
    )
    assert refused["Code"] == "ParameterPatternMismatchException"
    assert "4x" not in refused["Message"]
    assert code_of(
        ssm.put_parameter, Name="m", Value="4", Type="String", AllowedPattern="([a-"
    ) == ("InvalidAllowedPatternException")
    assert code_of(ssm.get_parameter, Name="m") == "ParameterNotFound"


def test_secure_strings_under_the_aws_managed_key(cloud: Cloud, ssm: Any) -> None:
    kms = client(cloud, "kms")
    ssm.put_parameter(Name="/app/password", Value="hunter2", Type="SecureString")
    shown = ssm.get_parameter(Name="/app/password")["Parameter"]
    assert shown["Type"] == "SecureString" and shown["Value"] != "hunter2"
    blob = base64.b64decode(shown["Value"])
    assert b"hunter2" not in blob
    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app/password"
    decrypted = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"PARAMETER_ARN": arn})
    assert decrypted["Plaintext"] == b"hunter2"  # a real KMS ciphertext, as on AWS
    managed = kms.describe_key(KeyId="alias/aws/ssm")["KeyMetadata"]
    assert decrypted["KeyId"] == managed["Arn"] and managed["KeyManager"] == "AWS"
    assert value(ssm, "/app/password", WithDecryption=True) == "hunter2"
    (described,) = ssm.describe_parameters()["Parameters"]
    assert described["KeyId"] == "alias/aws/ssm" and "Value" not in described
    ssm.put_parameter(Name="/app/password", Value="swordfish", Overwrite=True)
    history = ssm.get_parameter_history(Name="/app/password", WithDecryption=True)["Parameters"]
    assert [h["Value"] for h in history] == ["hunter2", "swordfish"]
    assert code_of(
        ssm.put_parameter, Name="k", Value="v", Type="String", KeyId="alias/aws/ssm"
    ) == ("ValidationException")


def test_secure_strings_under_a_key_of_ones_own(cloud: Cloud, ssm: Any) -> None:
    kms = client(cloud, "kms")
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/app", TargetKeyId=key["KeyId"])
    for n, reference in enumerate((key["KeyId"], key["Arn"], "alias/app")):
        ssm.put_parameter(Name=f"s{n}", Value=f"secret{n}", Type="SecureString", KeyId=reference)
        blob = base64.b64decode(value(ssm, f"s{n}"))
        arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/s{n}"
        found = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"PARAMETER_ARN": arn})
        assert found["KeyId"] == key["Arn"]
    described = {p["Name"]: p["KeyId"] for p in ssm.describe_parameters()["Parameters"]}
    assert described == {"s0": key["KeyId"], "s1": key["Arn"], "s2": "alias/app"}
    assert code_of(
        ssm.put_parameter, Name="x", Value="v", Type="SecureString", KeyId="alias/none"
    ) == ("InvalidKeyId")
    kms.disable_key(KeyId=key["KeyId"])
    assert code_of(
        ssm.put_parameter, Name="x", Value="v", Type="SecureString", KeyId="alias/app"
    ) == ("InvalidKeyId")
    assert code_of(ssm.get_parameter, Name="s0", WithDecryption=True) == "InvalidKeyId"
    assert value(ssm, "s0") != "secret0"  # the ciphertext needs no key
    kms.enable_key(KeyId=key["KeyId"])
    assert value(ssm, "s2", WithDecryption=True) == "secret2"


def test_get_parameters(ssm: Any) -> None:
    for name in ("b", "a", "c"):
        ssm.put_parameter(Name=name, Value=f"{name}1", Type="String")
    ssm.put_parameter(Name="a", Value="a2", Overwrite=True)
    found = ssm.get_parameters(Names=["c", "a:1", "missing", "b", "a:7", "c"])
    assert [(p["Name"], p["Value"], p.get("Selector")) for p in found["Parameters"]] == [
        ("a", "a1", ":1"),
        ("b", "b1", None),
        ("c", "c1", None),
    ]
    assert sorted(found["InvalidParameters"]) == ["a:7", "missing"]


def test_history_pages_and_shows_labels(ssm: Any) -> None:
    for n in range(1, 8):
        ssm.put_parameter(
            Name="/h", Value=f"v{n}", Type="String", Overwrite=n > 1, Description=f"d{n}"
        )
    ssm.label_parameter_version(Name="/h", ParameterVersion=2, Labels=["stable", "blue"])
    first = ssm.get_parameter_history(Name="/h", MaxResults=3)
    assert [p["Version"] for p in first["Parameters"]] == [1, 2, 3]
    assert first["Parameters"][1]["Labels"] == ["blue", "stable"]
    assert first["Parameters"][0]["Description"] == "d1"
    pages = ssm.get_paginator("get_parameter_history").paginate(
        Name="/h", PaginationConfig={"PageSize": 3}
    )
    assert [[p["Value"] for p in page["Parameters"]] for page in pages] == [
        ["v1", "v2", "v3"],
        ["v4", "v5", "v6"],
        ["v7"],
    ]
    assert code_of(ssm.get_parameter_history, Name="/h", NextToken="!!!") == "InvalidNextToken"
    assert code_of(ssm.get_parameter_history, Name="/nothing") == "ParameterNotFound"


def test_labels_move_between_versions(ssm: Any) -> None:
    for n in (1, 2, 3):
        ssm.put_parameter(Name="/l", Value=f"v{n}", Type="String", Overwrite=n > 1)
    answer = ssm.label_parameter_version(Name="/l", Labels=["prod", "1st", "awsy", "ok-1.x_"])
    assert (answer["ParameterVersion"], sorted(answer["InvalidLabels"])) == (3, ["1st", "awsy"])
    assert value(ssm, "/l:prod") == "v3"
    assert ssm.get_parameter(Name="/l:prod")["Parameter"]["Selector"] == ":prod"
    ssm.label_parameter_version(Name="/l", ParameterVersion=1, Labels=["prod"])
    assert value(ssm, "/l:prod") == "v1"
    history = {
        h["Version"]: h["Labels"] for h in ssm.get_parameter_history(Name="/l")["Parameters"]
    }
    assert history == {1: ["prod"], 2: [], 3: ["ok-1.x_"]}
    assert code_of(ssm.label_parameter_version, Name="/l", ParameterVersion=9, Labels=["x"]) == (
        "ParameterVersionNotFound"
    )
    assert code_of(ssm.label_parameter_version, Name="/none", Labels=["x"]) == "ParameterNotFound"
    ssm.label_parameter_version(Name="/l", ParameterVersion=2, Labels=[f"l{n}" for n in range(10)])
    assert code_of(ssm.label_parameter_version, Name="/l", ParameterVersion=2, Labels=["more"]) == (
        "ParameterVersionLabelLimitExceeded"
    )
    ssm.label_parameter_version(Name="/l", ParameterVersion=2, Labels=["l0"])  # already there
    removed = ssm.unlabel_parameter_version(Name="/l", ParameterVersion=1, Labels=["prod", "l0"])
    assert (removed["RemovedLabels"], removed["InvalidLabels"]) == (["prod"], ["l0"])
    assert code_of(ssm.get_parameter, Name="/l:prod") == "ParameterVersionNotFound"
    assert code_of(ssm.unlabel_parameter_version, Name="/l", ParameterVersion=7, Labels=["l0"]) == (
        "ParameterVersionNotFound"
    )


def test_a_hundred_versions_are_kept(ssm: Any) -> None:
    for n in range(1, 101):
        ssm.put_parameter(Name="/many", Value=f"v{n}", Type="String", Overwrite=n > 1)
    ssm.label_parameter_version(Name="/many", ParameterVersion=1, Labels=["first"])
    refused = error_of(ssm.put_parameter, Name="/many", Value="v101", Overwrite=True)
    assert refused["Code"] == "ParameterMaxVersionLimitExceeded"
    assert "Version 1" in refused["Message"]
    ssm.label_parameter_version(Name="/many", ParameterVersion=50, Labels=["first"])
    assert ssm.put_parameter(Name="/many", Value="v101", Overwrite=True)["Version"] == 101
    versions = [
        h["Version"]
        for page in ssm.get_paginator("get_parameter_history").paginate(Name="/many")
        for h in page["Parameters"]
    ]
    assert versions == list(range(2, 102))
    assert code_of(ssm.get_parameter, Name="/many:1") == "ParameterVersionNotFound"


@pytest.fixture
def tree(ssm: Any) -> Any:
    ssm.put_parameter(Name="/app/a", Value="a", Type="String")
    ssm.put_parameter(Name="/app/b", Value="b1", Type="StringList")
    ssm.put_parameter(Name="/app/b", Value="b2", Overwrite=True)
    ssm.put_parameter(Name="/app/secret", Value="s", Type="SecureString")
    ssm.put_parameter(Name="/app/deep/c", Value="c", Type="String", Tier="Advanced")
    ssm.put_parameter(Name="/other/d", Value="d", Type="String")
    ssm.put_parameter(Name="top", Value="t", Type="String")
    ssm.label_parameter_version(Name="/app/b", ParameterVersion=1, Labels=["old"])
    ssm.add_tags_to_resource(
        ResourceType="Parameter", ResourceId="/app/a", Tags=[{"Key": "team", "Value": "web"}]
    )
    return ssm


def names_by_path(ssm: Any, **params: Any) -> list[str]:
    pages = ssm.get_paginator("get_parameters_by_path").paginate(**params)
    return [p["Name"] for page in pages for p in page["Parameters"]]


def test_parameters_by_path(tree: Any) -> None:
    ssm = tree
    assert names_by_path(ssm, Path="/app") == ["/app/a", "/app/b", "/app/secret"]
    assert names_by_path(ssm, Path="/app/") == ["/app/a", "/app/b", "/app/secret"]
    assert names_by_path(ssm, Path="/app", Recursive=True) == [
        "/app/a",
        "/app/b",
        "/app/deep/c",
        "/app/secret",
    ]
    assert names_by_path(ssm, Path="/app/a") == []
    assert names_by_path(ssm, Path="/") == ["top"]
    assert len(names_by_path(ssm, Path="/", Recursive=True)) == 6
    only_lists = [{"Key": "Type", "Values": ["StringList"]}]
    assert names_by_path(ssm, Path="/app", ParameterFilters=only_lists) == ["/app/b"]
    by_key = [{"Key": "KeyId", "Option": "BeginsWith", "Values": ["alias/aws/"]}]
    assert names_by_path(ssm, Path="/app", ParameterFilters=by_key) == ["/app/secret"]
    labelled = ssm.get_parameters_by_path(
        Path="/app", ParameterFilters=[{"Key": "Label", "Values": ["old"]}]
    )["Parameters"]
    assert [(p["Name"], p["Value"], p["Version"]) for p in labelled] == [("/app/b", "b1", 1)]
    secret = ssm.get_parameters_by_path(
        Path="/app",
        WithDecryption=True,
        ParameterFilters=[{"Key": "Type", "Values": ["SecureString"]}],
    )
    assert secret["Parameters"][0]["Value"] == "s"
    first = ssm.get_parameters_by_path(Path="/", Recursive=True, MaxResults=4)
    assert len(first["Parameters"]) == 4 and first["NextToken"]
    rest = ssm.get_parameters_by_path(Path="/", Recursive=True, NextToken=first["NextToken"])
    assert len(rest["Parameters"]) == 2 and "NextToken" not in rest
    for filters, code in (
        ([{"Key": "Name", "Values": ["/app/a"]}], "InvalidFilterKey"),
        ([{"Key": "Tier", "Values": ["Standard"]}], "InvalidFilterKey"),
        ([{"Key": "Label", "Option": "BeginsWith", "Values": ["o"]}], "InvalidFilterOption"),
        ([{"Key": "Type", "Option": "Contains", "Values": ["S"]}], "InvalidFilterOption"),
        ([{"Key": "Type", "Values": ["Number"]}], "InvalidFilterValue"),
        ([{"Key": "Type"}], "InvalidFilterValue"),
    ):
        assert code_of(ssm.get_parameters_by_path, Path="/app", ParameterFilters=filters) == code
    assert code_of(ssm.get_parameters_by_path, Path="app") == "ValidationException"
    assert code_of(ssm.get_parameters_by_path, Path="/", NextToken="%%") == "InvalidNextToken"


def described(ssm: Any, **params: Any) -> list[str]:
    pages = ssm.get_paginator("describe_parameters").paginate(**params)
    return [p["Name"] for page in pages for p in page["Parameters"]]


@pytest.mark.parametrize(
    ("filters", "names"),
    [
        ([{"Key": "Name", "Values": ["/app/a"]}], ["/app/a"]),
        ([{"Key": "Name", "Option": "BeginsWith", "Values": ["/app/"]}], None),
        ([{"Key": "Name", "Option": "Contains", "Values": ["ec"]}], ["/app/secret"]),
        ([{"Key": "Type", "Values": ["String"]}], ["/app/a", "/app/deep/c", "/other/d", "top"]),
        ([{"Key": "KeyId", "Values": ["alias/aws/ssm"]}], ["/app/secret"]),
        ([{"Key": "Path", "Values": ["/app"]}], ["/app/a", "/app/b", "/app/secret"]),
        ([{"Key": "Path", "Option": "Recursive", "Values": ["/app/deep"]}], ["/app/deep/c"]),
        ([{"Key": "Path", "Values": ["/"]}], ["top"]),
        ([{"Key": "Tier", "Values": ["Advanced"]}], ["/app/deep/c"]),
        ([{"Key": "DataType", "Values": ["text"]}], None),
        ([{"Key": "tag:team", "Values": ["web"]}], ["/app/a"]),
        ([{"Key": "tag:team", "Option": "BeginsWith", "Values": ["w"]}], ["/app/a"]),
        ([{"Key": "tag:team"}], ["/app/a"]),
        ([{"Key": "tag:team", "Values": ["db"]}], []),
        (
            [
                {"Key": "Path", "Option": "Recursive", "Values": ["/app"]},
                {"Key": "Type", "Values": ["String"]},
            ],
            ["/app/a", "/app/deep/c"],
        ),
    ],
)
def test_describe_parameters_filters(
    tree: Any, filters: list[dict[str, Any]], names: list[str] | None
) -> None:
    everything_under_app = ["/app/a", "/app/b", "/app/deep/c", "/app/secret"]
    if names is None:
        names = everything_under_app if filters[0]["Key"] == "Name" else described(tree)
    assert described(tree, ParameterFilters=filters) == names


def test_describe_parameters(tree: Any) -> None:
    ssm = tree
    first = ssm.describe_parameters(MaxResults=5)
    assert len(first["Parameters"]) == 5
    rest = ssm.describe_parameters(MaxResults=5, NextToken=first["NextToken"])
    assert [p["Name"] for p in first["Parameters"] + rest["Parameters"]] == [
        "/app/a",
        "/app/b",
        "/app/deep/c",
        "/app/secret",
        "/other/d",
        "top",
    ]
    assert all("Value" not in p for p in first["Parameters"] + rest["Parameters"])
    b = next(p for p in first["Parameters"] if p["Name"] == "/app/b")
    assert (b["Version"], b["Type"], b["Tier"], b["DataType"]) == (
        2,
        "StringList",
        "Standard",
        "text",
    )
    assert described(ssm, Filters=[{"Key": "Name", "Values": ["/app/d"]}]) == ["/app/deep/c"]
    assert ssm.describe_parameters(Shared=True)["Parameters"] == []
    for filters, code in (
        ([{"Key": "Label", "Values": ["old"]}], "InvalidFilterKey"),
        ([{"Key": "Colour", "Values": ["red"]}], "ValidationException"),
        ([{"Key": "Name"}], "InvalidFilterValue"),
        ([{"Key": "Tier", "Values": ["Gold"]}], "InvalidFilterValue"),
        ([{"Key": "Path", "Option": "Equals", "Values": ["/app"]}], "InvalidFilterOption"),
        ([{"Key": "Name", "Option": "OneLevel", "Values": ["/app"]}], "InvalidFilterOption"),
        ([{"Key": "Path", "Values": ["app"]}], "ValidationException"),
        (
            [{"Key": "Type", "Values": ["String"]}, {"Key": "Type", "Values": ["StringList"]}],
            "InvalidFilterKey",
        ),
    ):
        assert code_of(ssm.describe_parameters, ParameterFilters=filters) == code
    both = error_of(
        ssm.describe_parameters,
        Filters=[{"Key": "Name", "Values": ["x"]}],
        ParameterFilters=[{"Key": "Name", "Values": ["x"]}],
    )
    assert both["Code"] == "ValidationException"


def test_deleting_parameters(tree: Any, cloud: Cloud) -> None:
    ssm = tree
    ssm.delete_parameter(Name="/app/a")
    assert code_of(ssm.get_parameter, Name="/app/a") == "ParameterNotFound"
    assert code_of(ssm.delete_parameter, Name="/app/a") == "ParameterNotFound"
    answer = ssm.delete_parameters(Names=["/app/b", "/nope", "top"])
    assert (answer["DeletedParameters"], answer["InvalidParameters"]) == (
        ["/app/b", "top"],
        ["/nope"],
    )
    # a name deleted and made again starts afresh: version 1, no labels, no tags
    ssm.put_parameter(Name="/app/a", Value="again", Type="String")
    ssm.put_parameter(Name="/app/b", Value="again", Type="String")
    assert ssm.get_parameter(Name="/app/a")["Parameter"]["Version"] == 1
    assert (
        ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/app/a")["TagList"] == []
    )
    assert code_of(ssm.get_parameter, Name="/app/b:old") == "ParameterVersionNotFound"


def test_tags(cloud: Cloud, ssm: Any) -> None:
    ssm.put_parameter(Name="/t", Value="v", Type="String", Tags=[{"Key": "team", "Value": "web"}])

    def listed() -> list[dict[str, str]]:
        return list(
            ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/t")["TagList"]
        )

    assert listed() == [{"Key": "team", "Value": "web"}]
    ssm.add_tags_to_resource(
        ResourceType="Parameter",
        ResourceId="/t",
        Tags=[{"Key": "team", "Value": "db"}, {"Key": "env", "Value": "prod"}],
    )
    assert listed() == [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "db"}]
    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId="/t", TagKeys=["team"])
    assert listed() == [{"Key": "env", "Value": "prod"}]
    many = [{"Key": f"k{n}", "Value": "v"} for n in range(50)]
    assert code_of(
        ssm.add_tags_to_resource, ResourceType="Parameter", ResourceId="/t", Tags=many
    ) == ("TooManyTagsError")
    assert code_of(
        ssm.add_tags_to_resource,
        ResourceType="Parameter",
        ResourceId="/t",
        Tags=[{"Key": "aws:x", "Value": "v"}],
    ) == ("ValidationException")
    assert code_of(ssm.list_tags_for_resource, ResourceType="Parameter", ResourceId="/none") == (
        "InvalidResourceId"
    )
    assert code_of(ssm.list_tags_for_resource, ResourceType="Document", ResourceId="/t") == (
        "InvalidResourceType"
    )
    assert client(cloud, "ec2").describe_tags()["Tags"] == []  # EC2's tags are apart
