"""Where instances run: the glue between instance rows and `runtime/` sandboxes.

Each region keeps `cache/` (images' files, restored once) and
`instances/<id>/` (each sandbox). Transitions that take time — boot, stop,
terminate — run in the cloud's background pool and write the resulting state
in one transaction; a failed boot ends the instance with EC2's
`Server.InternalError` reason. Reading an instance reconciles its row with its
sandbox: a `running` instance whose init is gone (a host reboot, a kill) is
`stopped`.
"""

import logging
import os
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from amiable.catalog.regional import instances, volumes
from amiable.cloud.core.home import Region
from amiable.cloud.core.tags import tags_of
from amiable.cloud.core.workers import alive
from amiable.cloud.ebs.snapshots import unused_store_snapshot
from amiable.runtime.cache import materialize
from amiable.runtime.sandbox import Sandbox, Volume

log = logging.getLogger(__name__)


def sandbox(region: Region, instance_id: str) -> Sandbox:
    return Sandbox(region.root / "instances" / instance_id)


def layer_of(region: Region, store_snapshot: str, data_key: bytes | None) -> Callable[[], Path]:
    """What gives an instance's lower layer: the cached files of its root
    volume's store snapshot, restored (and decrypted) on first use."""
    return lambda: materialize(region.store, store_snapshot, region.root / "cache", data_key)


def _set(region: Region, instance_id: str, **values: Any) -> None:
    with region.catalog.begin() as conn:
        conn.execute(
            instances.update().where(instances.c.instance_id == instance_id).values(**values)
        )


def volume_layer(region: Region, volume_id: str) -> Path:
    """A volume's own writable layer: its changes, wherever it is attached."""
    return region.root / "volumes" / volume_id


def changes_of(region: Region, volume: Any) -> Path | None:
    """The upper directory holding a volume's changes, if it has any: its
    instance's for a root volume, its own layer's for any other."""
    upper = volume_layer(region, volume.volume_id) / "upper"
    if volume.instance_id is not None:
        with region.catalog.connect() as conn:
            root = conn.execute(
                select(instances.c.root_volume_id).where(
                    instances.c.instance_id == volume.instance_id
                )
            ).scalar()
        if root == volume.volume_id:
            upper = sandbox(region, volume.instance_id).upper
    return upper if upper.is_dir() and any(upper.iterdir()) else None


NETWORK_TAG = "amiable:network"


def has_network(region: Region, instance_id: str) -> bool:
    """The host's network, unless the instance is tagged `amiable:network=none`."""
    with region.catalog.connect() as conn:
        labels = tags_of(conn, [instance_id])[instance_id]
    return {"Key": NETWORK_TAG, "Value": "none"} not in labels


def mountpoint(device: str) -> str:
    """Where an extra volume appears inside the instance: /dev/sdf -> /mnt/sdf."""
    return "/mnt/" + Path(device).name


def volume_mount(region: Region, volume: Any, data_key: bytes | None) -> Volume:
    layer = volume_layer(region, volume.volume_id)
    if volume.store_snapshot:
        lowers = [materialize(region.store, volume.store_snapshot, region.root / "cache", data_key)]
    else:
        (layer / "empty").mkdir(parents=True, exist_ok=True)
        lowers = [layer / "empty"]
    return Volume(lowers, layer, mountpoint(volume.device))


def boot(
    region: Region,
    instance_id: str,
    layer: Callable[[], Path],
    user_data: bytes | None,
    volumes: Callable[[], list[Volume]] = list,
) -> None:
    """Background: start the sandbox with its extra volumes, then `running`; on
    failure the instance ends as EC2 ends a failed launch."""
    try:
        sandbox(region, instance_id).start(
            [layer()],
            instance_id,
            user_data=user_data,
            volumes=volumes(),
            network=has_network(region, instance_id),
        )
    except Exception as exc:
        log.exception("booting %s failed", instance_id)
        _set(
            region,
            instance_id,
            state="terminated",
            state_reason=f"Server.InternalError: Internal error on launch: {exc}",
            worker=None,
        )
        return
    _set(region, instance_id, state="running", state_reason=None, worker=None)


def stop(region: Region, instance_id: str, reason: str) -> None:
    sandbox(region, instance_id).stop()
    _set(region, instance_id, state="stopped", state_reason=reason, worker=None)


def terminate(region: Region, instance_id: str, now: datetime) -> None:
    """Stop it, delete the volumes marked DeleteOnTermination and detach the
    others — a kept root volume takes the instance's changes with it."""
    box = sandbox(region, instance_id)
    box.stop()
    with region.catalog.connect() as conn:
        root = conn.execute(
            select(instances.c.root_volume_id).where(instances.c.instance_id == instance_id)
        ).scalar()
        kept = conn.execute(
            select(volumes.c.volume_id).where(
                volumes.c.instance_id == instance_id,
                volumes.c.volume_id == root,
                volumes.c.delete_on_termination.is_(False),
            )
        ).scalar()
    if kept is not None and box.upper.is_dir():  # the root's changes become the volume's own
        layer = volume_layer(region, kept)
        layer.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(layer / "upper", ignore_errors=True)
        os.rename(box.upper, layer / "upper")
    box.destroy()
    unused = []
    with region.catalog.begin() as conn:
        attached = conn.execute(select(volumes).where(volumes.c.instance_id == instance_id)).all()
        for volume in attached:
            if volume.delete_on_termination:
                conn.execute(volumes.delete().where(volumes.c.volume_id == volume.volume_id))
                shutil.rmtree(volume_layer(region, volume.volume_id), ignore_errors=True)
                free = unused_store_snapshot(conn, volume.store_snapshot)
                if free:
                    unused.append(free)
            else:
                conn.execute(
                    volumes.update()
                    .where(volumes.c.volume_id == volume.volume_id)
                    .values(state="available", instance_id=None, device=None)
                )
        conn.execute(
            instances.update()
            .where(instances.c.instance_id == instance_id)
            .values(
                state="terminated",
                state_reason="Client.UserInitiatedShutdown: User initiated shutdown",
                worker=None,
                ended=now,
            )
        )
    for store_snapshot in unused:
        region.store.delete(store_snapshot)


def reconcile(conn: Connection, region: Region, row: Any) -> Any:
    """The row as it really is: a sandbox that died reads as stopped, a transition
    whose worker died as the state it was leaving or reaching."""
    if row.worker is not None and alive(row.worker):
        return row
    values: dict[str, Any] = {}
    running = sandbox(region, row.instance_id).running()
    if row.state == "running" and not running:
        values = {"state": "stopped", "state_reason": "Server.InstanceShutdown: host stopped"}
    elif row.state in ("pending", "stopping") and row.worker is not None:
        values = {"state": "running" if running else "stopped", "worker": None}
    elif row.state == "shutting-down" and row.worker is not None:
        values = {"worker": None}  # terminate again on the next TerminateInstances
    if not values:
        return row
    conn.execute(
        instances.update().where(instances.c.instance_id == row.instance_id).values(**values)
    )
    return conn.execute(select(instances).where(instances.c.instance_id == row.instance_id)).one()
