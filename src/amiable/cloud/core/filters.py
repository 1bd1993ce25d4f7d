"""EC2 `Filters`: name/values pairs with `*` and `?` wildcards.

A resource matches when, for every filter, at least one of the filter's
values matches at least one of the resource's values for that name (AND
across filters, OR within one), as EC2 documents.
"""

import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any, TypeVar

from .errors import ApiError

Item = TypeVar("Item", bound=Mapping[str, Any])
# filter name -> the values a resource has for it
Extractor = Callable[[Mapping[str, Any]], Iterable[str]]


@cache
def _pattern(value: str) -> re.Pattern[str]:
    parts = []
    for piece in re.split(r"(\\[*?\\]|[*?])", value):
        if piece == "*":
            parts.append(".*")
        elif piece == "?":
            parts.append(".")
        elif piece.startswith("\\") and len(piece) == 2:
            parts.append(re.escape(piece[1]))
        else:
            parts.append(re.escape(piece))
    return re.compile("".join(parts), re.DOTALL)


def matches(value: str, pattern: str) -> bool:
    return _pattern(pattern).fullmatch(value) is not None


def select(
    items: Iterable[Item],
    filters: list[dict[str, Any]] | None,
    extractors: Mapping[str, Extractor],
) -> list[Item]:
    """The items that pass every filter; an unknown filter name is an error."""
    wanted = []
    for f in filters or []:
        name = f.get("Name", "")
        extractor = extractors.get(name)
        if extractor is None:
            raise ApiError("InvalidParameterValue", f"The filter '{name}' is invalid")
        wanted.append((extractor, f.get("Values", [])))
    return [
        item
        for item in items
        if all(
            any(matches(have, want) for have in extract(item) for want in values)
            for extract, values in wanted
        )
    ]


def field(name: str) -> Extractor:
    """Values of one top-level field of an output dict."""

    def extract(item: Mapping[str, Any]) -> Iterable[str]:
        value = item.get(name)
        return (
            [] if value is None else [str(value).lower() if isinstance(value, bool) else str(value)]
        )

    return extract
