"""CopyImage: called in the destination region, within a region, across
regions, and by another account from an image shared with it.

The copy belongs to the caller. It answers at once with a `pending` image
whose snapshots are `pending` copies of the source's; the data moves in the
background (only the objects the destination store lacks; within a region
the copies share the source's store snapshots), then snapshots and image
become `completed` / `available` in one transaction. `Encrypted` / `KmsKeyId`
(or the account's encryption by default) encrypt an unencrypted source, and
re-wrap an encrypted one's data key under the destination's key
(`encryption.py`); encrypted never becomes unencrypted. A copy that fails, or is
cut short by a restart, leaves nothing: its image and snapshot rows go, and
the store data it wrote is reclaimed. `ClientToken`
makes a retried call answer with the first copy.
"""

import json
import logging
from typing import Any

from sqlalchemy import Connection

from amiable.cloud.core import client_tokens
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Region
from amiable.cloud.core.ids import new_id
from amiable.cloud.core.permissions import Caller, caller_of
from amiable.cloud.core.tags import apply_specifications, put_tags, tags_of
from amiable.cloud.core.workers import this_worker
from amiable.cloud.ebs.encryption import Plan, plan, protection_of
from amiable.cloud.ebs.snapshots import add_snapshot, move_data, visible_snapshot

from .images import COPIED, check_image_ids, check_name, insert_image, visible_image
from .pending import discard, finish

log = logging.getLogger(__name__)

# (source store snapshot, new snapshot id, data key to encrypt with) per EBS mapping
Work = list[tuple[str, str, bytes | None]]


@action("ec2", "CopyImage")
def copy_image(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    check_name(params["Name"])
    source_id = params["SourceImageId"]
    check_image_ids([source_id])
    caller = caller_of(ctx)
    source: Region = ctx.cloud.region(params["SourceRegion"])
    destination: Region = ctx.cloud.region(ctx.region)
    with destination.catalog.connect() as conn:
        earlier = client_tokens.earlier_answer(conn, caller.account_id, "CopyImage", params)
    if earlier is not None:
        return earlier
    document, stored, tags = _source(source, caller, source_id, params)
    plans = {
        snapshot_id: plan(
            ctx,
            destination,
            source,
            protection_of(row),
            params,
        )
        for snapshot_id, row in stored.items()
    }
    image_id = new_id("ami")
    worker = this_worker()
    with destination.catalog.begin() as conn:
        mappings, work = _copied_mappings(conn, caller, document, stored, plans, image_id, worker)
        copied = {k: document[k] for k in COPIED if k in document}
        insert_image(
            conn,
            destination,
            caller.account_id,
            ctx.cloud.accounts.alias_of(caller.account_id),
            image_id,
            {**copied, "Name": params["Name"], "Description": _description(params, document)},
            mappings,
            extra={
                "State": "pending",
                "SourceImageId": source_id,
                "SourceImageRegion": source.name,
            },
            worker=worker,
        )
        if tags:
            put_tags(conn, image_id, "image", caller.account_id, tags)
        specs = params.get("TagSpecifications") or []
        for spec in specs:
            if spec.get("ResourceType") not in ("image", "snapshot"):
                raise ApiError(
                    "InvalidParameterValue",
                    f"'{spec.get('ResourceType')}' is not a valid taggable resource type "
                    "for this operation.",
                )
        apply_specifications(
            conn,
            [s for s in specs if s.get("ResourceType") == "image"],
            "image",
            image_id,
            caller.account_id,
        )
        for _, snapshot_id, _ in work:
            apply_specifications(
                conn,
                [s for s in specs if s.get("ResourceType") == "snapshot"],
                "snapshot",
                snapshot_id,
                caller.account_id,
            )
        answer = {"ImageId": image_id}
        client_tokens.remember(conn, caller.account_id, "CopyImage", params, answer)
    ctx.cloud.background(_run, source, destination, image_id, work)
    return answer


def _source(
    source: Region, caller: Caller, source_id: str, params: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The source image's document, its snapshots' rows by id, and the tags to copy."""
    with source.catalog.connect() as conn:
        row = visible_image(conn, caller, source_id)
        if row.state != "available":
            raise ApiError(
                "IncorrectState", f"The image {source_id} is {row.state} and cannot be copied."
            )
        document: dict[str, Any] = json.loads(row.document)
        stored = {}
        for snapshot_id in _snapshot_ids(document):
            try:
                stored[snapshot_id] = visible_snapshot(conn, caller, snapshot_id)
            except ApiError as exc:
                raise ApiError(
                    "AuthFailure",
                    f"You do not have permission to access the storage of {source_id} "
                    f"({snapshot_id} is not shared with you).",
                ) from exc
        tags: dict[str, str] = {}
        if params.get("CopyImageTags") and row.owner_id == caller.account_id:
            tags = {t["Key"]: t["Value"] for t in tags_of(conn, [source_id])[source_id]}
    return document, stored, tags


def _snapshot_ids(document: dict[str, Any]) -> list[str]:
    return [
        m["Ebs"]["SnapshotId"]
        for m in document.get("BlockDeviceMappings", [])
        if "SnapshotId" in m.get("Ebs", {})
    ]


def _description(params: dict[str, Any], document: dict[str, Any]) -> str:
    return str(params.get("Description", document.get("Description", "")))


def _copied_mappings(
    conn: Connection,
    caller: Caller,
    document: dict[str, Any],
    stored: dict[str, Any],
    plans: dict[str, Plan],
    image_id: str,
    worker: str,
) -> tuple[list[dict[str, Any]], Work]:
    """The copy's block device mappings, each EBS snapshot a new pending copy."""
    mappings, work = [], []
    for mapping in document.get("BlockDeviceMappings", []):
        mapping = json.loads(json.dumps(mapping))
        ebs = mapping.get("Ebs", {})
        if "SnapshotId" in ebs:
            row, target = stored[ebs["SnapshotId"]], plans[ebs["SnapshotId"]]
            ebs.pop("KmsKeyId", None)
            ebs["Encrypted"] = target.protection is not None
            if target.protection is not None:
                ebs["KmsKeyId"] = target.protection.kms_key_id
            ebs["SnapshotId"] = add_snapshot(
                conn,
                caller.account_id,
                volume_id="vol-ffffffff",
                size=row.volume_size,
                description=f"Copied for DestinationAmi {image_id} from SourceAmi "
                f"{document['ImageId']} for SourceSnapshot {row.snapshot_id}",
                # named now so a discarded copy knows what to free (a new encrypted
                # store snapshot is named when it exists)
                store_snapshot=None if target.data_key else row.store_snapshot,
                pending_worker=worker,
                protection=target.protection,
            )
            work.append((row.store_snapshot, ebs["SnapshotId"], target.data_key))
        mappings.append(mapping)
    return mappings, work


def _run(source: Region, destination: Region, image_id: str, work: Work) -> None:
    written: list[str] = []  # new encrypted store snapshots, freed if the copy fails
    try:
        moved = []
        for store_snapshot, snapshot_id, data_key in work:
            moved.append((snapshot_id, move_data(source, destination, store_snapshot, data_key)))
            if data_key is not None:
                written.append(moved[-1][1])
    except Exception:
        log.exception("copying %s failed", image_id)
        discard(destination, image_id, tuple(written))
        return
    finish(destination, image_id, dict(moved))
