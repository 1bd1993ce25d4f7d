"""What the rules read, through public EC2 calls only, each asked at most
once per audit and only when a rule reads it: per region the images
(DescribeImages), the account's settings (block public access for images
and snapshots, Allowed AMIs) and what still uses the retired images
(DescribeImageReferences, ten images a call); per image its launch
permissions, its snapshots' createVolumePermission and its ancestors
(GetImageAncestry, each ancestor described in its own region, once whichever
images share it).

What only an image's owner may read (launch permissions, snapshot
attributes, tags) raises `Skip` for the images of other accounts.
"""

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from itertools import pairwise
from typing import Any

from botocore.exceptions import ClientError

from .findings import Skip

ClientOf = Callable[[str], Any]  # region -> boto3 EC2 client
GONE = ("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable")
IN_USE_STATES = ["pending", "running", "stopping", "stopped"]
REFERENCE_TYPES = [
    {
        "ResourceType": "ec2:Instance",
        "ResourceTypeOptions": [{"OptionName": "state-name", "OptionValues": IN_USE_STATES}],
    },
    {"ResourceType": "ec2:LaunchTemplate"},
    {"ResourceType": "ssm:Parameter"},
]
REFERENCES_PER_CALL = 10  # DescribeImageReferences' ImageIds
OWNER_ONLY = "only the image's owner may read its {what}"


def parse_time(text: str) -> datetime:
    """EC2's timestamps (`2024-05-01T12:00:00.000Z`) as aware datetimes."""
    return datetime.fromisoformat(text)


def deprecated(image: dict[str, Any], now: datetime) -> bool:
    """Whether the image is past its DeprecationTime."""
    return "DeprecationTime" in image and parse_time(image["DeprecationTime"]) <= now


def retired(image: dict[str, Any], now: datetime) -> bool:
    """Deprecated or disabled: no longer meant to be launched."""
    return image.get("State") == "disabled" or deprecated(image, now)


@dataclass(frozen=True)
class Selection:
    """Which images to audit in each region: by owner (`self`, an alias, an
    account id) and by id; None for either is any."""

    owners: list[str] | None = None
    image_ids: list[str] | None = None

    def describe_images(self) -> dict[str, Any]:
        """DescribeImages parameters (ids as a filter: each id lives in one region)."""
        params: dict[str, Any] = {"IncludeDeprecated": True, "IncludeDisabled": True}
        if self.owners:
            params["Owners"] = self.owners
        if self.image_ids:
            params["Filters"] = [{"Name": "image-id", "Values": self.image_ids}]
        return params


@dataclass(frozen=True)
class Ancestor:
    image_id: str
    region: str
    image: dict[str, Any] | None  # None: the caller cannot describe it (gone or not shared)

    def revoked(self, now: datetime) -> str | None:
        """Why this ancestor is no longer good to build on, or None."""
        if self.image is None:
            return "gone"
        if self.image.get("State") == "disabled":
            return "disabled"
        return "deprecated" if deprecated(self.image, now) else None


