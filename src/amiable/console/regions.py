"""The region in the console's URLs (`/console/{region}/...`): the regions
amiable serves, the default one, and the region selector."""

from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from amiable.cloud.core.regions import REGION_NAMES

from .auth import Visitor, signed_in

DEFAULT_REGION = "us-east-1"  # as `ami`'s own default


def region_of(request: Request) -> str:
    """The region the URL names; 404 for any other string."""
    region = str(request.path_params["region"])
    if region not in REGION_NAMES:
        raise HTTPException(404, f"Unknown region {region}")
    return region


def images_url(region: str) -> str:
    return f"/console/{quote(region)}/images"


def image_url(region: str, image_id: str) -> str:
    return f"{images_url(region)}/{quote(image_id)}"


@signed_in
async def home(request: Request, visitor: Visitor) -> Response:
    """`/console`: the default region's images."""
    return RedirectResponse(images_url(DEFAULT_REGION), status_code=303)


@signed_in
async def switch_region(request: Request, visitor: Visitor) -> Response:
    """The region selector's form: the same page in the chosen region."""
    region = request.query_params.get("region", "")
    if region not in REGION_NAMES:
        raise HTTPException(404, f"Unknown region {region}")
    return RedirectResponse(images_url(region), status_code=303)
