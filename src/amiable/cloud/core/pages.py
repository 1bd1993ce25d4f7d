"""`MaxResults` / `NextToken` pagination over results sorted by id."""

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any

from .errors import ApiError, invalid_value

Key = str | Callable[[dict[str, Any]], str]


def page(
    items: Sequence[dict[str, Any]],
    id_field: Key,
    params: dict[str, Any],
    limits: tuple[int, int] = (5, 1000),
    bad_token: str = "InvalidPaginationToken",
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of `items` (already sorted by `id_field`, a field name or a key
    function) and the token for the next; a token that is not one of ours is
    the error `bad_token` (the service's code for it)."""
    key = (lambda item: str(item[id_field])) if isinstance(id_field, str) else id_field
    max_results = params.get("MaxResults")
    token = params.get("NextToken")
    if max_results is None and token is None:
        return list(items), None
    low, high = limits
    size = high if max_results is None else max_results
    if not low <= size <= high:
        raise invalid_value("MaxResults", size, f"must be between {low} and {high}")
    start = 0
    if token:
        after = _decode(token, bad_token)
        start = next((i for i, item in enumerate(items) if key(item) > after), len(items))
    chunk = list(items[start : start + size])
    more = start + size < len(items)
    return chunk, (_encode(key(chunk[-1])) if more and chunk else None)


def paged(params: dict[str, Any]) -> bool:
    return params.get("MaxResults") is not None or params.get("NextToken") is not None


def token_after(params: dict[str, Any], bad_token: str = "InvalidPaginationToken") -> str | None:
    """The id a request's NextToken resumes after (None without one)."""
    token = params.get("NextToken")
    return _decode(token, bad_token) if token else None


def _encode(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode()


def _decode(token: str, code: str) -> str:
    try:
        return base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ApiError(code, "The specified pagination token is not valid or is expired.") from exc
