"""DescribeInstanceTypes and DescribeInstanceTypeOfferings through a real boto3
client, the catalog data they show (EC2's real specifications), and the check
RunInstances makes of an instance type."""

import re
from functools import cache
from typing import Any

import botocore.session
import pytest
from botocore.config import Config

import amiable
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Cloud
from amiable.cloud.instances import instance_types, rules
from api_helpers import code_of, error_of

REGION = "ap-southeast-2"
BURSTABLE_SIZES = ("nano", "micro", "small", "medium", "large", "xlarge", "2xlarge")
OFFERED = {
    "t2": BURSTABLE_SIZES,
    "t3": BURSTABLE_SIZES,
    "t3a": BURSTABLE_SIZES,
    "t4g": BURSTABLE_SIZES,
    **{f: ("large", "xlarge", "2xlarge", "4xlarge") for f in ("m5", "m6i", "m7i", "c5", "c6i")},
    **{f: ("large", "xlarge", "2xlarge", "4xlarge") for f in ("r5", "r6i")},
    **{f: ("medium", "large", "xlarge", "2xlarge", "4xlarge") for f in ("m6g", "m7g", "c7g")},
    "m1": ("small",),
    "t1": ("micro",),
}
NAMES = sorted(f"{family}.{size}" for family, sizes in OFFERED.items() for size in sizes)
REQUIRED = (
    "InstanceType",
    "CurrentGeneration",
    "FreeTierEligible",
    "SupportedUsageClasses",
    "SupportedRootDeviceTypes",
    "SupportedVirtualizationTypes",
    "BareMetal",
    "Hypervisor",
    "ProcessorInfo.SupportedArchitectures",
    "ProcessorInfo.Manufacturer",
    "VCpuInfo.DefaultVCpus",
    "VCpuInfo.DefaultCores",
    "VCpuInfo.DefaultThreadsPerCore",
    "MemoryInfo.SizeInMiB",
    "InstanceStorageSupported",
    "EbsInfo.EbsOptimizedSupport",
    "EbsInfo.EncryptionSupport",
    "EbsInfo.NvmeSupport",
    "NetworkInfo.NetworkPerformance",
    "NetworkInfo.MaximumNetworkInterfaces",
    "NetworkInfo.Ipv4AddressesPerInterface",
    "NetworkInfo.Ipv6AddressesPerInterface",
    "NetworkInfo.Ipv6Supported",
    "NetworkInfo.EnaSupport",
    "NetworkInfo.NetworkCards",
    "PlacementGroupInfo.SupportedStrategies",
    "HibernationSupported",
    "BurstablePerformanceSupported",
    "DedicatedHostsSupported",
    "AutoRecoverySupported",
    "SupportedBootModes",
    "NitroEnclavesSupport",
    "NitroTpmSupport",
)
# EC2 gives no sustained clock speed for these previous-generation Xen types.
NO_CLOCK_SPEED = {"m1.small", "t1.micro"}


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> amiable.Session:
    """One cloud for the module: nothing here changes anything."""
    return amiable.Session(cloud=Cloud(tmp_path_factory.mktemp("types") / "home"), region=REGION)


@pytest.fixture(scope="module")
def ec2(session: amiable.Session) -> Any:
    return session.client("ec2")


@cache
def ec2_model() -> Any:
    return botocore.session.get_session().get_service_model("ec2")


def described(ec2: Any, *filters: tuple[str, list[str]], **params: Any) -> list[str]:
    """The names DescribeInstanceTypes answers (every page) for these filters."""
    wanted = [{"Name": name, "Values": values} for name, values in filters]
    pages = ec2.get_paginator("describe_instance_types").paginate(Filters=wanted, **params)
    return [t["InstanceType"] for p in pages for t in p["InstanceTypes"]]


def info(ec2: Any, name: str) -> dict[str, Any]:
    return dict(ec2.describe_instance_types(InstanceTypes=[name])["InstanceTypes"][0])


def member(value: Any, path: str) -> Any:
    for key in path.split("."):
        value = value[key]
    return value


