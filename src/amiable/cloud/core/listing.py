"""What every Describe* action does: the caller's rows (by id when asked,
NotFound for ids that are not there), their tags, then filters and a page."""

from collections.abc import Callable, Iterable, Mapping
from itertools import islice
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, Table, select

from .errors import ApiError
from .filters import Extractor
from .filters import select as filter_items
from .home import Region
from .pages import Key, page
from .tags import filter_names, tag_extractors, tags_of


def owned_rows(
    region: Region,
    table: Table,
    id_column: str,
    owner: str,
    wanted: list[str],
    not_found: Callable[[list[str]], ApiError],
) -> tuple[list[Row[Any]], dict[str, list[dict[str, str]]]]:
    """The owner's rows (only `wanted` ids if given) in id order, and their tags."""
    mine = table.c.owner_id == owner
    return visible_rows(region, table, id_column, owner, mine, wanted, not_found)


def visible_rows(
    region: Region,
    table: Table,
    id_column: str,
    caller: str,
    visible: ColumnElement[bool],
    wanted: list[str],
    not_found: Callable[[list[str]], ApiError],
    narrow: Callable[[Select[Any]], Select[Any]] | None = None,
) -> tuple[list[Row[Any]], dict[str, list[dict[str, str]]]]:
    """The rows the caller may see (only `wanted` ids if given, NotFound for any
    it may not) in id order, and their tags (the caller's own rows' only: tags
    are not shared)."""
    column = table.c[id_column]
    query = select(table).where(visible)
    if wanted:
        query = query.where(column.in_(wanted))
    elif narrow is not None:
        query = narrow(query)
    with region.catalog.connect() as conn:
        rows = list(conn.execute(query.order_by(column)).all())
        ids = [getattr(r, id_column) for r in rows]
        tags: dict[str, list[dict[str, str]]] = {i: [] for i in ids}
        tags |= tags_of(conn, [i for i, r in zip(ids, rows, strict=True) if r.owner_id == caller])
    missing = sorted(set(wanted) - {getattr(r, id_column) for r in rows})
    if missing:
        raise not_found(missing)
    return rows, tags


def filtered_page(
    items: list[dict[str, Any]],
    params: dict[str, Any],
    extractors: Mapping[str, Extractor],
    id_field: Key,
    limits: tuple[int, int] = (5, 1000),
) -> tuple[list[dict[str, Any]], str | None]:
    """Apply `Filters` (with `tag:` and `tag-key`) and `MaxResults`/`NextToken`."""
    filters = params.get("Filters")
    chosen = filter_items(items, filters, {**extractors, **tag_extractors(filter_names(filters))})
    return page(chosen, id_field, params, limits)


def streamed_page(
    items: Iterable[dict[str, Any]],
    params: dict[str, Any],
    extractors: Mapping[str, Extractor],
    id_field: Key,
    limits: tuple[int, int] = (5, 1000),
) -> tuple[list[dict[str, Any]], str | None]:
    """`filtered_page` of a paged request (`pages.paged`) over `items` sorted by
    `id_field` and already past its NextToken (`pages.token_after`), taken only
    as far as the page needs: one item past it says whether there is more."""
    filters = params.get("Filters")
    by = {**extractors, **tag_extractors(filter_names(filters))}
    filter_items([], filters, by)  # an unknown filter is an error even with nothing to filter
    size = params.get("MaxResults", limits[1])
    passing = (item for item in items if filter_items([item], filters, by))
    head = list(islice(passing, max(size, 0) + 1))
    return page(head, id_field, {"MaxResults": size}, limits)
