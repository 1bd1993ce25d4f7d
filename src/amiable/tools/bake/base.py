"""Resolving the base image: an image id, the value of an SSM parameter, or
the newest image a DescribeImages query finds (as Packer's
source_ami_filter with most_recent)."""

from typing import Any

from botocore.exceptions import ClientError

from .errors import RecipeProblem
from .recipe import Base
from .resources import said


def resolve(ec2: Any, ssm: Any, base: Base) -> dict[str, str]:
    """{image_id, name, created, owner} of the base image."""
    if base.image is not None:
        return _described(ec2, base.image, f"base image {base.image}")
    if base.parameter is not None:
        try:
            value = ssm.get_parameter(Name=base.parameter)["Parameter"]["Value"]
        except ClientError as exc:
            raise RecipeProblem(f"base parameter {base.parameter}: {said(exc)}") from exc
        return _described(ec2, value, f"base parameter {base.parameter} ({value})")
    return _newest(ec2, base)


def _described(ec2: Any, image_id: str, what: str) -> dict[str, str]:
    try:
        found = ec2.describe_images(ImageIds=[image_id])["Images"]
    except ClientError as exc:
        raise RecipeProblem(f"{what}: {said(exc)}") from exc
    if not found:
        raise RecipeProblem(f"{what}: InvalidAMIID.NotFound: no such image")
    return _summary(found[0])


def _newest(ec2: Any, base: Base) -> dict[str, str]:
    filters = [{"Name": "state", "Values": ["available"]}]
    if base.name:
        filters.append({"Name": "name", "Values": [base.name]})
    for name, value in base.filters.items():
        filters.append({"Name": name, "Values": [value] if isinstance(value, str) else value})
    try:
        found = ec2.describe_images(
            Owners=base.owners, Filters=filters, IncludeDeprecated=base.include_deprecated
        )["Images"]
    except ClientError as exc:
        raise RecipeProblem(f"base query: {said(exc)}") from exc
    if not found:
        wanted = f"owners {', '.join(base.owners)}" + (f", name {base.name}" if base.name else "")
        raise RecipeProblem(f"base query: no available image matches ({wanted})")
    return _summary(max(found, key=lambda i: (i.get("CreationDate", ""), i["ImageId"])))


def _summary(image: dict[str, Any]) -> dict[str, str]:
    return {
        "image_id": image["ImageId"],
        "name": image.get("Name", ""),
        "created": image.get("CreationDate", ""),
        "owner": image.get("OwnerId", ""),
        "root_device": image.get("RootDeviceName", ""),
    }
