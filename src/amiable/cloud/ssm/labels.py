"""Labels on parameter versions: LabelParameterVersion and
UnlabelParameterVersion.

A label is at most 100 letters, digits, `.`, `-` and `_`, and starts with
neither a digit nor `aws` or `ssm` (any case); one that is not comes back in
`InvalidLabels` and is not attached. A label names one version of a
parameter: attaching it to another version moves it there. A version holds
at most 10 labels (`ParameterVersionLabelLimitExceeded`).
"""

import re
from typing import Any

from sqlalchemy import delete, select

from amiable.catalog.regional import ssm_parameter_labels
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Region

from . import naming, records

MAX_PER_VERSION = 10
_LABEL = re.compile(r"[a-zA-Z0-9._\-]{1,100}")
_labels = ssm_parameter_labels


def valid(label: str) -> bool:
    return (
        _LABEL.fullmatch(label) is not None
        and not label[0].isdigit()
        and not label.lower().startswith(("aws", "ssm"))
    )


def _catalog(ctx: Context) -> Any:
    region: Region = ctx.cloud.region(ctx.region)
    return region.catalog


def _of(account_id: str, name: str) -> Any:
    return (_labels.c.account_id == account_id) & (_labels.c.name == name)


@action("ssm", "LabelParameterVersion")
def label_parameter_version(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name = naming.checked(params["Name"])
    asked = list(dict.fromkeys(params["Labels"]))
    good = [label for label in asked if valid(label)]
    with _catalog(ctx).begin() as conn:
        latest = records.existing(conn, ctx.account_id, name)
        number = params.get("ParameterVersion", latest.version)
        records.version(conn, ctx.account_id, name, number)
        held = conn.execute(
            select(_labels.c.label).where(_of(ctx.account_id, name), _labels.c.version == number)
        ).scalars()
        if len(set(held) | set(good)) > MAX_PER_VERSION:
            raise ApiError(
                "ParameterVersionLabelLimitExceeded",
                f"A parameter version can have maximum {MAX_PER_VERSION} labels. Move one or "
                "more labels to another version and try again.",
            )
        conn.execute(delete(_labels).where(_of(ctx.account_id, name), _labels.c.label.in_(good)))
        for label in good:
            conn.execute(
                _labels.insert().values(
                    account_id=ctx.account_id, name=name, label=label, version=number
                )
            )
    return {
        "InvalidLabels": [label for label in asked if label not in good],
        "ParameterVersion": number,
    }


@action("ssm", "UnlabelParameterVersion")
def unlabel_parameter_version(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name = naming.checked(params["Name"])
    number = params["ParameterVersion"]
    asked = list(dict.fromkeys(params["Labels"]))
    with _catalog(ctx).begin() as conn:
        records.existing(conn, ctx.account_id, name)
        records.version(conn, ctx.account_id, name, number)
        on_version = (_of(ctx.account_id, name)) & (_labels.c.version == number)
        held = set(conn.execute(select(_labels.c.label).where(on_version)).scalars())
        removed = [label for label in asked if label in held]
        conn.execute(delete(_labels).where(on_version, _labels.c.label.in_(removed)))
    return {
        "RemovedLabels": removed,
        "InvalidLabels": [label for label in asked if label not in held],
    }
