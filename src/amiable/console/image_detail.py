"""An image's page: its facts and state, block devices, tags (added and removed
with CreateTags / DeleteTags) and launch permissions (DescribeImageAttribute).
While the image is pending, its page reloads itself every few seconds (a
`<meta http-equiv="refresh">`: no script, nothing for the CSP to allow)."""

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Cloud

from .auth import Visitor, cloud_of, signed_in
from .calls import call
from .image_views import devices_of, encryption, name_tag, one_image, tags_of, visibility
from .regions import images_url, region_of
from .render import notify, page

REFRESH_SECONDS = 2  # how often a pending image's page reloads itself


async def _permissions(
    cloud: Cloud, visitor: Visitor, region: str, image_id: str
) -> tuple[list[str], ApiError | None]:
    """Who may launch the image (`All accounts (public)`, account ids...), or
    why the visitor cannot see it (only the owner can)."""
    params = {"ImageId": image_id, "Attribute": "launchPermission"}
    try:
        found = await call(cloud, visitor, region, "DescribeImageAttribute", params)
    except ApiError as exc:
        return [], exc
    return [_grantee(p) for p in found["LaunchPermissions"]], None


def _grantee(permission: dict[str, str]) -> str:
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


async def _detail(
    request: Request, visitor: Visitor, region: str, image_id: str, error: ApiError | None
) -> Response:
    cloud = cloud_of(request)
    try:
        image = await one_image(cloud, visitor, region, image_id)
    except ApiError as exc:
        return page(
            request,
            "image.html",
            404,
            title=image_id,
            visitor=visitor,
            region=region,
            image=None,
            image_id=image_id,
            error=exc,
        )
    permissions, hidden = await _permissions(cloud, visitor, region, image_id)
    return page(
        request,
        "image.html",
        400 if error else 200,
        title=str(image.get("Name") or image_id),
        visitor=visitor,
        region=region,
        image=image,
        image_id=image_id,
        facts=_facts(image),
        devices=devices_of(image),
        tags=tags_of(image),
        permissions=permissions,
        permissions_error=hidden,
        error=error,
        refresh=REFRESH_SECONDS if image.get("State") == "pending" else None,
    )


def _facts(image: dict[str, Any]) -> list[tuple[str, str]]:
    def get(key: str) -> str:
        return str(image.get(key) or "–")

    return [
        ("AMI ID", get("ImageId")),
        ("Name", name_tag(image)),
        ("AMI name", get("Name")),
        ("State", get("State")),
        ("Owner account ID", get("OwnerId")),
        ("Description", get("Description")),
        ("Creation date", get("CreationDate")),
        ("Deprecation time", get("DeprecationTime")),
        ("Last launched time", get("LastLaunchedTime")),
        ("Visibility", visibility(image)),
        ("Encryption", encryption(image)),
        ("Architecture", get("Architecture")),
        ("Root device name", get("RootDeviceName")),
        ("Deregistration protection", get("DeregistrationProtection")),
    ]


def _image_url(region: str, image_id: str) -> str:
    return f"{images_url(region)}/{quote(image_id)}"


@signed_in
async def image_page(request: Request, visitor: Visitor) -> Response:
    region = region_of(request)
    return await _detail(request, visitor, region, str(request.path_params["image_id"]), None)


@signed_in
async def add_tag(request: Request, visitor: Visitor) -> Response:
    region, image_id = region_of(request), str(request.path_params["image_id"])
    form = await request.form()
    key, value = str(form.get("key", "")).strip(), str(form.get("value", ""))
    params = {"Resources": [image_id], "Tags": [{"Key": key, "Value": value}]}
    try:
        if not key:
            raise ApiError("InvalidParameterValue", "The tag key must not be empty.")
        await call(cloud_of(request), visitor, region, "CreateTags", params)
    except ApiError as exc:
        return await _detail(request, visitor, region, image_id, exc)
    notify(request, f"Tag {key} saved.")
    return RedirectResponse(_image_url(region, image_id), status_code=303)


@signed_in
async def remove_tag(request: Request, visitor: Visitor) -> Response:
    region, image_id = region_of(request), str(request.path_params["image_id"])
    key = str((await request.form()).get("key", ""))
    params = {"Resources": [image_id], "Tags": [{"Key": key}]}
    try:
        await call(cloud_of(request), visitor, region, "DeleteTags", params)
    except ApiError as exc:
        return await _detail(request, visitor, region, image_id, exc)
    notify(request, f"Tag {key} removed.")
    return RedirectResponse(_image_url(region, image_id), status_code=303)
