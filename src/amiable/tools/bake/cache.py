"""The step cache: after each step the build instance is imaged (private,
tagged with the step's key: a digest of the base image and every step so
far), and a later bake whose first N steps are unchanged launches from the
image after step N. On amiable an image of an instance costs what changed;
on AWS it is an EBS snapshot of the changed blocks (docs/bake.md)."""

from typing import Any

from botocore.exceptions import ClientError

from . import tags
from .pipeline import Bake
from .resources import code_of, tagged_images

ROLE = "cache"


def deepest(ec2: Any, keys: list[str]) -> tuple[str | None, int]:
    """The cached image after the latest step it has, and that step's number."""
    if not keys:
        return None, 0
    found = tagged_images(
        ec2,
        {tags.ROLE: ROLE},
        Filters=[
            {"Name": f"tag:{tags.CACHE_KEY}", "Values": keys},
            {"Name": "state", "Values": ["available"]},
        ],
    )
    by_key = {tags.of(image).get(tags.CACHE_KEY): image["ImageId"] for image in found}
    for done in range(len(keys), 0, -1):
        if keys[done - 1] in by_key:
            return str(by_key[keys[done - 1]]), done
    return None, 0


def capture(bake: Bake, ec2: Any, instance: str, key: str) -> None:
    """Image the running instance as the cache of `key` (NoReboot). Not
    waited for: the image is the instance at the moment of the call (EBS
    snapshots are point-in-time on AWS and amiable alike), so the next step
    cannot change it; a later bake uses it once it is available."""
    labels = bake.labels(ROLE, **{tags.CACHE_KEY: key})
    try:
        ec2.create_image(
            InstanceId=instance,
            Name=f"bake-cache-{bake.recipe.name}-{key[:24]}",
            Description=f"amiable bake cache of {bake.recipe.name}",
            NoReboot=True,
            TagSpecifications=tags.specifications(labels, "image", "snapshot"),
        )
    except ClientError as exc:
        if code_of(exc) == "InvalidAMIName.Duplicate":  # cached already (not yet seen)
            return
        raise
