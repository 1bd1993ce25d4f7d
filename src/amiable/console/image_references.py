"""An image's *Used by*: what of the signed-in account's, in the image's region,
names it, as DescribeImageReferences (`IncludeAllResourceTypes`) finds it:
instances launched from it, launch templates (with the versions naming it,
from DescribeLaunchTemplates and DescribeLaunchTemplateVersions) and
Parameter Store parameters whose value it is."""

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

from amiable.cloud.core.home import Cloud

from .auth import Visitor
from .calls import call

MAX_REFERENCES = 100  # one page of DescribeImageReferences; more is said, not shown
INSTANCE, LAUNCH_TEMPLATE, PARAMETER = "ec2:Instance", "ec2:LaunchTemplate", "ssm:Parameter"


@dataclass(frozen=True)
class TemplateUse:
    template_id: str
    name: str
    versions: tuple[int, ...]  # the versions whose ImageId is the image


@dataclass(frozen=True)
class UsedBy:
    instances: tuple[str, ...] = ()
    templates: tuple[TemplateUse, ...] = ()
    parameters: tuple[str, ...] = ()
    more: bool = False  # DescribeImageReferences had more than MAX_REFERENCES
    limit: ClassVar[int] = MAX_REFERENCES

    @property
    def empty(self) -> bool:
        return not (self.instances or self.templates or self.parameters)


def resource_of(arn: str) -> str:
    """The id (or parameter name) an ARN ends with: `…:instance/i-1` -> `i-1`;
    a parameter's ARN drops a hierarchical name's leading `/`, put back
    (only such names have a `/`)."""
    if ":parameter/" in arn:
        name = arn.split(":parameter/", 1)[1]
        return f"/{name}" if "/" in name else name
    return arn.rsplit("/", 1)[-1]


async def used_by(cloud: Cloud, visitor: Visitor, region: str, image_id: str) -> UsedBy:
    params = {"ImageIds": [image_id], "IncludeAllResourceTypes": True, "MaxResults": MAX_REFERENCES}
    found = await call(cloud, visitor, region, "DescribeImageReferences", params)
    kinds: dict[str, list[str]] = {INSTANCE: [], LAUNCH_TEMPLATE: [], PARAMETER: []}
    for reference in found["ImageReferences"]:
        kinds.setdefault(reference["ResourceType"], []).append(resource_of(reference["Arn"]))
    return UsedBy(
        instances=tuple(kinds[INSTANCE]),
        templates=await _templates(cloud, visitor, region, image_id, kinds[LAUNCH_TEMPLATE]),
        parameters=tuple(kinds[PARAMETER]),
        more=bool(found.get("NextToken")),
    )


async def _templates(
    cloud: Cloud, visitor: Visitor, region: str, image_id: str, template_ids: list[str]
) -> tuple[TemplateUse, ...]:
    if not template_ids:
        return ()
    listed = await call(
        cloud, visitor, region, "DescribeLaunchTemplates", {"LaunchTemplateIds": template_ids}
    )
    names = {t["LaunchTemplateId"]: t["LaunchTemplateName"] for t in listed["LaunchTemplates"]}
    versions = await asyncio.gather(
        *(_versions(cloud, visitor, region, image_id, template_id) for template_id in template_ids)
    )
    return tuple(
        TemplateUse(template_id, names.get(template_id, ""), numbers)
        for template_id, numbers in zip(template_ids, versions, strict=True)
    )


async def _versions(
    cloud: Cloud, visitor: Visitor, region: str, image_id: str, template_id: str
) -> tuple[int, ...]:
    params: dict[str, Any] = {
        "LaunchTemplateId": template_id,
        "Filters": [{"Name": "image-id", "Values": [image_id]}],
    }
    found = await call(cloud, visitor, region, "DescribeLaunchTemplateVersions", params)
    return tuple(int(v["VersionNumber"]) for v in found["LaunchTemplateVersions"])
