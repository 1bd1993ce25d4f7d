"""What a console list asks for, kept in its URL: its filters and where in its
pages it is. Lists page on the server with the API's MaxResults / NextToken,
PAGE_SIZE rows a page; the tokens of the pages before are kept in the URL
too (`trail`), so *Previous page* needs no server state."""

from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

PAGE_SIZE = 50
_PLACE = ("token", "trail")


@dataclass(frozen=True)
class ListQuery:
    """A list's place in its pages (`token`: the API's NextToken of this page;
    `trail`: the tokens of the pages before). A list with filters subclasses
    it with string fields, each named in the URL as the field is."""

    token: str = ""
    trail: tuple[str, ...] = ()

    @classmethod
    def of(cls, query: QueryParams) -> "ListQuery":
        return cls(**cls.place(query))

    @staticmethod
    def place(query: QueryParams) -> dict[str, Any]:
        """The `token` and `trail` the URL names."""
        trail = tuple(t for t in query.get("trail", "").split(",") if t)
        return {"token": query.get("token", ""), "trail": trail}

    def page_params(self) -> dict[str, Any]:
        """MaxResults, and the NextToken of this page, shaped as boto3's input."""
        params: dict[str, Any] = {"MaxResults": PAGE_SIZE}
        if self.token:
            params["NextToken"] = self.token
        return params

    def link(self, **changes: Any) -> str:
        """This page's query string with `changes` (the filters first, then the place)."""
        chosen = replace(self, **changes)
        names = [f.name for f in fields(chosen) if f.name not in _PLACE] + list(_PLACE)
        values = {name: getattr(chosen, name) for name in names}
        values["trail"] = ",".join(chosen.trail)
        return "?" + urlencode({k: v for k, v in values.items() if v})

    def first_link(self, **changes: Any) -> str:
        """The first page of the list with `changes` (another tab, other filters)."""
        return replace(self, token="", trail=()).link(**changes)

    def next_link(self, token: str | None) -> str | None:
        return self.link(token=token, trail=(*self.trail, self.token)) if token else None

    def previous_link(self) -> str | None:
        if not self.token:
            return None
        return self.link(token=self.trail[-1] if self.trail else "", trail=self.trail[:-1])


@dataclass(frozen=True)
class FilteredQuery(ListQuery):
    """A list filtered by id (a part of it, or a pattern), tag and state: a
    subclass names the id's filter, the states and their filter."""

    ID_FILTER: ClassVar[str]
    STATES: ClassVar[tuple[str, ...]]
    STATE_FILTER: ClassVar[str] = "status"

    id: str = ""
    tag: str = ""
    state: str = ""

    @classmethod
    def of(cls, query: QueryParams) -> "FilteredQuery":
        state = query.get("state", "")
        return cls(
            id=query.get("id", "").strip(),
            tag=query.get("tag", "").strip(),
            state=state if state in cls.STATES else "",
            **cls.place(query),
        )

    def describe_params(self, **params: Any) -> dict[str, Any]:
        """`params` with this page's MaxResults, NextToken and Filters, shaped as boto3's."""
        filters: list[dict[str, Any]] = []
        if self.id:
            filters.append({"Name": self.ID_FILTER, "Values": [contains(self.id)]})
        if self.tag:
            filters.append(tag_filter(self.tag))
        if self.state:
            filters.append({"Name": self.STATE_FILTER, "Values": [self.state]})
        chosen = {**self.page_params(), **params}
        return {**chosen, "Filters": filters} if filters else chosen


def contains(text: str) -> str:
    """A filter value matching `text` anywhere, unless it is a pattern (`*`, `?`) itself."""
    return text if any(c in text for c in "*?") else f"*{text}*"


def tag_filter(text: str) -> dict[str, Any]:
    """`key=value` as a `tag:key` filter; a key alone as `tag-key`."""
    key, equals, value = text.partition("=")
    if equals:
        return {"Name": f"tag:{key.strip()}", "Values": [value.strip()]}
    return {"Name": "tag-key", "Values": [key]}
