"""What holds an image — keeps it from being disabled or deregistered,
whatever the policy says — as AWS itself tells it (docs/lifecycle.md):

- `DescribeImageReferences`: the account's instances in any state but
  terminated, launch templates naming it in one of their newest
  `version_depth` versions, SSM parameters whose value it is;
- the default version of every launch template (it may be older than the
  newest versions): `DescribeLaunchTemplateVersions(Versions=["$Default"])`;
- for an image shared with other accounts (or public, or disabled): an AMI
  usage report of their instances and launch templates, and its
  `LastLaunchedTime` within `last_launched_within`.

Each hold is a short phrase for the plan ("instance i-0abc…").
"""

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from amiable.tools.parallel import at_once
from amiable.tools.user_files import format_duration

from .fleet import Image
from .policy import InUse

REFERENCE_BATCH = 10  # DescribeImageReferences takes at most 10 image ids


NOT_TERMINATED = ["pending", "running", "stopping", "stopped", "shutting-down"]


class Holds:
    """The holds of one account's images in one region."""

    def __init__(self, ec2: Any, in_use: InUse) -> None:
        self.ec2 = ec2
        self.in_use = in_use
        self._defaults: list[tuple[str, str]] | None = None

    def local(self, image_ids: Iterable[str], fresh: bool = False) -> dict[str, list[str]]:
        """The account's own references to each image (instances, launch
        templates, parameters); the default versions of launch templates are
        read once per Holds unless `fresh`."""
        ids = list(dict.fromkeys(image_ids))
        found: dict[str, list[str]] = {image_id: [] for image_id in ids}
        batches = [ids[at : at + REFERENCE_BATCH] for at in range(0, len(ids), REFERENCE_BATCH)]
        for references in at_once(self._references, batches):
            for ref in references:
                found[ref["ImageId"]].append(_phrase(ref))
        if ids:
            if fresh or self._defaults is None:
                self._defaults = list(self._default_versions())
            for image_id, phrase in self._defaults:
                if image_id in found and phrase not in found[image_id]:
                    found[image_id].append(phrase)
        return found

    def _references(self, image_ids: list[str]) -> list[dict[str, str]]:
        pages = self.ec2.get_paginator("describe_image_references").paginate(
            ImageIds=image_ids,
            ResourceTypes=[
                {
                    "ResourceType": "ec2:Instance",
                    "ResourceTypeOptions": [
                        {"OptionName": "state-name", "OptionValues": NOT_TERMINATED}
                    ],
                },
                self._templates(),
                {"ResourceType": "ssm:Parameter"},
            ],
        )
        return [ref for page in pages for ref in page["ImageReferences"]]

    def _templates(self) -> dict[str, Any]:
        depth = str(self.in_use.version_depth)
        option = {"OptionName": "version-depth", "OptionValues": [depth]}
        return {"ResourceType": "ec2:LaunchTemplate", "ResourceTypeOptions": [option]}

    def _default_versions(self) -> Iterable[tuple[str, str]]:
        pages = self.ec2.get_paginator("describe_launch_template_versions").paginate(
            Versions=["$Default"]
        )
        for page in pages:
            for version in page["LaunchTemplateVersions"]:
                image_id = version.get("LaunchTemplateData", {}).get("ImageId")
                if image_id:
                    yield image_id, f"launch template {version['LaunchTemplateId']}"

    def shared(self, image: Image, now: datetime) -> list[str]:
        """Use by other accounts, for an image shared with any (or public,
        or disabled: its former consumers may still run it)."""
        if not (image.public or image.state == "disabled" or self._shared_with(image)):
            return []
        held = []
        window = self.in_use.last_launched_within
        if image.last_launched is not None and now - image.last_launched < window:
            held.append(
                f"launched {image.last_launched:%Y-%m-%d %H:%M} (within {format_duration(window)})"
            )
        held.extend(self._usage_report(image.image_id))
        return held

    def _shared_with(self, image: Image) -> bool:
        answer = self.ec2.describe_image_attribute(
            ImageId=image.image_id, Attribute="launchPermission"
        )
        return bool(answer.get("LaunchPermissions"))

    def _usage_report(self, image_id: str) -> list[str]:
        """Other accounts' instances and launch templates, by a usage report
        made for the purpose and deleted after."""
        report_id = self.ec2.create_image_usage_report(
            ImageId=image_id,
            ClientToken=str(uuid.uuid4()),
            ResourceTypes=[
                {"ResourceType": "ec2:Instance"},
                self._templates(),
            ],
        )["ReportId"]
        try:
            self.ec2.get_waiter("image_usage_report_available").wait(
                ReportIds=[report_id], WaiterConfig={"Delay": 2, "MaxAttempts": 150}
            )
            pages = self.ec2.get_paginator("describe_image_usage_report_entries").paginate(
                ReportIds=[report_id]
            )
            entries = [e for page in pages for e in page["ImageUsageReportEntries"]]
        finally:
            self.ec2.delete_image_usage_report(ReportId=report_id)
        return [
            f"account {e['AccountId']}: {e['UsageCount']} {_KIND[e['ResourceType']]}"
            for e in sorted(entries, key=lambda e: (e["AccountId"], e["ResourceType"]))
            if e.get("UsageCount", 0) > 0
        ]


_KIND = {"ec2:Instance": "instance(s)", "ec2:LaunchTemplate": "launch template(s)"}


def _phrase(reference: dict[str, str]) -> str:
    """`arn:aws:ec2:r:a:instance/i-1` -> `instance i-1`; parameters by name."""
    kind = reference["ResourceType"]
    name = reference["Arn"].split(":", 5)[-1].split("/", 1)[-1]
    if kind == "ec2:Instance":
        return f"instance {name}"
    if kind == "ec2:LaunchTemplate":
        return f"launch template {name}"
    if kind == "ssm:Parameter":
        return f"parameter /{name.lstrip('/')}"
    return f"{kind} {name}"
