"""Parameters that name images: the `aws:ec2:image` data type and
`resolve:ssm:` image ids.

An `aws:ec2:image` value must be an image the caller can launch in the
region: its own, shared with it or public, and available (not disabled or
deregistered). AWS checks that after PutParameter returns and drops the
version, reporting "Unable to Describe Resource" in an event; here the check
is part of PutParameter and the same words come back as its error.

EC2 takes `resolve:ssm:NAME`, `resolve:ssm:NAME:VERSION` and
`resolve:ssm:NAME:LABEL` (or the parameter's ARN) wherever it takes an image
id; the parameter must exist and be of the `aws:ec2:image` data type
(`SsmInvalidParameter` otherwise), and resolves to its value.
"""

from typing import Any

from sqlalchemy import Connection

from amiable.catalog.regional import ssm_parameter_versions
from amiable.cloud.core.actions import Context
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Region
from amiable.cloud.core.permissions import caller_of
from amiable.cloud.images.images import available_image

from . import naming, records

IMAGE = "aws:ec2:image"
PREFIX = "resolve:ssm:"


def check_image(ctx: Context, conn: Connection, value: str) -> None:
    """Refuse an `aws:ec2:image` value that is no image the caller can launch."""
    try:
        available_image(conn, caller_of(ctx), value)
    except ApiError as exc:
        raise ApiError(
            "ValidationException", f"Unable to Describe Resource: {exc.message}"
        ) from exc


def _aliased(ctx: Context, conn: Connection, image_id: str) -> Any:
    """The parameter version a `resolve:ssm:` image id names."""
    try:
        ref = naming.reference(image_id[len(PREFIX) :], ctx.region, ctx.account_id)
        row = records.find(conn, ctx.account_id, ref, image_id)
    except ApiError as exc:
        raise ApiError(
            "SsmInvalidParameter", f"The following aliases are invalid: {image_id}"
        ) from exc
    if row.data_type != IMAGE:
        raise ApiError(
            "SsmInvalidParameter",
            f"Unsupported data type. The following parameter data types are supported: {IMAGE}",
        )
    return row


def check_alias(ctx: Context, conn: Connection, image_id: str | None) -> None:
    """Refuse a `resolve:ssm:` image id that names no image parameter (launch
    templates keep it as written)."""
    if image_id and image_id.startswith(PREFIX):
        _aliased(ctx, conn, image_id)


def resolved(ctx: Context, image_id: str) -> str:
    """The image id itself, or the value of the parameter a `resolve:ssm:` id names."""
    if not image_id.startswith(PREFIX):
        return image_id
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.connect() as conn:
        return str(_aliased(ctx, conn, image_id).value)


def parameters_naming(conn: Connection, account_id: str, image_id: str) -> list[str]:
    """The account's `aws:ec2:image` parameters whose latest value is `image_id`."""
    versions = ssm_parameter_versions
    rows = conn.execute(
        records.of_latest(versions.c.name)
        .where(
            versions.c.account_id == account_id,
            versions.c.data_type == IMAGE,
            versions.c.value == image_id,
        )
        .order_by(versions.c.name)
    )
    return list(rows.scalars())