class Lineage:
    """Ancestors, each described once per audit in its own region."""

    def __init__(self, ec2_of: ClientOf) -> None:
        self._ec2_of = ec2_of
        self._described: dict[tuple[str, str], Ancestor] = {}
        self._lock = threading.Lock()

    def ancestors(self, image: dict[str, Any], region: str) -> list[Ancestor]:
        """The image's ancestors, parent first. A chain that ends naming a
        parent (deregistered, or not visible to the caller) ends with that
        parent, undescribed."""
        if not image.get("SourceImageId"):
            return []
        ec2 = self._ec2_of(region)
        entries = ec2.get_image_ancestry(ImageId=image["ImageId"])["ImageAncestryEntries"]
        found = []
        for child, parent in pairwise(entries):
            region = child.get("SourceImageRegion", region)  # where the parent lives
            found.append(self.describe(region, parent["ImageId"]))
        last = entries[-1]
        if last.get("SourceImageId"):
            found.append(Ancestor(last["SourceImageId"], last["SourceImageRegion"], None))
        return found

    def describe(self, region: str, image_id: str) -> Ancestor:
        key = (region, image_id)
        with self._lock:
            known = self._described.get(key)
        if known is None:
            known = Ancestor(image_id, region, self._image(region, image_id))
            with self._lock:
                self._described[key] = known
        return known

    def _image(self, region: str, image_id: str) -> dict[str, Any] | None:
        try:
            images = self._ec2_of(region).describe_images(
                ImageIds=[image_id], IncludeDeprecated=True, IncludeDisabled=True
            )["Images"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in GONE:
                return None
            raise
        live = [i for i in images if i.get("State") != "deregistered"]
        return live[0] if live else None


class RegionFacts:
    """One region of the audit: its images and the account's settings there."""

    def __init__(
        self,
        ec2: Any,
        name: str,
        account: str,
        now: datetime,
        selection: Selection,
        lineage: Lineage,
    ) -> None:
        self.ec2 = ec2
        self.name = name
        self.account = account
        self.now = now
        self.selection = selection
        self.lineage = lineage

    @cached_property
    def images(self) -> list["ImageFacts"]:
        pages = self.ec2.get_paginator("describe_images").paginate(
            **self.selection.describe_images()
        )
        found = [image for page in pages for image in page["Images"]]
        found.sort(key=lambda image: str(image["ImageId"]))
        return [ImageFacts(self, image) for image in found]

    @cached_property
    def image_block_public_access(self) -> str:
        answer = self.ec2.get_image_block_public_access_state()
        return str(answer["ImageBlockPublicAccessState"])

    @cached_property
    def snapshot_block_public_access(self) -> str:
        return str(self.ec2.get_snapshot_block_public_access_state()["State"])

    @cached_property
    def allowed_images(self) -> str:
        return str(self.ec2.get_allowed_images_settings()["State"])

    @cached_property
    def references(self) -> dict[str, list[str]]:
        """Retired image -> the ARNs of the caller's resources that still use
        it: instances not terminated, launch templates (their newest
        versions), Parameter Store parameters."""
        wanted = [i.image_id for i in self.images if retired(i.image, self.now)]
        found: dict[str, list[str]] = {image_id: [] for image_id in wanted}
        paginator = self.ec2.get_paginator("describe_image_references")
        for start in range(0, len(wanted), REFERENCES_PER_CALL):
            batch = wanted[start : start + REFERENCES_PER_CALL]
            for page in paginator.paginate(ImageIds=batch, ResourceTypes=REFERENCE_TYPES):
                for reference in page["ImageReferences"]:
                    found[reference["ImageId"]].append(reference["Arn"])
        return {image_id: sorted(arns) for image_id, arns in found.items()}


class ImageFacts:
    """One image as DescribeImages lists it, and what is asked about it on demand."""

    def __init__(self, region: RegionFacts, image: dict[str, Any]) -> None:
        self.region = region
        self.image = image
        self.image_id = str(image["ImageId"])

    @property
    def retired(self) -> bool:
        return retired(self.image, self.region.now)

    def ebs_devices(self) -> Iterator[dict[str, Any]]:
        """The block device mappings that are EBS volumes."""
        for mapping in self.image.get("BlockDeviceMappings", []):
            if "Ebs" in mapping:
                yield mapping

    def owner_only(self, what: str) -> None:
        """Skip the check unless the caller owns the image."""
        if self.image.get("OwnerId") != self.region.account:
            raise Skip(OWNER_ONLY.format(what=what))

    @property
    def tags(self) -> dict[str, str]:
        self.owner_only("tags")
        return {tag["Key"]: tag["Value"] for tag in self.image.get("Tags", [])}

    @cached_property
    def launch_permissions(self) -> list[dict[str, str]]:
        self.owner_only("launch permissions")
        answer = self.region.ec2.describe_image_attribute(
            ImageId=self.image_id, Attribute="launchPermission"
        )
        return list(answer.get("LaunchPermissions", []))

    @cached_property
    def snapshot_permissions(self) -> dict[str, list[dict[str, str]]]:
        """Each EBS snapshot of the image -> its createVolumePermission."""
        self.owner_only("snapshots' permissions")
        found = {}
        for mapping in self.ebs_devices():
            snapshot_id = mapping["Ebs"].get("SnapshotId")
            if snapshot_id:
                answer = self.region.ec2.describe_snapshot_attribute(
                    SnapshotId=snapshot_id, Attribute="createVolumePermission"
                )
                found[snapshot_id] = list(answer.get("CreateVolumePermissions", []))
        return found

    @property
    def references(self) -> list[str]:
        """The ARNs of the caller's resources that use the image, if it is retired."""
        return self.region.references.get(self.image_id, [])

    @cached_property
    def ancestors(self) -> list[Ancestor]:
        return self.region.lineage.ancestors(self.image, self.region.name)
