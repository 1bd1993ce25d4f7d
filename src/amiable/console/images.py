"""The AMIs page: tabs (owned by me, private images shared with me, public
images), filters (name, tag, state), the table, server-side paging with
DescribeImages' MaxResults/NextToken, and the Actions of a selected image."""

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlencode

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from amiable.cloud.core.errors import ApiError

from .auth import Visitor, cloud_of, signed_in
from .calls import call
from .image_views import IMAGE_ID, row_of
from .regions import images_url, region_of
from .render import notify, page

PAGE_SIZE = 50
TABS = (("owned", "Owned by me"), ("private", "Private images"), ("public", "Public images"))
STATES = ("available", "pending", "failed", "disabled")
ACTIONS = ("deregister", "deprecate", "cancel-deprecation")
_TAB_NAMES = {key for key, _ in TABS}


@dataclass(frozen=True)
class ImageQuery:
    """What the page lists: the tab, the filters, and where in the pages it is
    (`token`: DescribeImages' NextToken; `trail`: the tokens of the pages before)."""

    tab: str = "owned"
    name: str = ""
    tag: str = ""
    state: str = ""
    token: str = ""
    trail: tuple[str, ...] = ()

    @classmethod
    def of(cls, query: QueryParams) -> "ImageQuery":
        tab = query.get("tab", "owned")
        state = query.get("state", "")
        trail = tuple(t for t in query.get("trail", "").split(",") if t)
        return cls(
            tab=tab if tab in _TAB_NAMES else "owned",
            name=query.get("name", "").strip(),
            tag=query.get("tag", "").strip(),
            state=state if state in STATES else "",
            token=query.get("token", ""),
            trail=trail,
        )

    def describe_params(self) -> dict[str, Any]:
        """DescribeImages' input, shaped as boto3's."""
        params: dict[str, Any] = {
            "MaxResults": PAGE_SIZE,
            "IncludeDeprecated": True,
            "IncludeDisabled": True,
        }
        filters = self._filters()
        if self.tab == "owned":
            params["Owners"] = ["self"]
        elif self.tab == "private":
            params["ExecutableUsers"] = ["self"]
            filters.append({"Name": "is-public", "Values": ["false"]})
        else:
            filters.append({"Name": "is-public", "Values": ["true"]})
        if filters:
            params["Filters"] = filters
        if self.token:
            params["NextToken"] = self.token
        return params

    def _filters(self) -> list[dict[str, Any]]:
        filters: list[dict[str, Any]] = []
        if self.name:
            wildcard = any(c in self.name for c in "*?")
            filters.append(
                {"Name": "name", "Values": [self.name if wildcard else f"*{self.name}*"]}
            )
        if self.tag:
            key, equals, value = self.tag.partition("=")
            if equals:
                filters.append({"Name": f"tag:{key.strip()}", "Values": [value.strip()]})
            else:
                filters.append({"Name": "tag-key", "Values": [key]})
        if self.state:
            filters.append({"Name": "state", "Values": [self.state]})
        return filters

    def link(self, **changes: Any) -> str:
        """This page's query string with `changes`."""
        chosen = replace(self, **changes)
        values = {
            "tab": chosen.tab,
            "name": chosen.name,
            "tag": chosen.tag,
            "state": chosen.state,
            "token": chosen.token,
            "trail": ",".join(chosen.trail),
        }
        return "?" + urlencode({k: v for k, v in values.items() if v})

    def tab_link(self, tab: str) -> str:
        return replace(self, token="", trail=()).link(tab=tab)

    def next_link(self, token: str | None) -> str | None:
        return self.link(token=token, trail=(*self.trail, self.token)) if token else None

    def previous_link(self) -> str | None:
        if not self.token:
            return None
        return self.link(token=self.trail[-1] if self.trail else "", trail=self.trail[:-1])


@signed_in
async def images_page(request: Request, visitor: Visitor) -> Response:
    region = region_of(request)
    query = ImageQuery.of(request.query_params)
    error: ApiError | None = None
    try:
        found = await call(
            cloud_of(request), visitor, region, "DescribeImages", query.describe_params()
        )
    except ApiError as exc:
        found, error = {"Images": []}, exc
    return page(
        request,
        "images.html",
        400 if error else 200,
        title="AMIs",
        visitor=visitor,
        region=region,
        query=query,
        tabs=TABS,
        states=STATES,
        rows=[row_of(image) for image in found["Images"]],
        next_link=query.next_link(found.get("NextToken")),
        previous_link=query.previous_link(),
        error=error,
    )


@signed_in
async def image_action(request: Request, visitor: Visitor) -> Response:
    """The Actions buttons of the AMIs table: the chosen action's page for the
    selected image."""
    region = region_of(request)
    image_id = request.query_params.get("image_id", "")
    chosen = request.query_params.get("action", "")
    if not IMAGE_ID.match(image_id) or chosen not in ACTIONS:
        notify(request, "Select an AMI first.")
        return RedirectResponse(images_url(region), status_code=303)
    return RedirectResponse(f"{images_url(region)}/{quote(image_id)}/{chosen}", status_code=303)
