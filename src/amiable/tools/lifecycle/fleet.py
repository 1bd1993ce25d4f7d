"""What lifecycle reads of one account in one region, on public EC2 and
Recycle Bin APIs: its own images (disabled and deprecated ones too), and,
only once some image is due for deregistration, its snapshots' sizes, the
snapshot locks and the Recycle Bin rules for images.

The stage clock lives on the images themselves, as tags (docs/lifecycle.md):
`ami-lifecycle:retired` is when an image left the keep set, and
`ami-lifecycle:previous-deprecation` the deprecation it had before.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

RETIRED = "ami-lifecycle:retired"
PREVIOUS_DEPRECATION = "ami-lifecycle:previous-deprecation"
GIB = 1024**3


def parse_time(text: str | None) -> datetime | None:
    """EC2's ISO 8601 text as an aware datetime; None for none or nonsense."""
    if not text:
        return None
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def iso(stamp: datetime) -> str:
    """The text EC2 takes and tags keep: UTC, seconds, `Z`."""
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Image:
    image_id: str
    name: str
    state: str
    created: datetime
    tags: dict[str, str]
    deprecation: datetime | None
    public: bool
    protected: bool
    last_launched: datetime | None
    snapshot_ids: tuple[str, ...]

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "Image":
        return cls(
            image_id=data["ImageId"],
            name=data.get("Name", ""),
            state=data.get("State", ""),
            created=parse_time(data.get("CreationDate")) or datetime.fromtimestamp(0, UTC),
            tags={t["Key"]: t["Value"] for t in data.get("Tags", [])},
            deprecation=parse_time(data.get("DeprecationTime")),
            public=bool(data.get("Public")),
            protected=str(data.get("DeregistrationProtection", "disabled")).startswith("enabled"),
            last_launched=parse_time(data.get("LastLaunchedTime")),
            snapshot_ids=tuple(
                m["Ebs"]["SnapshotId"]
                for m in data.get("BlockDeviceMappings", [])
                if m.get("Ebs", {}).get("SnapshotId")
            ),
        )

    @property
    def retired(self) -> datetime | None:
        return parse_time(self.tags.get(RETIRED))

    @property
    def previous_deprecation(self) -> datetime | None:
        return parse_time(self.tags.get(PREVIOUS_DEPRECATION))


@dataclass(frozen=True)
class BinRule:
    """A Recycle Bin retention rule for images."""

    rule_id: str
    days: int
    tags: tuple[tuple[str, str], ...]  # (key, value); value "" means any value
    excluded: tuple[tuple[str, str], ...]

    def keeps(self, image: Image) -> bool:
        if self.tags:
            return any(_tagged(image, tag) for tag in self.tags)
        return not any(_tagged(image, tag) for tag in self.excluded)


def _tagged(image: Image, tag: tuple[str, str]) -> bool:
    key, value = tag
    return key in image.tags and (not value or image.tags[key] == value)


class RegionView:
    """One account's view of one region."""

    def __init__(self, ec2: Any, rbin: Any, account: str, region: str) -> None:
        self.ec2 = ec2
        self.rbin = rbin
        self.account = account
        self.region = region

    @cached_property
    def images(self) -> list[Image]:
        pages = self.ec2.get_paginator("describe_images").paginate(
            Owners=["self"], IncludeDeprecated=True, IncludeDisabled=True
        )
        return [Image.from_api(i) for page in pages for i in page["Images"]]

    def image(self, image_id: str) -> Image | None:
        """The image as it is now (None once it is gone)."""
        found = self.ec2.describe_images(
            ImageIds=[image_id], IncludeDeprecated=True, IncludeDisabled=True
        )["Images"]
        return Image.from_api(found[0]) if found else None

    @cached_property
    def snapshot_bytes(self) -> dict[str, int]:
        pages = self.ec2.get_paginator("describe_snapshots").paginate(OwnerIds=["self"])
        return {
            s["SnapshotId"]: int(s.get("FullSnapshotSizeInBytes") or s.get("VolumeSize", 0) * GIB)
            for page in pages
            for s in page["Snapshots"]
        }

    @cached_property
    def snapshot_locks(self) -> dict[str, str]:
        """Locked snapshots and a phrase saying until when."""
        locks: dict[str, str] = {}
        token: str | None = None
        while True:
            page = self.ec2.describe_locked_snapshots(**({"NextToken": token} if token else {}))
            for lock in page.get("Snapshots", []):
                if lock.get("LockState") != "expired":
                    until = lock.get("LockExpiresOn")
                    ending = f" until {iso(until)}" if isinstance(until, datetime) else ""
                    locks[lock["SnapshotId"]] = f"{lock.get('LockState')}{ending}"
            token = page.get("NextToken")
            if not token:
                return locks

    @cached_property
    def bin_rules(self) -> list[BinRule]:
        pages = self.rbin.get_paginator("list_rules").paginate(ResourceType="EC2_IMAGE")
        rules = []
        for page in pages:
            for summary in page["Rules"]:
                rule = self.rbin.get_rule(Identifier=summary["Identifier"])
                rules.append(
                    BinRule(
                        rule_id=rule["Identifier"],
                        days=int(rule["RetentionPeriod"]["RetentionPeriodValue"]),
                        tags=_rule_tags(rule.get("ResourceTags")),
                        excluded=_rule_tags(rule.get("ExcludeResourceTags")),
                    )
                )
        return rules

    def bin_rule_for(self, image: Image) -> BinRule | None:
        return next((rule for rule in self.bin_rules if rule.keeps(image)), None)

    def lock_on(self, image: Image) -> str | None:
        """A phrase naming a locked snapshot of the image, if one is."""
        for snapshot_id in image.snapshot_ids:
            if snapshot_id in self.snapshot_locks:
                return f"snapshot {snapshot_id} is locked ({self.snapshot_locks[snapshot_id]})"
        return None


def _rule_tags(tags: list[dict[str, str]] | None) -> tuple[tuple[str, str], ...]:
    return tuple((t["ResourceTagKey"], t.get("ResourceTagValue", "")) for t in tags or [])
