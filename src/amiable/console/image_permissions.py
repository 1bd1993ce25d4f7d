"""Edit AMI permissions: who besides its owner may launch an image. AMI
availability (Public / Private), the accounts and the organizations or
organizational units it is shared with, each change a ModifyImageAttribute
of its own (so the page needs no script), optionally granting the accounts
`createVolumePermission` on the image's snapshots too, as the EC2 console
offers. Block public access for AMIs is read and explained: while it is on,
the image cannot be made public."""

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from amiable.cloud.core.errors import ApiError, invalid_value
from amiable.cloud.core.home import Cloud

from .auth import Visitor, cloud_of, signed_in
from .calls import call
from .image_forms import Done, image_form
from .image_views import one_image
from .regions import image_url, region_of

PUBLIC = {"Group": "all"}


def grantee_member(value: str) -> dict[str, str]:
    """The LaunchPermission item of an account id or an organization / OU ARN."""
    value = value.strip()
    if value.isdigit():
        return {"UserId": value}
    if ":ou/" in value:
        return {"OrganizationalUnitArn": value}
    if ":organization/" in value:
        return {"OrganizationArn": value}
    raise invalid_value("LaunchPermission", value, "an account ID or an organization or OU ARN")


def grantee_label(permission: dict[str, str]) -> str:
    if permission.get("Group") == "all":
        return "All accounts (public)"
    for member, label in (
        ("UserId", "Account"),
        ("OrganizationArn", "Organization"),
        ("OrganizationalUnitArn", "Organizational unit"),
    ):
        if member in permission:
            return f"{label} {permission[member]}"
    return ", ".join(f"{k} {v}" for k, v in permission.items())


async def launch_permissions(
    cloud: Cloud, visitor: Visitor, region: str, image_id: str
) -> list[dict[str, str]]:
    params = {"ImageId": image_id, "Attribute": "launchPermission"}
    found = await call(cloud, visitor, region, "DescribeImageAttribute", params)
    return list(found["LaunchPermissions"])


async def _volume_permission(
    cloud: Cloud, visitor: Visitor, region: str, image: dict[str, Any], user: str
) -> None:
    """createVolumePermission for `user` on the image's snapshots."""
    for mapping in image.get("BlockDeviceMappings", []):
        snapshot = (mapping.get("Ebs") or {}).get("SnapshotId")
        if snapshot:
            change = {"Add": [{"UserId": user}]}
            params = {"SnapshotId": snapshot, "CreateVolumePermission": change}
            await call(cloud, visitor, region, "ModifySnapshotAttribute", params)


def _change(form: FormData) -> tuple[str, dict[str, str], str]:
    """(Add | Remove, the LaunchPermission item, the notice) the form asks for."""
    chosen = form.get("change")
    if chosen == "availability":
        public = form.get("availability") == "public"
        operation = "Add" if public else "Remove"
        return operation, PUBLIC, "The AMI is now " + ("public." if public else "private.")
    if chosen in ("add", "remove"):
        item = grantee_member(str(form.get("grantee", "")))
        label = grantee_label(item)
        done = "can now launch it." if chosen == "add" else "can no longer launch it."
        return chosen.capitalize(), item, f"{label} {done}"
    raise invalid_value("change", str(chosen), "availability, add or remove")


@signed_in
async def edit_permissions(request: Request, visitor: Visitor) -> Response:
    region, cloud = region_of(request), cloud_of(request)

    async def act(image_id: str, form: FormData) -> Done:
        operation, item, notice = _change(form)
        params = {"ImageId": image_id, "LaunchPermission": {operation: [item]}}
        await call(cloud, visitor, region, "ModifyImageAttribute", params)
        if "UserId" in item and operation == "Add" and form.get("volumes") == "on":
            image = await one_image(cloud, visitor, region, image_id)
            await _volume_permission(cloud, visitor, region, image, item["UserId"])
        return Done(notice, f"{image_url(region, image_id)}/permissions")

    async def current(image: dict[str, Any]) -> dict[str, Any]:
        try:
            granted = await launch_permissions(cloud, visitor, region, image["ImageId"])
        except ApiError as exc:
            return {"granted": [], "blocked": False, "hidden": exc}
        state = await call(cloud, visitor, region, "GetImageBlockPublicAccessState", {})
        return {
            "granted": [(grantee_label(p), next(iter(p.values()))) for p in granted if p != PUBLIC],
            "public": PUBLIC in granted,
            "blocked": state["ImageBlockPublicAccessState"] != "unblocked",
            "hidden": None,
        }

    return await image_form(request, visitor, "permissions.html", act, current)
