"""Actions → Image and templates → Create image: the form (Image name, Image
description, No reboot, tags) and CreateImage with `TagSpecifications` for
the image. On success the instance's page says which image is being made,
linked to its page; on an EC2 error the form comes back as typed, with the
error. *Add new tag* (a submit button) gives the form one more tag row, so
any number of tags can be typed without JavaScript."""

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from amiable.cloud.core.errors import ApiError

from .auth import Visitor, cloud_of, signed_in
from .calls import call
from .instance_views import instance_url, one_instance
from .regions import images_url, region_of
from .render import notify, page

MAX_TAGS = 50  # as EC2 allows on a resource


@dataclass(frozen=True)
class ImageForm:
    """What the Create image form holds (as typed, to show it again)."""

    name: str = ""
    description: str = ""
    no_reboot: bool = False
    tags: list[tuple[str, str]] = field(default_factory=lambda: [("", "")])

    @classmethod
    def of(cls, form: FormData) -> "ImageForm":
        keys = [str(k) for k in form.getlist("tag_key")]
        values = [str(v) for v in form.getlist("tag_value")]
        tags = list(zip(keys, values + [""] * (len(keys) - len(values)), strict=True))
        return cls(
            name=str(form.get("name", "")),
            description=str(form.get("description", "")),
            no_reboot=form.get("no_reboot") == "on",
            tags=tags[:MAX_TAGS] or [("", "")],
        )

    def with_new_tag(self) -> "ImageForm":
        if len(self.tags) >= MAX_TAGS:
            return self
        return ImageForm(self.name, self.description, self.no_reboot, [*self.tags, ("", "")])

    def params(self, instance_id: str) -> dict[str, Any]:
        """CreateImage's input, shaped as boto3's."""
        params: dict[str, Any] = {
            "InstanceId": instance_id,
            "Name": self.name.strip(),
            "NoReboot": self.no_reboot,
        }
        if self.description:
            params["Description"] = self.description
        tags = [{"Key": k.strip(), "Value": v} for k, v in self.tags if k.strip()]
        if any(v for k, v in self.tags if not k.strip()):
            raise ApiError("InvalidParameterValue", "A tag with a value must have a key.")
        if tags:
            params["TagSpecifications"] = [{"ResourceType": "image", "Tags": tags}]
        return params


async def _create(
    request: Request, visitor: Visitor, region: str, instance_id: str, form: ImageForm
) -> str:
    if not form.name.strip():
        raise ApiError("MissingParameter", "The request must contain the parameter Name")
    made = await call(cloud_of(request), visitor, region, "CreateImage", form.params(instance_id))
    return str(made["ImageId"])


@signed_in
async def create_image(request: Request, visitor: Visitor) -> Response:
    """GET: the form; POST: CreateImage (or, for *Add new tag*, the form again)."""
    region, instance_id = region_of(request), str(request.path_params["instance_id"])
    form, error = ImageForm(), None
    if request.method == "POST":
        posted = await request.form()
        form = ImageForm.of(posted)
        if "add_tag" in posted:
            form = form.with_new_tag()
        else:
            try:
                image_id = await _create(request, visitor, region, instance_id, form)
            except ApiError as exc:
                error = exc
            else:
                notify(
                    request,
                    "Currently creating AMI ",
                    (f"{images_url(region)}/{image_id}", image_id),
                    f" from instance {instance_id}. Check that the AMI status is"
                    " 'Available' before deleting the instance or carrying out other"
                    " actions related to this AMI.",
                )
                return RedirectResponse(instance_url(region, instance_id), status_code=303)
    try:
        instance: dict[str, Any] | None = await one_instance(
            cloud_of(request), visitor, region, instance_id
        )
    except ApiError as exc:
        instance, error = None, error or exc
    return page(
        request,
        "create_image.html",
        400 if error else 200,
        title="Create image",
        visitor=visitor,
        region=region,
        instance=instance,
        instance_id=instance_id,
        form=form,
        error=error,
    )
