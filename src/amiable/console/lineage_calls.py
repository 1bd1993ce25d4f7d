"""Asking the API for an image's lineage, as the signed-in account sees it:
GetImageAncestry for where it comes from (each ancestor then shown by
DescribeImages in its own region, for its name and creation date), and
DescribeImages in every region, filtered by `source-image-id` and
`source-image-region`, for the images made from it (copies into any region,
images of instances launched from it), generation by generation, as far as
`MAX_GENERATIONS` and `MAX_DESCENDANTS` allow (`lineage.py` draws them)."""

import asyncio
from typing import Any

from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Cloud

from .auth import Visitor
from .calls import call
from .image_views import one_image
from .lineage import DEEPER, MAX_DESCENDANTS, MAX_GENERATIONS, TOO_MANY, Lineage, Ref, chain
from .lineage import lineage as drawn
from .render import REGION_NAMES

Found = list[tuple[str, dict[str, Any]]]  # (region, image) as DescribeImages showed it


async def lineage_of(cloud: Cloud, visitor: Visitor, region: str, image: dict[str, Any]) -> Lineage:
    """The graph of `image` (DescribeImages' answer for it in `region`)."""
    image_id = str(image["ImageId"])
    found = await call(cloud, visitor, region, "GetImageAncestry", {"ImageId": image_id})
    refs = chain(found["ImageAncestryEntries"], region)
    shown, (descendants, cut) = await asyncio.gather(
        _ancestors(cloud, visitor, refs[:-1]), _descendants(cloud, visitor, Ref(image_id, region))
    )
    return drawn(refs, {**shown, image_id: image}, descendants, cut)


async def _ancestors(cloud: Cloud, visitor: Visitor, refs: list[Ref]) -> dict[str, dict[str, Any]]:
    """Each seen ancestor as DescribeImages shows it in its region (one gone
    since GetImageAncestry answered is left out: it is drawn unseen)."""

    async def described(ref: Ref) -> dict[str, Any] | None:
        try:
            return await one_image(cloud, visitor, ref.region, ref.image_id)
        except ApiError:
            return None

    wanted = [ref for ref in refs if ref.seen]
    images = await asyncio.gather(*(described(ref) for ref in wanted))
    return {ref.image_id: image for ref, image in zip(wanted, images, strict=True) if image}


async def _descendants(cloud: Cloud, visitor: Visitor, image: Ref) -> tuple[Found, str]:
    """The images made from `image`, from `image`, generation by generation;
    and why some are left out ("" when none are)."""
    found: Found = []
    parents = [image]
    for generation in range(MAX_GENERATIONS + 1):
        children = await _children(cloud, visitor, parents)
        if generation == MAX_GENERATIONS:
            return found, DEEPER if children else ""
        room = MAX_DESCENDANTS - len(found)
        if len(children) > room:
            return found + children[:room], TOO_MANY
        found += children
        parents = [Ref(str(child["ImageId"]), region) for region, child in children]
        if not parents:
            break
    return found, ""


async def _children(cloud: Cloud, visitor: Visitor, parents: list[Ref]) -> Found:
    """The images, in every region, whose source is one of `parents` (its id
    in its region), oldest first."""
    wanted = {(ref.image_id, ref.region) for ref in parents}
    params = {
        "Filters": [
            {"Name": "source-image-id", "Values": sorted({ref.image_id for ref in parents})},
            {"Name": "source-image-region", "Values": sorted({ref.region for ref in parents})},
        ],
        "IncludeDeprecated": True,
        "IncludeDisabled": True,
    }
    answers = await asyncio.gather(
        *(call(cloud, visitor, name, "DescribeImages", params) for name in REGION_NAMES)
    )
    children = [
        (name, image)
        for name, answer in zip(REGION_NAMES, answers, strict=True)
        for image in answer["Images"]
        if (image.get("SourceImageId"), image.get("SourceImageRegion")) in wanted
    ]
    return sorted(children, key=lambda found: (str(found[1]["CreationDate"]), found[1]["ImageId"]))
