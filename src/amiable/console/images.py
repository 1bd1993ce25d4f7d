"""The AMIs page: tabs (owned by me, private images shared with me, public
images), filters (name, tag, state), the table, server-side paging with
DescribeImages' MaxResults/NextToken, and the Actions of a selected image."""

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from .auth import Visitor, signed_in
from .image_actions import ACTIONS
from .image_views import COLUMNS, IMAGE_ID, row_of
from .list_page import each, list_page
from .list_query import ListQuery, contains, tag_filter
from .regions import images_url, region_of
from .selection import to_action

TABS = (("owned", "Owned by me"), ("private", "Private images"), ("public", "Public images"))
STATES = ("available", "pending", "failed", "disabled")
_TAB_NAMES = {key for key, _ in TABS}


@dataclass(frozen=True)
class ImageQuery(ListQuery):
    """What the page lists: the tab, the filters, and where in the pages it is."""

    tab: str = "owned"
    name: str = ""
    tag: str = ""
    state: str = ""

    @classmethod
    def of(cls, query: QueryParams) -> "ImageQuery":
        tab = query.get("tab", "owned")
        state = query.get("state", "")
        return cls(
            tab=tab if tab in _TAB_NAMES else "owned",
            name=query.get("name", "").strip(),
            tag=query.get("tag", "").strip(),
            state=state if state in STATES else "",
            **cls.place(query),
        )

    def describe_params(self) -> dict[str, Any]:
        """DescribeImages' input, shaped as boto3's."""
        params: dict[str, Any] = {
            **self.page_params(),
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
        return params

    def _filters(self) -> list[dict[str, Any]]:
        filters: list[dict[str, Any]] = []
        if self.name:
            filters.append({"Name": "name", "Values": [contains(self.name)]})
        if self.tag:
            filters.append(tag_filter(self.tag))
        if self.state:
            filters.append({"Name": "state", "Values": [self.state]})
        return filters

    def tab_link(self, tab: str) -> str:
        return self.first_link(tab=tab)


@signed_in
async def images_page(request: Request, visitor: Visitor) -> Response:
    query = ImageQuery.of(request.query_params)
    return await list_page(
        request,
        visitor,
        template="images.html",
        title="AMIs",
        action="DescribeImages",
        params=query.describe_params(),
        rows=each("Images", row_of),
        query=query,
        list_url=images_url(region_of(request)),
        tabs=TABS,
        states=STATES,
        actions=ACTIONS,
        columns=COLUMNS,
    )


@signed_in
async def image_action(request: Request, visitor: Visitor) -> Response:
    """The Actions buttons of the AMIs table: the chosen action's page for the
    selected image."""
    url = images_url(region_of(request))
    valid = IMAGE_ID.match
    return to_action(request, "image_id", valid, dict(ACTIONS), url, url, "an AMI")
