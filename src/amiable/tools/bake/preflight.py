"""Checks before anything is created: the image name is free in every
target region (not only the build region), each region's KMS key and
launch templates exist, an encrypted image to be shared is not under the
AWS managed key (which AWS refuses to share), and, for `--dry-run`, the calls the bake will make
are permitted (EC2's DryRun)."""

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from . import tags
from .errors import DistributionFailed, RecipeProblem
from .pipeline import Options
from .recipe import Recipe
from .resources import Clouds, code_of, said


def check(clouds: Clouds, recipe: Recipe, options: Options, build_id: str | None = None) -> None:
    regions = recipe.regions(options.build_region)
    for region in regions:
        _name_free(clouds.ec2(region), recipe.image.name, region, build_id)
    for region in regions:
        _key_usable(clouds, recipe, region)
        templates = recipe.distribute.launch_templates if recipe.distribute else []
        if templates:
            try:
                clouds.ec2(region).describe_launch_templates(LaunchTemplateNames=templates)
            except ClientError as exc:
                raise DistributionFailed(f"launch templates in {region}: {said(exc)}") from exc


def _key_usable(clouds: Clouds, recipe: Recipe, region: str) -> None:
    if not recipe.image.encrypted:
        return
    key = recipe.image.kms_key_in(region)
    manager = "AWS"
    if key:
        try:
            found = clouds.client("kms", region).describe_key(KeyId=key)["KeyMetadata"]
        except ClientError as exc:
            raise DistributionFailed(f"KMS key {key} in {region}: {said(exc)}") from exc
        manager = found.get("KeyManager", "CUSTOMER")
    else:
        key = clouds.ec2(region).get_ebs_default_kms_key_id()["KmsKeyId"]
        if not key.endswith("alias/aws/ebs"):  # the account's own default key
            manager = "CUSTOMER"
    shared = recipe.distribute and (
        recipe.distribute.accounts
        or recipe.distribute.organizations
        or recipe.distribute.organizational_units
    )
    if shared and manager == "AWS":
        raise RecipeProblem(
            f"image.kms_key_id: in {region} the image would be encrypted with the AWS "
            f"managed key ({key}), and AWS refuses to share such an image; "
            f"give a customer managed key for {region}"
        )


def _name_free(ec2: Any, name: str, region: str, build_id: str | None) -> None:
    found = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": [name]}])
    for image in found["Images"]:
        if build_id is None or tags.of(image).get(tags.BUILD) != build_id:
            raise RecipeProblem(
                f"InvalidAMIName.Duplicate: {region} already has an image named {name} "
                f"({image['ImageId']})"
            )


def permitted(clouds: Clouds, recipe: Recipe, options: Options, base_image: str) -> list[str]:
    """What the calls the bake makes answer with DryRun: problems, if any."""
    regions = recipe.regions(options.build_region)
    asked: list[tuple[str, str, Callable[[Any], Any]]] = [
        (
            regions[0],
            "RunInstances",
            lambda ec2: ec2.run_instances(
                DryRun=True,
                ImageId=base_image,
                InstanceType=recipe.build.instance_type,
                MinCount=1,
                MaxCount=1,
            ),
        ),
        *(
            (
                region,
                "CopyImage",
                lambda ec2: ec2.copy_image(
                    DryRun=True,
                    SourceImageId=base_image,
                    SourceRegion=regions[0],
                    Name=recipe.image.name,
                ),
            )
            for region in regions[1:]
        ),
    ]
    problems = []
    for region, action, call in asked:
        try:
            call(clouds.ec2(region))
        except ClientError as exc:
            if code_of(exc) != "DryRunOperation":
                problems.append(f"{action} in {region}: {said(exc)}")
    return problems
