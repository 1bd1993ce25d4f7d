"""Parameters in the catalog, per account and region: a parameter's latest
version and the version a selector names, its labels, a new version (the
100 most recent are kept), and deletion with everything that hangs on it.

`ssm_parameters` holds each name's latest version number; every version is a
row of `ssm_parameter_versions` with its value and settings.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Select, and_, delete, func, select
from sqlalchemy.exc import IntegrityError

from amiable.catalog.regional import (
    ssm_parameter_labels,
    ssm_parameter_tags,
    ssm_parameter_versions,
    ssm_parameters,
)
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.pages import page

from .naming import Reference

MAX_VERSIONS = 100
_versions = ssm_parameter_versions
_labels = ssm_parameter_labels


def not_found(name: str) -> ApiError:
    return ApiError("ParameterNotFound", f"Parameter {name} not found.")


def version_not_found(name: str, selector: str) -> ApiError:
    return ApiError(
        "ParameterVersionNotFound",
        f"Systems Manager could not find version {selector} of {name}. "
        "Verify the version and try again.",
    )


def already_exists() -> ApiError:
    return ApiError(
        "ParameterAlreadyExists",
        "The parameter already exists. To overwrite this value, set the overwrite option "
        "in the request to true.",
    )


def latest(conn: Connection, account_id: str, name: str) -> Any | None:
    """The latest version's row, None when there is no such parameter."""
    return conn.execute(
        select(_versions)
        .where(_versions.c.account_id == account_id, _versions.c.name == name)
        .order_by(_versions.c.version.desc())
        .limit(1)
    ).first()


def existing(conn: Connection, account_id: str, name: str) -> Any:
    row = latest(conn, account_id, name)
    if row is None:
        raise not_found(name)
    return row


def version(conn: Connection, account_id: str, name: str, number: int) -> Any:
    row = conn.execute(
        select(_versions).where(
            _versions.c.account_id == account_id,
            _versions.c.name == name,
            _versions.c.version == number,
        )
    ).first()
    if row is None:
        raise version_not_found(name, str(number))
    return row


def versions_of(conn: Connection, account_id: str, name: str) -> list[Any]:
    """A parameter's versions, oldest first."""
    query = select(_versions).where(_versions.c.account_id == account_id, _versions.c.name == name)
    return list(conn.execute(query.order_by(_versions.c.version)))


def find(conn: Connection, account_id: str, ref: Reference, asked: str) -> Any:
    """The version `ref` names (the latest without a selector); `asked` is
    the name as the request gave it, for ParameterNotFound."""
    found = [row for name in ref.names if (row := latest(conn, account_id, name)) is not None]
    if not found:
        raise not_found(asked)
    newest = found[0]
    if ref.selector is None:
        return newest
    if ref.version is not None:
        return version(conn, account_id, newest.name, ref.version)
    number = conn.execute(
        select(_labels.c.version).where(
            _labels.c.account_id == account_id,
            _labels.c.name == newest.name,
            _labels.c.label == ref.selector,
        )
    ).scalar()
    if number is None:
        raise version_not_found(newest.name, ref.selector)
    return version(conn, account_id, newest.name, number)


def of_latest(*columns: Any) -> Select[Any]:
    """A query of `columns` over the latest versions only."""
    return select(*columns).join(
        ssm_parameters,
        and_(
            ssm_parameters.c.account_id == _versions.c.account_id,
            ssm_parameters.c.name == _versions.c.name,
            ssm_parameters.c.version == _versions.c.version,
        ),
    )


def latest_rows(conn: Connection, account_id: str) -> list[Any]:
    """Every parameter's latest version, by name."""
    query = of_latest(_versions).where(_versions.c.account_id == account_id)
    return list(conn.execute(query.order_by(_versions.c.name)))


def paged(
    rows: list[Any], key: Callable[[Any], str], params: dict[str, Any], size: int, limit: int
) -> tuple[list[Any], str | None]:
    """One page of rows (sorted by `key`): `size` unless `MaxResults` says
    otherwise, at most `limit`; and the `NextToken` for the next."""
    wanted = {**params, "MaxResults": params.get("MaxResults", size)}
    items = [{"Row": r} for r in rows]
    chosen, token = page(items, lambda i: key(i["Row"]), wanted, (1, limit), "InvalidNextToken")
    return [c["Row"] for c in chosen], token


def labels_of(conn: Connection, account_id: str, name: str | None = None) -> dict[Any, list[str]]:
    """(name, version) -> its labels, sorted; of one parameter or all the account's."""
    query = select(_labels).where(_labels.c.account_id == account_id)
    if name is not None:
        query = query.where(_labels.c.name == name)
    found: dict[Any, list[str]] = {}
    for row in conn.execute(query.order_by(_labels.c.label)):
        found.setdefault((row.name, row.version), []).append(row.label)
    return found


def add_version(conn: Connection, values: dict[str, Any], previous: Any | None) -> None:
    """Write the version `values` describe, after `previous` (the latest, or
    None for a new parameter); the oldest goes past 100 versions, unless it is
    labelled."""
    account_id, name = values["account_id"], values["name"]
    if previous is None:
        try:
            conn.execute(
                ssm_parameters.insert().values(account_id=account_id, name=name, version=1)
            )
        except IntegrityError as exc:  # created meanwhile
            raise already_exists() from exc
    else:
        _make_room(conn, account_id, name)
        conn.execute(
            ssm_parameters.update()
            .where(ssm_parameters.c.account_id == account_id, ssm_parameters.c.name == name)
            .values(version=values["version"])
        )
    conn.execute(_versions.insert().values(**values))


def _make_room(conn: Connection, account_id: str, name: str) -> None:
    mine = and_(_versions.c.account_id == account_id, _versions.c.name == name)
    count, oldest = conn.execute(
        select(func.count(), func.min(_versions.c.version)).where(mine)
    ).one()
    if count < MAX_VERSIONS:
        return
    labelled = conn.execute(
        select(_labels.c.label).where(
            _labels.c.account_id == account_id, _labels.c.name == name, _labels.c.version == oldest
        )
    ).first()
    if labelled is not None:
        raise ApiError(
            "ParameterMaxVersionLimitExceeded",
            f"You attempted to create a new version of {name} by calling the PutParameter API "
            f"with the overwrite flag. Version {oldest}, the oldest version, can't be deleted "
            "because it has a label associated with it. Move the label to another version of "
            "the parameter, and try again.",
        )
    conn.execute(delete(_versions).where(mine, _versions.c.version == oldest))


def remove(conn: Connection, account_id: str, name: str) -> bool:
    """Delete a parameter with its versions, labels and tags; whether there was one."""
    gone = conn.execute(
        delete(ssm_parameters).where(
            ssm_parameters.c.account_id == account_id, ssm_parameters.c.name == name
        )
    ).rowcount
    for table in (_versions, _labels, ssm_parameter_tags):
        conn.execute(delete(table).where(table.c.account_id == account_id, table.c.name == name))
    return bool(gone)
