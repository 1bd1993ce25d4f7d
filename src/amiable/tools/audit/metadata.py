"""The metadata rules: what the EC2 API tells of an image and its region,
without launching anything. Each rule's text is what the reports show."""

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, Field

from amiable.tools.user_files import Duration

from .facts import ImageFacts, RegionFacts, parse_time
from .findings import Skip
from .rules import ImageRule, Problem, RegionRule, Rule, RuleSettings

_ACCOUNT = re.compile(r"^\d{12}$")
_ORGANIZATION = re.compile(r"^arn:aws[a-z-]*:organizations::\d{12}:organization/(o-[a-z0-9]+)$")
_OU = re.compile(r"^arn:aws[a-z-]*:organizations::\d{12}:ou/(o-[a-z0-9]+)/ou-[a-z0-9]+-[a-z0-9]+$")
# DescribeImageAttribute's LaunchPermissions member -> the evidence's key
_GRANTEES = {
    "UserId": "accounts",
    "OrganizationArn": "organizations",
    "OrganizationalUnitArn": "organizational_units",
}


class PublicImage(ImageRule):
    id = "public-image"
    severity = "critical"
    title = "Image is public"
    rationale = (
        "Any AWS account can launch a public image and read all it holds: code, "
        "configuration, and whatever secrets were left behind."
    )
    remediation = (
        "Remove the launch permission of group all (ModifyImageAttribute "
        "LaunchPermission Remove Group=all) and keep image block public access on."
    )

    def check(self, image: ImageFacts) -> Problem | None:
        if not image.image.get("Public"):
            return None
        return Problem("public: any AWS account can launch it", {"launch_permission": "all"})


def _grantee(grantee: str) -> str:
    if not any(p.match(grantee) for p in (_ACCOUNT, _ORGANIZATION, _OU)):
        raise ValueError(
            f"{grantee!r} is not a 12-digit account id, an organization ARN "
            "or an organizational unit ARN"
        )
    return grantee


class SharedOutsideSettings(RuleSettings):
    allowed: list[Annotated[str, AfterValidator(_grantee)]] = Field(default_factory=list)

    def allows(self, grantee: str) -> bool:
        """Whether `grantee` is allowed: listed, or an OU of an allowed organization."""
        if grantee in self.allowed:
            return True
        unit = _OU.match(grantee)
        organizations = {m[1] for m in map(_ORGANIZATION.match, self.allowed) if m}
        return unit is not None and unit[1] in organizations


class SharedOutside(ImageRule):
    id = "shared-outside"
    reads = ("launch_permissions",)
    severity = "high"
    title = "Image shared outside the allowed accounts and organizations"
    rationale = (
        "A launch permission lets another account launch and copy the image; "
        "sharing should reach only the accounts and organizations meant to use it."
    )
    remediation = (
        "Remove the launch permissions that are not meant (ModifyImageAttribute "
        "LaunchPermission Remove), or add the grantee to the rule's allowed list."
    )
    Settings = SharedOutsideSettings
    settings: SharedOutsideSettings

    def check(self, image: ImageFacts) -> Problem | None:
        outside: dict[str, list[str]] = {}
        for permission in image.launch_permissions:
            for member, kind in _GRANTEES.items():
                grantee = permission.get(member)
                if grantee and not self.settings.allows(grantee):
                    outside.setdefault(kind, []).append(grantee)
        if not outside:
            return None
        named = ", ".join(g for grantees in outside.values() for g in grantees)
        return Problem(f"shared with {named}", outside)


class Unencrypted(ImageRule):
    id = "unencrypted"
    severity = "medium"
    title = "Image has an unencrypted EBS snapshot"
    rationale = (
        "An unencrypted snapshot is readable by whoever gets a copy of it, and "
        "instances launched from it start with unencrypted volumes."
    )
    remediation = (
        "Copy the image with Encrypted=true (CopyImage; a customer managed KMS key "
        "if it is shared), use the copy, and deregister the unencrypted one."
    )

    def check(self, image: ImageFacts) -> Problem | None:
        plain = [
            {"device": mapping["DeviceName"], "snapshot_id": mapping["Ebs"].get("SnapshotId")}
            for mapping in image.ebs_devices()
            if not mapping["Ebs"].get("Encrypted")
        ]
        if not plain:
            return None
        devices = ", ".join(d["device"] for d in plain)
        return Problem(f"not encrypted: {devices}", {"devices": plain})


