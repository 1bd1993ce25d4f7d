"""What a deregistered image's id still answers, as DescribeImages documents it:
"Recently deregistered images appear in the returned results for a short
interval and then return empty results. After all instances that reference a
deregistered AMI are terminated, specifying the ID of the image will
eventually return an error indicating that the AMI ID cannot be found."

DeregisterImage (when no Recycle Bin rule keeps the image) removes the image
and its tags and leaves its id in `deregistered_images`, with the image as it
was and its launch permissions (so whoever could name it still can):

* for `SHOWN` after deregistration, DescribeImages naming the id shows the
  image with `State: deregistered`; after that it leaves it out of the
  result, without an error. Listings that do not name ids never show it.
* every other action naming it answers `InvalidAMIID.Unavailable` ("has been
  deregistered and is no longer available"), as a second DeregisterImage
  does on AWS.
* once `REMEMBERED` has passed and no instance launched from it is left
  unterminated, the sweeper forgets the id (`forget_due`): from then on it is
  `InvalidAMIID.NotFound`, as an id that never existed.

The image's name is free at once.
"""

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, exists, select

from amiable.catalog.regional import deregistered_images, instances
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.permissions import Caller, clear, visible

SHOWN = timedelta(seconds=30)  # "a short interval"
REMEMBERED = timedelta(days=7)  # "eventually": AWS still answers empty results after 48 hours


def remember(conn: Connection, document: dict[str, Any], now: datetime) -> None:
    """Keep a just deregistered image's id (in its DeregisterImage transaction)."""
    conn.execute(
        deregistered_images.insert().values(
            image_id=document["ImageId"],
            owner_id=document["OwnerId"],
            document=json.dumps({**document, "State": "deregistered"}),
            deregistered=now,
        )
    )


def named(conn: Connection, caller: Caller, ids: list[str], now: datetime) -> dict[str, Any]:
    """The deregistered ids among `ids` the caller may name, each with the image as
    DescribeImages still shows it, or None when it shows nothing for it any more."""
    if not ids:
        return {}
    rows = conn.execute(
        select(deregistered_images).where(deregistered_images.c.image_id.in_(ids), _visible(caller))
    ).all()
    return {
        row.image_id: json.loads(row.document) if now < row.deregistered + SHOWN else None
        for row in rows
    }


def remembered(conn: Connection, caller: Caller, image_id: str) -> bool:
    query = select(deregistered_images.c.image_id).where(
        deregistered_images.c.image_id == image_id, _visible(caller)
    )
    return conn.execute(query).first() is not None


def unavailable(image_id: str) -> ApiError:
    return ApiError(
        "InvalidAMIID.Unavailable", f"The image id '[{image_id}]' is no longer available"
    )


def forget_due(conn: Connection, now: datetime) -> list[str]:
    """Forget the ids remembered long enough that no unterminated instance uses."""
    in_use = exists().where(
        and_(
            instances.c.image_id == deregistered_images.c.image_id,
            instances.c.state != "terminated",
        )
    )
    due = list(
        conn.execute(
            select(deregistered_images.c.image_id).where(
                deregistered_images.c.deregistered <= now - REMEMBERED, ~in_use
            )
        ).scalars()
    )
    for image_id in due:
        conn.execute(deregistered_images.delete().where(deregistered_images.c.image_id == image_id))
        clear(conn, image_id)
    return due


def _visible(caller: Caller) -> Any:
    return visible(deregistered_images, "image_id", caller)
