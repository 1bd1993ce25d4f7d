"""The instance types this host offers: DescribeInstanceTypes,
DescribeInstanceTypeOfferings, and the lookups RunInstances and the sandbox
use (`known_types`, `catalog`, `limits_of`).

The catalog is data, `instance_types.json` beside this module: for each type,
what EC2's DescribeInstanceTypes answers for it (an `InstanceTypeInfo`, with
botocore's member names), written once per family (`families`: what every
size of the family shares) and once per size (`types`: what that size adds,
merged over its family's part). Every type is offered in every region and
every zone amiable has.
"""

import copy
import json
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

import botocore.loaders

from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError, invalid_value
from amiable.cloud.core.filters import Extractor, field, select
from amiable.cloud.core.pages import page
from amiable.cloud.core.regions import describe_availability_zones

TYPE_PAGE_LIMITS = (5, 100)
OFFERING_PAGE_LIMITS = (5, 1000)
LOCATION_TYPES = ("region", "availability-zone", "availability-zone-id", "outpost")
_ZONE_MEMBERS = {"availability-zone": "ZoneName", "availability-zone-id": "ZoneId"}


@cache
def known_types() -> frozenset[str]:
    """Every instance type EC2 knows: the `InstanceType` enum of botocore's model."""
    model = botocore.loaders.create_loader().load_service_model("ec2", "service-2")
    return frozenset(model["shapes"]["InstanceType"]["enum"])


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `extra` over it; nested structures are merged member by member."""
    merged = dict(base)
    for key, value in extra.items():
        below = merged.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            value = _merged(below, value)
        merged[key] = value
    return merged


@cache
def catalog() -> dict[str, dict[str, Any]]:
    """Every type offered here, by name in name order, as DescribeInstanceTypes
    shows it (shared: callers copy before changing anything)."""
    text = resources.files(__package__).joinpath("instance_types.json").read_text()
    data = json.loads(text)
    families = data["families"]
    return {
        name: {"InstanceType": name, **_merged(families[name.split(".")[0]], part)}
        for name, part in sorted(data["types"].items())
    }


def limits_of(instance_type: str) -> tuple[int, int]:
    """(default vCPUs, memory in MiB) of a type offered here (KeyError otherwise):
    the sandbox's CPU and memory limits."""
    info = catalog()[instance_type]
    return info["VCpuInfo"]["DefaultVCpus"], info["MemoryInfo"]["SizeInMiB"]


def _texts(value: Any) -> list[str]:
    """How a filter value may name `value`: booleans as `true`/`false`, a whole
    double also without its `.0`."""
    if isinstance(value, bool):
        return [str(value).lower()]
    if isinstance(value, float) and value.is_integer():
        return [str(int(value)), str(value)]
    return [str(value)]


def _path(path: str) -> Extractor:
    """Values at a dotted member path; lists on the way are walked into, and a
    list at the end also matches as its comma-joined values (`1,2`)."""
    keys = path.split(".")

    def extract(item: Mapping[str, Any]) -> Iterable[str]:
        found: list[Any] = [item]
        for key in keys:
            found = [v.get(key) for v in found if isinstance(v, Mapping) and key in v]
            found = [x for v in found for x in (v if isinstance(v, list) else [v])]
        texts = [t for v in found for t in _texts(v)]
        joined = [",".join(_texts(v)[0] for v in found)] if len(found) > 1 else []
        return texts + joined

    return extract


