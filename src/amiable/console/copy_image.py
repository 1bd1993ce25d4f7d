"""Copy AMI: the dialog (AMI copy name and description, Destination Region,
Copy tags, Encrypt EBS snapshots of AMI copy, KMS key) and CopyImage, called
in the destination region as EC2 wants it. The notice links the new image in
its region; its page refreshes itself until the copy is available."""

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from amiable.cloud.core.errors import ApiError

from .auth import Visitor, cloud_of, signed_in
from .calls import call
from .image_forms import Done, image_form
from .regions import image_url, region_of
from .render import REGION_NAMES


def _params(source_region: str, image_id: str, form: FormData) -> dict[str, Any]:
    params: dict[str, Any] = {
        "SourceImageId": image_id,
        "SourceRegion": source_region,
        "Name": str(form.get("name", "")).strip(),
        "CopyImageTags": form.get("copy_tags") == "on",
    }
    if description := str(form.get("description", "")):
        params["Description"] = description
    if form.get("encrypted") == "on":
        params["Encrypted"] = True
    if kms_key := str(form.get("kms_key_id", "")).strip():
        params["KmsKeyId"] = kms_key
    return params


def _destination(form: FormData) -> str:
    region = str(form.get("destination", ""))
    if region not in REGION_NAMES:
        raise ApiError("InvalidRegion", f"Invalid region: {region}")
    return region


@signed_in
async def copy_image(request: Request, visitor: Visitor) -> Response:
    region = region_of(request)

    async def act(image_id: str, form: FormData) -> Done:
        destination = _destination(form)
        params = _params(region, image_id, form)
        copied = await call(cloud_of(request), visitor, destination, "CopyImage", params)
        new_id = str(copied["ImageId"])
        return Done(
            f"Copying {image_id} to {destination} as ",
            image_url(region, image_id),
            (image_url(destination, new_id), new_id),
            ".",
        )

    async def defaults(image: dict[str, Any]) -> dict[str, Any]:
        name = str(image.get("Name", ""))
        return {
            "regions": REGION_NAMES,
            "default_name": name,
            "default_description": f"[Copied {image['ImageId']} from {region}] {name}",
        }

    return await image_form(request, visitor, "copy.html", act, defaults)