class NoDeprecation(ImageRule):
    id = "no-deprecation"
    severity = "low"
    title = "Image has no deprecation time"
    rationale = (
        "An image without a deprecation time stays the one people find and launch "
        "long after it stopped being patched."
    )
    remediation = "Set one (EnableImageDeprecation), e.g. 90 days after publication."

    def check(self, image: ImageFacts) -> Problem | None:
        if "DeprecationTime" in image.image:
            return None
        return Problem("no deprecation time is set")


class TooOldSettings(RuleSettings):
    max_age: Duration = timedelta(days=180)


class TooOld(ImageRule):
    id = "too-old"
    severity = "medium"
    title = "Image is older than the maximum age"
    rationale = (
        "An old image misses the security updates published since it was built; "
        "every instance launched from it starts out of date."
    )
    remediation = "Rebuild the image on a current base, and deprecate the old one."
    Settings = TooOldSettings
    settings: TooOldSettings

    def check(self, image: ImageFacts) -> Problem | None:
        age = image.region.now - parse_time(image.image["CreationDate"])
        if age <= self.settings.max_age:
            return None
        evidence = {
            "creation_date": image.image["CreationDate"],
            "age_seconds": int(age.total_seconds()),
            "max_age_seconds": int(self.settings.max_age.total_seconds()),
        }
        message = f"created {_span(age)} ago, more than {_span(self.settings.max_age)}"
        return Problem(message, evidence)


def _span(span: timedelta) -> str:
    if span >= timedelta(days=1):
        return f"{span.days}d"
    if span >= timedelta(hours=1):
        return f"{span.seconds // 3600}h"
    return f"{int(span.total_seconds())}s"


class DeprecatedInUse(ImageRule):
    id = "deprecated-in-use"
    severity = "medium"
    title = "Deprecated or disabled image still in use"
    rationale = (
        "Instances, launch templates and parameters that still name a retired image "
        "keep running and launching what it held; they are the ones to move first."
    )
    remediation = (
        "Point the launch templates and parameters at the current image and replace "
        "the instances (DescribeImageReferences lists them)."
    )

    def check(self, image: ImageFacts) -> Problem | None:
        if not image.retired or not image.references:
            return None
        disabled = image.image.get("State") == "disabled"
        why = "disabled" if disabled else f"deprecated since {image.image['DeprecationTime']}"
        count = len(image.references)
        return Problem(
            f"{why}, yet {count} resource(s) still use it",
            {"references": image.references, "state": image.image.get("State")},
        )


class MissingTagsSettings(RuleSettings):
    keys: list[str] = Field(default_factory=list)


class MissingTags(ImageRule):
    id = "missing-tags"
    severity = "low"
    title = "Image lacks required tags"
    rationale = (
        "Tags say who owns an image and what it is for; cost reports, lifecycle "
        "policies and access rules select images by them."
    )
    remediation = "Tag the image (CreateTags) with every required key."
    Settings = MissingTagsSettings
    settings: MissingTagsSettings

    def check(self, image: ImageFacts) -> Problem | None:
        if not self.settings.keys:
            raise Skip("no tag keys are required (set keys for missing-tags in a rules file)")
        missing = [key for key in self.settings.keys if key not in image.tags]
        if not missing:
            return None
        return Problem(f"missing tag(s): {', '.join(missing)}", {"missing": missing})


class ImdsV2NotRequired(ImageRule):
    id = "imdsv2-not-required"
    severity = "medium"
    title = "Image does not require IMDSv2"
    rationale = (
        "Instances launched from it answer IMDSv1, whose unauthenticated requests "
        "let a server-side request forgery read the instance's credentials."
    )
    remediation = (
        "Register the image with ImdsSupport v2.0, or set it on the image "
        "(ModifyImageAttribute ImdsSupport=v2.0; it cannot be unset)."
    )

    def check(self, image: ImageFacts) -> Problem | None:
        support = image.image.get("ImdsSupport")
        if support == "v2.0":
            return None
        return Problem("ImdsSupport is not v2.0: IMDSv1 is allowed", {"imds_support": support})


