"""A console list page: one API call with the list's query (its filters, its
MaxResults / NextToken), the rows of one page of the answer and the links to
the pages around it; an EC2 error shown in the page's alert, with no rows."""

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from amiable.cloud.core.errors import ApiError

from .auth import Visitor, cloud_of
from .calls import call
from .list_query import ListQuery
from .regions import region_of
from .render import page

Row = dict[str, Any]
Rows = Callable[[dict[str, Any]], list[Row]]  # an answer -> the rows of its page


def each(key: str, row_of: Callable[[dict[str, Any]], Row]) -> Rows:
    """The rows of a list under `key` of the answer, one per item."""
    return lambda found: [row_of(item) for item in found.get(key, [])]


async def list_page(
    request: Request,
    visitor: Visitor,
    *,
    template: str,
    title: str,
    action: str,
    params: dict[str, Any],
    rows: Rows,
    query: ListQuery,
    list_url: str,
    **context: Any,
) -> Response:
    """`template` with the `rows` of `action`'s answer and the
    *Previous page* / *Next page* links of `query` under `list_url`."""
    region, error = region_of(request), None
    try:
        found = await call(cloud_of(request), visitor, region, action, params)
    except ApiError as exc:
        found, error = {}, exc
    return page(
        request,
        template,
        400 if error else 200,
        title=title,
        visitor=visitor,
        region=region,
        query=query,
        rows=rows(found) if found else [],
        next_link=query.next_link(found.get("NextToken")),
        previous_link=query.previous_link(),
        list_url=list_url,
        error=error,
        **context,
    )
