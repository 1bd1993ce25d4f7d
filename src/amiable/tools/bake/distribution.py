"""The copy stage: the candidate copied to every other target region at
once (CopyImage, private, tagged `staged`, encrypted there with that
region's key when the recipe asks), with a progress bar per region.

A copy that finished is kept whatever happens to the others; one that
failed is reported (exit status 4) and copied again, under a new
ClientToken, by the next run of the same command, which reuses the rest.
"""

import threading
from typing import Any

from botocore.exceptions import ClientError

from amiable.tools.parallel import each_region
from amiable.tools.waiting import Status, WorkFailed

from . import tags
from .errors import DistributionFailed
from .pipeline import Bake
from .resources import image_state, remove_image, said, wait_image

ROLE = "copy"


class CopyStage:
    name = "copy"
    title = "copy the candidate to every region"

    def run(self, bake: Bake) -> dict[str, Any]:
        targets = bake.regions[1:]
        if not targets:
            return {"images": {}}
        images = self._kept(bake)
        failures: dict[str, str] = {}
        lock = threading.Lock()
        with bake.report.bars("copy to", targets) as bars:

            def copy(region: str) -> None:
                try:
                    image = images.get(region) or self._start(bake, region)
                    with lock:
                        images[region] = image

                    def shown(status: Status) -> None:
                        bars.update(region, status.percent, status.state)

                    wait_image(bake.clouds.ec2(region), image, shown)
                    bars.update(region, 100, "available")
                except (ClientError, WorkFailed) as exc:
                    with lock:
                        failures[region] = said(exc)
                        images.pop(region, None)
                    bars.update(region, None, "failed")

            each_region(copy, targets)
        if failures:
            told = "; ".join(f"{region}: {why}" for region, why in sorted(failures.items()))
            kept = ", ".join(sorted(images)) or "none"
            raise DistributionFailed(
                f"copy failed ({told}); copies kept for the next run: {kept}; nothing was published"
            )
        return {"images": images}

    def cleanup(self, bake: Bake, discard: bool) -> None:
        if discard:
            for entry in bake.journal.resources("image", ROLE):
                remove_image(bake.clouds.ec2(entry["region"]), entry["id"])
                bake.journal.gone(entry["id"])

    def _kept(self, bake: Bake) -> dict[str, str]:
        """Copies an earlier run made that are there still (or on their way)."""
        kept = {}
        for entry in bake.journal.resources("image", ROLE):
            state = image_state(bake.clouds.ec2(entry["region"]), entry["id"])
            if state in ("available", "pending"):
                kept[entry["region"]] = entry["id"]
            else:
                remove_image(bake.clouds.ec2(entry["region"]), entry["id"])
                bake.journal.gone(entry["id"])
        return kept

    def _start(self, bake: Bake, region: str) -> str:
        image = bake.recipe.image
        candidate = bake.journal.data["stages"]["build"]["candidate"]
        labels = bake.labels(
            ROLE, **{tags.STATUS: "staged", tags.CONTENT: bake.content_key()}, **image.tags
        )
        key = image.kms_key_in(region)
        copied = bake.clouds.ec2(region).copy_image(
            SourceImageId=candidate,
            SourceRegion=bake.build_region,
            Name=bake.image_name,
            Description=image.description,
            ClientToken=bake.token(f"copy-{region}"),
            TagSpecifications=tags.specifications(labels, "image", "snapshot"),
            **({"Encrypted": True} if image.encrypted else {}),
            **({"KmsKeyId": key} if key else {}),
        )["ImageId"]
        bake.journal.made("image", region, copied, ROLE)
        return str(copied)