class PublicSnapshot(ImageRule):
    id = "public-snapshot"
    reads = ("snapshot_permissions",)
    severity = "critical"
    title = "A snapshot of the image is public"
    rationale = (
        "Anyone can create a volume from a public snapshot and read the image's "
        "whole file system, whoever may launch the image."
    )
    remediation = (
        "Remove the createVolumePermission of group all (ModifySnapshotAttribute) "
        "and turn on snapshot block public access."
    )

    def check(self, image: ImageFacts) -> Problem | None:
        public = [
            snapshot_id
            for snapshot_id, permissions in image.snapshot_permissions.items()
            if any(p.get("Group") == "all" for p in permissions)
        ]
        if not public:
            return None
        return Problem(f"public snapshot(s): {', '.join(public)}", {"snapshots": public})


class PublicAccessBlockSettings(RuleSettings):
    snapshots: bool = True  # also check snapshot block public access


class PublicAccessBlockOff(RegionRule):
    id = "public-access-block-off"
    severity = "high"
    title = "Block public access is off"
    rationale = (
        "Block public access stops anyone in the account from making an image "
        "(or snapshot) public by mistake; without it one call exposes it."
    )
    remediation = (
        "EnableImageBlockPublicAccess (block-new-sharing) and "
        "EnableSnapshotBlockPublicAccess (block-all-sharing or block-new-sharing)."
    )
    Settings = PublicAccessBlockSettings
    settings: PublicAccessBlockSettings

    def check(self, region: RegionFacts) -> Problem | None:
        off = {}
        if region.image_block_public_access != "block-new-sharing":
            off["images"] = region.image_block_public_access
        if self.settings.snapshots and region.snapshot_block_public_access == "unblocked":
            off["snapshots"] = region.snapshot_block_public_access
        if not off:
            return None
        return Problem(f"block public access is off for {' and '.join(off)}", off)


class AllowedImagesSettings(RuleSettings):
    accept_audit_mode: bool = True  # audit-mode (allowed images marked, none hidden) passes


class AllowedImagesOff(RegionRule):
    id = "allowed-images-off"
    severity = "medium"
    title = "Allowed AMIs is not enabled"
    rationale = (
        "Allowed AMIs limits the images the account's users discover and launch to "
        "trusted providers; disabled, any image shared with them may be launched."
    )
    remediation = (
        "Set image criteria (ReplaceImageCriteriaInAllowedImagesSettings), then "
        "EnableAllowedImagesSettings: audit-mode first, enabled once nothing breaks."
    )
    Settings = AllowedImagesSettings
    settings: AllowedImagesSettings

    def check(self, region: RegionFacts) -> Problem | None:
        passing = {"enabled", "audit-mode"} if self.settings.accept_audit_mode else {"enabled"}
        if region.allowed_images in passing:
            return None
        return Problem(f"Allowed AMIs is {region.allowed_images}", {"state": region.allowed_images})


class RevokedAncestor(ImageRule):
    id = "revoked-ancestor"
    severity = "medium"
    title = "Image is built on a revoked ancestor"
    rationale = (
        "An ancestor that was deprecated, disabled or deregistered was retired for "
        "a reason (often a vulnerability) that its descendants inherit."
    )
    remediation = "Rebuild the image on a current base image."

    def check(self, image: ImageFacts) -> Problem | None:
        now = image.region.now
        revoked = [
            {"image_id": a.image_id, "region": a.region, "reason": reason}
            for a in image.ancestors
            if (reason := a.revoked(now)) is not None
        ]
        if not revoked:
            return None
        named = ", ".join(f"{r['image_id']} ({r['reason']})" for r in revoked)
        return Problem(f"revoked ancestor(s): {named}", {"ancestors": revoked})


METADATA_RULES: tuple[type[Rule], ...] = (
    PublicImage,
    SharedOutside,
    Unencrypted,
    NoDeprecation,
    TooOld,
    DeprecatedInUse,
    MissingTags,
    ImdsV2NotRequired,
    PublicSnapshot,
    PublicAccessBlockOff,
    AllowedImagesOff,
    RevokedAncestor,
)