_TYPE_FILTER_PATHS = {
    "auto-recovery-supported": "AutoRecoverySupported",
    "bare-metal": "BareMetal",
    "burstable-performance-supported": "BurstablePerformanceSupported",
    "current-generation": "CurrentGeneration",
    "dedicated-hosts-supported": "DedicatedHostsSupported",
    "ebs-info.attachment-limit-type": "EbsInfo.AttachmentLimitType",
    "ebs-info.maximum-ebs-attachments": "EbsInfo.MaximumEbsAttachments",
    "ebs-info.ebs-optimized-info.baseline-bandwidth-in-mbps": (
        "EbsInfo.EbsOptimizedInfo.BaselineBandwidthInMbps"
    ),
    "ebs-info.ebs-optimized-info.baseline-iops": "EbsInfo.EbsOptimizedInfo.BaselineIops",
    "ebs-info.ebs-optimized-info.baseline-throughput-in-mbps": (
        "EbsInfo.EbsOptimizedInfo.BaselineThroughputInMBps"
    ),
    "ebs-info.ebs-optimized-info.maximum-bandwidth-in-mbps": (
        "EbsInfo.EbsOptimizedInfo.MaximumBandwidthInMbps"
    ),
    "ebs-info.ebs-optimized-info.maximum-iops": "EbsInfo.EbsOptimizedInfo.MaximumIops",
    "ebs-info.ebs-optimized-info.maximum-throughput-in-mbps": (
        "EbsInfo.EbsOptimizedInfo.MaximumThroughputInMBps"
    ),
    "ebs-info.ebs-optimized-support": "EbsInfo.EbsOptimizedSupport",
    "ebs-info.encryption-support": "EbsInfo.EncryptionSupport",
    "ebs-info.nvme-support": "EbsInfo.NvmeSupport",
    "free-tier-eligible": "FreeTierEligible",
    "hibernation-supported": "HibernationSupported",
    "hypervisor": "Hypervisor",
    "instance-storage-info.disk.count": "InstanceStorageInfo.Disks.Count",
    "instance-storage-info.disk.size-in-gb": "InstanceStorageInfo.Disks.SizeInGB",
    "instance-storage-info.disk.type": "InstanceStorageInfo.Disks.Type",
    "instance-storage-info.encryption-support": "InstanceStorageInfo.EncryptionSupport",
    "instance-storage-info.nvme-support": "InstanceStorageInfo.NvmeSupport",
    "instance-storage-info.total-size-in-gb": "InstanceStorageInfo.TotalSizeInGB",
    "instance-storage-supported": "InstanceStorageSupported",
    "instance-type": "InstanceType",
    "memory-info.size-in-mib": "MemoryInfo.SizeInMiB",
    "network-info.bandwidth-weightings": "NetworkInfo.BandwidthWeightings",
    "network-info.efa-info.maximum-efa-interfaces": "NetworkInfo.EfaInfo.MaximumEfaInterfaces",
    "network-info.efa-supported": "NetworkInfo.EfaSupported",
    "network-info.ena-support": "NetworkInfo.EnaSupport",
    "network-info.flexible-ena-queues-support": "NetworkInfo.FlexibleEnaQueuesSupport",
    "network-info.encryption-in-transit-supported": "NetworkInfo.EncryptionInTransitSupported",
    "network-info.ipv4-addresses-per-interface": "NetworkInfo.Ipv4AddressesPerInterface",
    "network-info.ipv6-addresses-per-interface": "NetworkInfo.Ipv6AddressesPerInterface",
    "network-info.ipv6-supported": "NetworkInfo.Ipv6Supported",
    "network-info.maximum-network-cards": "NetworkInfo.MaximumNetworkCards",
    "network-info.maximum-network-interfaces": "NetworkInfo.MaximumNetworkInterfaces",
    "network-info.network-performance": "NetworkInfo.NetworkPerformance",
    "nitro-enclaves-support": "NitroEnclavesSupport",
    "nitro-tpm-support": "NitroTpmSupport",
    "nitro-tpm-info.supported-versions": "NitroTpmInfo.SupportedVersions",
    "processor-info.supported-architecture": "ProcessorInfo.SupportedArchitectures",
    "processor-info.sustained-clock-speed-in-ghz": "ProcessorInfo.SustainedClockSpeedInGhz",
    "processor-info.supported-features": "ProcessorInfo.SupportedFeatures",
    "reboot-migration-support": "RebootMigrationSupport",
    "supported-boot-mode": "SupportedBootModes",
    "supported-root-device-type": "SupportedRootDeviceTypes",
    "supported-usage-class": "SupportedUsageClasses",
    "supported-virtualization-type": "SupportedVirtualizationTypes",
    "vcpu-info.default-cores": "VCpuInfo.DefaultCores",
    "vcpu-info.default-threads-per-core": "VCpuInfo.DefaultThreadsPerCore",
    "vcpu-info.default-vcpus": "VCpuInfo.DefaultVCpus",
    "vcpu-info.valid-cores": "VCpuInfo.ValidCores",
    "vcpu-info.valid-threads-per-core": "VCpuInfo.ValidThreadsPerCore",
}
TYPE_FILTERS = {name: _path(path) for name, path in _TYPE_FILTER_PATHS.items()}
OFFERING_FILTERS = {"instance-type": field("InstanceType"), "location": field("Location")}


def _described(names: list[str]) -> list[dict[str, Any]]:
    """The types asked for (all of them if none), InvalidInstanceType for any
    that is not offered here."""
    offered = catalog()
    missing = [n for n in dict.fromkeys(names) if n not in offered]
    if missing:
        raise ApiError(
            "InvalidInstanceType",
            f"The following supplied instance types do not exist: [{', '.join(missing)}]",
        )
    return [offered[n] for n in sorted(set(names))] if names else list(offered.values())


@action("ec2", "DescribeInstanceTypes")
def describe_instance_types(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    asked = _described(params.get("InstanceTypes") or [])
    chosen = select(asked, params.get("Filters"), TYPE_FILTERS)
    shown, token = page(chosen, "InstanceType", params, TYPE_PAGE_LIMITS)
    return {"InstanceTypes": copy.deepcopy(shown), "NextToken": token}


def _locations(ctx: Context, location_type: str) -> list[str]:
    """The region's locations of one kind, zones as DescribeAvailabilityZones
    names them (no outposts here)."""
    if location_type not in LOCATION_TYPES:
        raise invalid_value("LocationType", location_type, f"must be one of {LOCATION_TYPES}")
    if location_type == "region":
        return [ctx.region]
    if location_type == "outpost":
        return []
    member = _ZONE_MEMBERS[location_type]
    return sorted(z[member] for z in describe_availability_zones(ctx, {})["AvailabilityZones"])


def _offering_key(offering: dict[str, Any]) -> str:
    return f"{offering['Location']} {offering['InstanceType']}"


@action("ec2", "DescribeInstanceTypeOfferings")
def describe_instance_type_offerings(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    location_type = params.get("LocationType") or "region"
    offerings = sorted(
        (
            {"InstanceType": name, "LocationType": location_type, "Location": location}
            for location in _locations(ctx, location_type)
            for name in catalog()
        ),
        key=_offering_key,
    )
    chosen = select(offerings, params.get("Filters"), OFFERING_FILTERS)
    shown, token = page(chosen, _offering_key, params, OFFERING_PAGE_LIMITS)
    return {"InstanceTypeOfferings": shown, "NextToken": token}