def problems(value: Any, shape: Any, where: str) -> list[str]:
    """How `value` departs from a botocore output shape (members, types, enums)."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where}: not a structure"]
        found = [f"{where}.{k}: not a member" for k in value if k not in shape.members]
        for key, item in value.items():
            if key in shape.members:
                found += problems(item, shape.members[key], f"{where}.{key}")
        return found
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        return [p for i, v in enumerate(value) for p in problems(v, shape.member, f"{where}[{i}]")]
    python = {"boolean": bool, "integer": int, "long": int, "double": float, "string": str}
    if not isinstance(value, python[kind]) or (kind != "boolean" and isinstance(value, bool)):
        return [f"{where}: not a {kind}"]
    if kind == "string" and shape.enum and value not in shape.enum:
        return [f"{where}: {value!r} not one of botocore's values"]
    return []


# The data file


def test_the_catalog_has_the_families_and_sizes_and_only_names_ec2_knows() -> None:
    assert list(instance_types.catalog()) == NAMES
    assert set(NAMES) <= set(ec2_model().shape_for("InstanceType").enum)
    assert instance_types.known_types() == set(ec2_model().shape_for("InstanceType").enum)


@pytest.mark.parametrize("name", NAMES)
def test_every_entry_has_every_field_in_botocore_s_shape(name: str) -> None:
    entry = instance_types.catalog()[name]
    for path in REQUIRED:
        member(entry, path)
    assert ("SustainedClockSpeedInGhz" in entry["ProcessorInfo"]) == (name not in NO_CLOCK_SPEED)
    assert problems(entry, ec2_model().shape_for("InstanceTypeInfo"), name) == []


@pytest.mark.parametrize("name", NAMES)
def test_every_entry_is_consistent_in_itself(name: str) -> None:
    entry = instance_types.catalog()[name]
    cpu, network = entry["VCpuInfo"], entry["NetworkInfo"]
    assert cpu["DefaultVCpus"] == cpu["DefaultCores"] * cpu["DefaultThreadsPerCore"]
    assert cpu["DefaultCores"] in cpu.get("ValidCores", [cpu["DefaultCores"]])
    assert cpu["DefaultThreadsPerCore"] in cpu.get("ValidThreadsPerCore", [1])
    card = network["NetworkCards"][0]
    assert (card["NetworkPerformance"], card["MaximumNetworkInterfaces"]) == (
        network["NetworkPerformance"],
        network["MaximumNetworkInterfaces"],
    )
    assert network["Ipv6Supported"] == (network["Ipv6AddressesPerInterface"] > 0)
    storage = entry["InstanceStorageSupported"]
    assert storage == ("InstanceStorageInfo" in entry)
    assert storage == ("instance-store" in entry["SupportedRootDeviceTypes"])
    arm = entry["ProcessorInfo"]["SupportedArchitectures"] == ["arm64"]
    assert arm == (entry["SupportedBootModes"] == ["uefi"])
    assert (entry["Hypervisor"] == "nitro") == (entry["EbsInfo"]["NvmeSupport"] == "required")


def test_limits_of_a_type_are_its_vcpus_and_memory() -> None:
    assert instance_types.limits_of("t3.micro") == (2, 1024)
    assert instance_types.limits_of("m5.4xlarge") == (16, 65536)
    assert instance_types.limits_of("m6g.medium") == (1, 4096)
    assert instance_types.limits_of("m1.small") == (1, 1740)
    with pytest.raises(KeyError):
        instance_types.limits_of("p5.48xlarge")


# DescribeInstanceTypes


def test_named_types_show_ec2_s_numbers(ec2: Any) -> None:
    micro = info(ec2, "t3.micro")
    assert (micro["VCpuInfo"]["DefaultVCpus"], micro["MemoryInfo"]["SizeInMiB"]) == (2, 1024)
    assert micro["ProcessorInfo"] == {
        "SupportedArchitectures": ["x86_64"],
        "SustainedClockSpeedInGhz": 2.5,
        "Manufacturer": "Intel",
    }
    assert (micro["FreeTierEligible"], micro["BurstablePerformanceSupported"]) == (True, True)
    assert micro["NetworkInfo"]["NetworkPerformance"] == "Up to 5 Gigabit"
    assert (micro["Hypervisor"], micro["SupportedBootModes"]) == ("nitro", ["legacy-bios", "uefi"])
    large = info(ec2, "m5.large")
    assert large["VCpuInfo"] == {
        "DefaultVCpus": 2,
        "DefaultCores": 1,
        "DefaultThreadsPerCore": 2,
        "ValidCores": [1],
        "ValidThreadsPerCore": [1, 2],
    }
    assert large["MemoryInfo"] == {"SizeInMiB": 8192}
    network = large["NetworkInfo"]
    assert (network["MaximumNetworkInterfaces"], network["Ipv4AddressesPerInterface"]) == (3, 10)
    assert (large["BurstablePerformanceSupported"], large["FreeTierEligible"]) == (False, False)
    assert large["EbsInfo"]["EbsOptimizedSupport"] == "default"
    small = info(ec2, "t4g.small")
    assert small["ProcessorInfo"]["SupportedArchitectures"] == ["arm64"]
    assert (small["VCpuInfo"]["DefaultVCpus"], small["MemoryInfo"]["SizeInMiB"]) == (2, 2048)
    assert small["SupportedBootModes"] == ["uefi"]


def test_the_previous_generation_default_type_is_shown_as_ec2_shows_it(ec2: Any) -> None:
    m1 = info(ec2, "m1.small")
    assert (m1["CurrentGeneration"], m1["Hypervisor"]) == (False, "xen")
    assert m1["ProcessorInfo"]["SupportedArchitectures"] == ["i386", "x86_64"]
    assert m1["SupportedVirtualizationTypes"] == ["hvm", "paravirtual"]
    assert m1["SupportedRootDeviceTypes"] == ["ebs", "instance-store"]
    assert m1["InstanceStorageInfo"]["Disks"] == [{"SizeInGB": 160, "Count": 1, "Type": "hdd"}]
    assert m1["EbsInfo"]["EbsOptimizedSupport"] == "unsupported"
    t1 = info(ec2, "t1.micro")
    assert (t1["MemoryInfo"]["SizeInMiB"], t1["NetworkInfo"]["NetworkPerformance"]) == (
        627,
        "Very Low",
    )
    assert t1["InstanceStorageSupported"] is False


def test_without_names_or_filters_every_type_is_described_once(ec2: Any) -> None:
    assert [t["InstanceType"] for t in ec2.describe_instance_types()["InstanceTypes"]] == NAMES


def test_names_asked_for_are_described_once_each(ec2: Any) -> None:
    answer = ec2.describe_instance_types(InstanceTypes=["t3.micro", "c5.large", "t3.micro"])
    assert [t["InstanceType"] for t in answer["InstanceTypes"]] == ["c5.large", "t3.micro"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([("instance-type", ["t3.*"])], [f"t3.{s}" for s in BURSTABLE_SIZES]),
        (
            [("instance-type", ["m?g.medium", "c7g.medium"])],
            ["c7g.medium", "m6g.medium", "m7g.medium"],
        ),
        ([("free-tier-eligible", ["true"])], ["t2.micro", "t3.micro"]),
        ([("hypervisor", ["xen"]), ("current-generation", ["false"])], ["m1.small", "t1.micro"]),
        ([("supported-virtualization-type", ["paravirtual"])], ["m1.small", "t1.micro"]),
        ([("supported-root-device-type", ["instance-store"])], ["m1.small"]),
        ([("instance-storage-supported", ["true"])], ["m1.small"]),
        (
            [("processor-info.supported-architecture", ["i386"])],
            ["m1.small", "t1.micro", "t2.medium", "t2.micro", "t2.nano", "t2.small"],
        ),
        (
            [("memory-info.size-in-mib", ["1024"])],
            ["t2.micro", "t3.micro", "t3a.micro", "t4g.micro"],
        ),
        (
            [("vcpu-info.default-vcpus", ["16"]), ("vcpu-info.default-cores", ["16"])],
            ["c7g.4xlarge", "m6g.4xlarge", "m7g.4xlarge"],
        ),
        (
            [("vcpu-info.valid-threads-per-core", ["1,2"]), ("instance-type", ["c6i.*"])],
            ["c6i.2xlarge", "c6i.4xlarge", "c6i.large", "c6i.xlarge"],
        ),
        (
            [("network-info.network-performance", ["Up to 15 Gigabit"])],
            ["c7g.2xlarge", "c7g.4xlarge", "m7g.2xlarge", "m7g.4xlarge"],
        ),
        (
            [("processor-info.sustained-clock-speed-in-ghz", ["3.2"])],
            ["m7i.2xlarge", "m7i.4xlarge", "m7i.large", "m7i.xlarge"],
        ),
        (
            [
                ("ebs-info.ebs-optimized-info.maximum-throughput-in-mbps", ["1250"]),
                ("instance-type", ["c6i.*"]),
            ],
            ["c6i.2xlarge", "c6i.4xlarge", "c6i.large", "c6i.xlarge"],
        ),
        (
            [("supported-usage-class", ["on-demand"]), ("instance-type", ["t2.*"])],
            [f"t2.{s}" for s in BURSTABLE_SIZES],
        ),
        ([("bare-metal", ["true"])], []),
    ],
)
def test_filters_choose_types(
    ec2: Any, filters: list[tuple[str, list[str]]], expected: list[str]
) -> None:
    assert described(ec2, *filters) == sorted(expected)


def test_filters_on_flags_and_classes_split_the_catalog(ec2: Any) -> None:
    burstable = described(ec2, ("burstable-performance-supported", ["true"]))
    assert burstable == [n for n in NAMES if n.split(".")[0] in {"t2", "t3", "t3a", "t4g"}]
    spot = described(ec2, ("supported-usage-class", ["spot"]))
    assert sorted(set(NAMES) - set(spot)) == ["t2.nano"]
    arm = described(ec2, ("processor-info.supported-architecture", ["arm64"]))
    assert {n.split(".")[0] for n in arm} == {"t4g", "m6g", "m7g", "c7g"}


def test_filters_narrow_the_names_asked_for(ec2: Any) -> None:
    x86 = ("processor-info.supported-architecture", ["x86_64"])
    asked = ["t3.micro", "t4g.micro", "m5.large"]
    assert described(ec2, x86, InstanceTypes=asked) == ["m5.large", "t3.micro"]


def test_an_unknown_filter_is_invalid(ec2: Any) -> None:
    error = error_of(ec2.describe_instance_types, Filters=[{"Name": "colour", "Values": ["red"]}])
    assert (error["Code"], error["Message"]) == (
        "InvalidParameterValue",
        "The filter 'colour' is invalid",
    )


def test_types_ec2_has_but_this_host_does_not_offer_and_unknown_names_do_not_exist(
    ec2: Any,
) -> None:
    error = error_of(
        ec2.describe_instance_types, InstanceTypes=["t3.micro", "p5.48xlarge", "m9.huge"]
    )
    assert error["Code"] == "InvalidInstanceType"
    assert (
        error["Message"]
        == "The following supplied instance types do not exist: [p5.48xlarge, m9.huge]"
    )


def test_pages_of_any_size_collect_every_type_exactly_once(ec2: Any) -> None:
    for size in (5, 7, 100):
        assert described(ec2, PaginationConfig={"PageSize": size}) == NAMES
    first = ec2.describe_instance_types(MaxResults=5)
    assert len(first["InstanceTypes"]) == 5
    rest = ec2.describe_instance_types(MaxResults=100, NextToken=first["NextToken"])
    assert "NextToken" not in rest
    names = [t["InstanceType"] for t in first["InstanceTypes"] + rest["InstanceTypes"]]
    assert names == NAMES


def test_max_results_is_5_to_100_and_tokens_are_checked(session: amiable.Session, ec2: Any) -> None:
    error = error_of(ec2.describe_instance_types, MaxResults=101)
    assert error["Code"] == "InvalidParameterValue"
    assert "MaxResults" in error["Message"]
    unchecked = session.client("ec2", config=Config(parameter_validation=False))
    assert code_of(unchecked.describe_instance_types, MaxResults=4) == "InvalidParameterValue"
    assert (
        code_of(ec2.describe_instance_types, NextToken="not a token!") == "InvalidPaginationToken"
    )


def test_dry_run_answers_dry_run_operation(ec2: Any) -> None:
    assert code_of(ec2.describe_instance_types, DryRun=True) == "DryRunOperation"
    assert code_of(ec2.describe_instance_type_offerings, DryRun=True) == "DryRunOperation"


def test_every_documented_filter_is_understood(ec2: Any) -> None:
    request = ec2_model().operation_model("DescribeInstanceTypes").input_shape
    documented = set(
        re.findall(r"<code>([a-z0-9.-]+)</code> - ", request.members["Filters"].documentation)
    )
    assert documented == set(instance_types.TYPE_FILTERS)
    every = [{"Name": name, "Values": ["*"]} for name in sorted(documented)]
    assert ec2.describe_instance_types(Filters=every)["InstanceTypes"] == []


# DescribeInstanceTypeOfferings


def zones(ec2: Any) -> list[dict[str, Any]]:
    return list(ec2.describe_availability_zones()["AvailabilityZones"])


def offerings(ec2: Any, **params: Any) -> list[tuple[str, str, str]]:
    pages = ec2.get_paginator("describe_instance_type_offerings").paginate(**params)
    return [
        (o["Location"], o["InstanceType"], o["LocationType"])
        for p in pages
        for o in p["InstanceTypeOfferings"]
    ]


def test_every_type_is_offered_in_the_region_by_default(ec2: Any) -> None:
    assert offerings(ec2) == [(REGION, n, "region") for n in NAMES]
    assert offerings(ec2, LocationType="region") == offerings(ec2)


def test_every_type_is_offered_in_every_zone_by_name_and_by_id(ec2: Any) -> None:
    names = sorted(z["ZoneName"] for z in zones(ec2))
    ids = sorted(z["ZoneId"] for z in zones(ec2))
    assert ids == ["apse2-az1", "apse2-az2", "apse2-az3"]
    assert offerings(ec2, LocationType="availability-zone") == [
        (zone, n, "availability-zone") for zone in names for n in NAMES
    ]
    assert offerings(ec2, LocationType="availability-zone-id") == [
        (zone, n, "availability-zone-id") for zone in ids for n in NAMES
    ]


def test_offerings_are_filtered_by_location_and_type(ec2: Any) -> None:
    chosen = offerings(
        ec2,
        LocationType="availability-zone",
        Filters=[
            {"Name": "location", "Values": [f"{REGION}b"]},
            {"Name": "instance-type", "Values": ["m7g.*", "t3.micro"]},
        ],
    )
    expected = ["m7g.2xlarge", "m7g.4xlarge", "m7g.large", "m7g.medium", "m7g.xlarge", "t3.micro"]
    assert chosen == [(f"{REGION}b", n, "availability-zone") for n in expected]
    by_id = offerings(
        ec2,
        LocationType="availability-zone-id",
        Filters=[
            {"Name": "location", "Values": ["apse2-az3"]},
            {"Name": "instance-type", "Values": ["m1.small"]},
        ],
    )
    assert by_id == [("apse2-az3", "m1.small", "availability-zone-id")]
    elsewhere = [{"Name": "location", "Values": ["us-east-1"]}]
    assert offerings(ec2, Filters=elsewhere) == []
    assert offerings(ec2, LocationType="outpost") == []


def test_offerings_are_paged_5_to_1000(session: amiable.Session, ec2: Any) -> None:
    everything = offerings(ec2, LocationType="availability-zone")
    assert (
        offerings(ec2, LocationType="availability-zone", PaginationConfig={"PageSize": 50})
        == everything
    )
    assert code_of(ec2.describe_instance_type_offerings, MaxResults=1001) == "InvalidParameterValue"
    unchecked = session.client("ec2", config=Config(parameter_validation=False))
    assert (
        code_of(unchecked.describe_instance_type_offerings, MaxResults=4) == "InvalidParameterValue"
    )
    assert (
        code_of(ec2.describe_instance_type_offerings, LocationType="galaxy")
        == "InvalidParameterValue"
    )


def test_another_region_offers_the_same_types_in_its_own_zones(session: amiable.Session) -> None:
    virginia = session.client("ec2", region_name="us-east-1")
    offered = offerings(
        virginia,
        LocationType="availability-zone-id",
        Filters=[{"Name": "instance-type", "Values": ["t3.micro"]}],
    )
    assert [o[0] for o in offered] == ["use1-az1", "use1-az2", "use1-az3"]
    assert described(virginia) == NAMES


# The check RunInstances and ModifyInstanceAttribute make


def test_an_offered_type_passes_the_check() -> None:
    for name in NAMES:
        assert rules.check_instance_type(name) == name


def test_a_name_ec2_does_not_know_is_an_invalid_value() -> None:
    with pytest.raises(ApiError) as caught:
        rules.check_instance_type("m9.huge")
    assert (caught.value.code, caught.value.message) == (
        "InvalidParameterValue",
        "Invalid value 'm9.huge' for InstanceType.",
    )


def test_a_type_ec2_knows_but_this_host_does_not_offer_is_unsupported() -> None:
    with pytest.raises(ApiError) as caught:
        rules.check_instance_type("p5.48xlarge")
    assert caught.value.code == "Unsupported"
    assert caught.value.message == (
        "The requested configuration is currently not supported. "
        "Please check the documentation for supported configurations."
    )
