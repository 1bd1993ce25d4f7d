"""Where instances run: the glue between instance rows and `runtime/` sandboxes,
and the one rule that keeps them true — one sandbox per instance, always.

Each region keeps `cache/` (images' files, restored once), `instances/<id>/`
(each sandbox) and `instances/.locks/<id>` (its lock). A transition (boot,
stop, reboot, terminate, the stop/start around CreateImage) is asked for by
an action, which moves the row to the state it goes through and marks it with
its worker (`<boot id>:<pid>`) in one compare-and-set; the work then runs on a
thread of its own holding the instance's lock (flock, so threads and
processes sharing the data home wait for each other), re-reads the row and
writes the state it reaches only if no later action changed it meanwhile.

Reading an instance reconciles its row with its sandbox (`reconcile`): a row
marked by a live worker is mid-transition and shown as it is; one marked by a
dead worker (a server killed mid-way) is claimed and its transition finished;
an unmarked `running` instance whose init is gone stopped — by itself
(`poweroff` inside: stopped, or terminated if its shutdown behaviour says so)
or with the host — and reads so.
"""

import fcntl
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from amiable.catalog.regional import instances, volumes
from amiable.cloud.core.home import Region
from amiable.cloud.core.tags import tags_of
from amiable.cloud.core.workers import alive, this_worker
from amiable.cloud.ebs.snapshots import unused_store_snapshot
from amiable.cloud.network.enforcement import link_of
from amiable.runtime.cache import materialize
from amiable.runtime.layout import HOST_NETWORK, NO_NETWORK
from amiable.runtime.sandbox import (
    HostService,
    Limit,
    Network,
    Sandbox,
    Volume,
    rootless,
)

from . import metadata
from .instance_types import limits_of

log = logging.getLogger(__name__)

USER_SHUTDOWN = "Client.UserInitiatedShutdown: User initiated shutdown"
INSTANCE_SHUTDOWN = "Client.InstanceInitiatedShutdown: Instance initiated shutdown"
HOST_STOPPED = "Server.InstanceShutdown: host stopped"
Transition = Callable[..., None]


def sandbox(region: Region, instance_id: str) -> Sandbox:
    return Sandbox(region.instance_directory(instance_id))


def layer_of(
    region: Region, store_snapshot: str, data_key: bytes | None
) -> Callable[[], list[Path]]:
    """What gives an instance's lower layers: the cached files of its root
    volume's store snapshot, restored (and decrypted) on first use."""
    return lambda: materialize(region.store, store_snapshot, region.root / "cache", data_key)


def row_of(region: Region, instance_id: str) -> Any:
    with region.catalog.connect() as conn:
        return conn.execute(select(instances).where(instances.c.instance_id == instance_id)).first()


def settle(
    region: Region, instance_id: str, expected: str, unmarked: bool = False, **values: Any
) -> bool:
    """Write the state a transition reached, unless a later action moved the
    instance out of `expected` meanwhile (then that action's work decides);
    `unmarked`: only if no transition has claimed it either (for what a read
    concluded from the sandbox, which a transition may be changing)."""
    condition = instances.c.state == expected
    if unmarked:
        condition &= instances.c.worker.is_(None)
    with region.catalog.begin() as conn:
        done = conn.execute(
            instances.update()
            .where(instances.c.instance_id == instance_id, condition)
            .values(**values)
        )
    return bool(done.rowcount)


ANY_WORKER = "*"


def claim(
    region: Region, instance_id: str, current: str, worker: str | None = ANY_WORKER, **values: Any
) -> bool:
    """Compare-and-set: mark the instance with this process as its worker (and
    `values`) if it is still in state `current` (and marked by `worker`, None for
    unmarked); False when another action got there first."""
    condition = instances.c.state == current
    if worker is None:
        condition &= instances.c.worker.is_(None)
    elif worker != ANY_WORKER:
        condition &= instances.c.worker == worker
    with region.catalog.begin() as conn:
        done = conn.execute(
            instances.update()
            .where(instances.c.instance_id == instance_id, condition)
            .values(worker=this_worker(), **values)
        )
    return bool(done.rowcount)


@contextmanager
def locked(region: Region, instance_id: str) -> Iterator[None]:
    """Hold the instance's lock: one transition at a time, across threads and processes."""
    path = region.root / "instances" / ".locks" / instance_id
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def in_background(region: Region, instance_id: str, work: Transition, *args: Any) -> None:
    """Run a transition as the cloud's background work (which a process
    finishes before it exits), under the instance's lock."""
    region.background(_transition, region, instance_id, work, args)


def at_once(region: Region, instance_id: str, work: Transition, *args: Any) -> None:
    """Run a transition now, in the request, under the instance's lock."""
    _transition(region, instance_id, work, args)


def _transition(region: Region, instance_id: str, work: Transition, args: tuple[Any, ...]) -> None:
    with locked(region, instance_id):
        try:
            work(region, instance_id, *args)
        except Exception as exc:
            log.exception("%s of %s failed", work.__name__, instance_id)
            _as_it_is(region, instance_id, f"{work.__name__} failed: {exc}")


def _as_it_is(region: Region, instance_id: str, why: str) -> None:
    """After a transition of this process failed unexpectedly: the instance
    reads as its sandbox is, never stuck mid-way."""
    state = "running" if sandbox(region, instance_id).running() else "stopped"
    with region.catalog.begin() as conn:
        conn.execute(
            instances.update()
            .where(
                instances.c.instance_id == instance_id,
                instances.c.worker == this_worker(),
                instances.c.state != "terminated",
            )
            .values(state=state, worker=None, state_reason=f"Server.InternalError: {why}")
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
        lowers = materialize(region.store, volume.store_snapshot, region.root / "cache", data_key)
    else:
        (layer / "empty").mkdir(parents=True, exist_ok=True)
        lowers = [layer / "empty"]
    return Volume(lowers, layer, mountpoint(volume.device))


def boot(
    region: Region,
    instance_id: str,
    layer: Callable[[], list[Path]],
    user_data: bytes | None,
    volumes: Callable[[], list[Volume]] = list,
    launching: bool = False,
) -> None:
    """Start the sandbox of a `pending` instance, then `running`. A launch that
    fails ends the instance as EC2 ends a failed launch; a start that fails
    leaves it stopped. Either way the failed boot left nothing running."""
    row = row_of(region, instance_id)
    if row is None or row.state != "pending":
        return
    try:
        _start(region, instance_id, layer, user_data, volumes)
    except Exception as exc:
        log.exception("booting %s failed", instance_id)
        reason = f"Server.InternalError: Internal error on launch: {exc}"
        if not launching:
            settle(
                region, instance_id, "pending", state="stopped", state_reason=reason, worker=None
            )
        elif settle(region, instance_id, "pending", state="shutting-down", state_reason=reason):
            terminate(region, instance_id, region.clock.now())
        return
    settle(region, instance_id, "pending", state="running", state_reason=None, worker=None)


def _start(
    region: Region,
    instance_id: str,
    layer: Callable[[], list[Path]],
    user_data: bytes | None,
    volumes: Callable[[], list[Volume]],
) -> None:
    row = row_of(region, instance_id)
    network, service = _network_of(region, row)
    vcpus, memory_mib = limits_of(row.instance_type)
    sandbox(region, instance_id).start(
        layer(),
        instance_id,
        user_data=user_data,
        volumes=volumes(),
        network=network,
        service=service,
        limit=Limit(vcpus, memory_mib),
    )


def _network_of(region: Region, row: Any) -> tuple[Network, HostService | None]:
    """An instance's own link and metadata service (the host's network for an
    instance launched before instances had their own, or on a rootless host,
    where only root can plug links; none when tagged so)."""
    if not has_network(region, row.instance_id):
        return NO_NETWORK, None
    if row.private_ip is None or rootless():
        return HOST_NETWORK, None
    with region.catalog.connect() as conn:
        link = link_of(conn, row)
    return link, metadata.service(region, row.instance_id)


def reboot(
    region: Region,
    instance_id: str,
    layer: Callable[[], list[Path]],
    volumes: Callable[[], list[Volume]],
) -> None:
    """Stop and boot again a `running` instance; it reads `running` throughout."""
    row = row_of(region, instance_id)
    if row is None or row.state != "running":
        return
    sandbox(region, instance_id).stop()
    boot_again(region, instance_id, layer, volumes)


def boot_again(
    region: Region,
    instance_id: str,
    layer: Callable[[], list[Path]],
    volumes: Callable[[], list[Volume]],
) -> None:
    """Boot a `running` instance whose sandbox this transition stopped (a reboot,
    CreateImage), and clear its mark; stopped, saying why, if that fails."""
    try:
        _start(region, instance_id, layer, None, volumes)
    except Exception as exc:
        reason = f"Server.InternalError: Internal error on reboot: {exc}"
        settle(region, instance_id, "running", state="stopped", state_reason=reason, worker=None)
        return
    settle(region, instance_id, "running", worker=None)


def stop(region: Region, instance_id: str, reason: str = USER_SHUTDOWN) -> None:
    """Stop the sandbox of a `stopping` instance, then `stopped`."""
    row = row_of(region, instance_id)
    if row is None or row.state != "stopping":
        return
    sandbox(region, instance_id).stop()
    settle(region, instance_id, "stopping", state="stopped", state_reason=reason, worker=None)


def terminate(region: Region, instance_id: str, now: datetime) -> None:
    """End a `shutting-down` instance: every process of its sandbox, its
    directory, the volumes marked DeleteOnTermination; the others are detached
    — a kept root volume takes the instance's changes with it."""
    row = row_of(region, instance_id)
    if row is None or row.state != "shutting-down":
        return
    box = sandbox(region, instance_id)
    box.stop()
    with region.catalog.connect() as conn:
        kept = conn.execute(
            select(volumes.c.volume_id).where(
                volumes.c.instance_id == instance_id,
                volumes.c.volume_id == row.root_volume_id,
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
            .values(state="terminated", worker=None, ended=now)
        )
    (region.root / "instances" / ".locks" / instance_id).unlink(missing_ok=True)
    for store_snapshot in unused:
        region.store.delete(store_snapshot)


def recover(region: Region, instance_id: str) -> None:
    """Finish a transition whose worker died (this process claimed it): a stop
    or a terminate is carried out; a boot or a reboot ends as the sandbox is."""
    row = row_of(region, instance_id)
    if row is None or row.worker != this_worker():
        return
    if row.state == "stopping":
        stop(region, instance_id, row.state_reason or USER_SHUTDOWN)
    elif row.state == "shutting-down":
        terminate(region, instance_id, region.clock.now())
    elif sandbox(region, instance_id).running():
        settle(region, instance_id, row.state, state="running", worker=None)
    else:
        reason = HOST_STOPPED if row.state == "running" else row.state_reason
        settle(region, instance_id, row.state, state="stopped", state_reason=reason, worker=None)


def reconcile(region: Region, row: Any) -> Any:
    """The row as it really is (see the module's docstring); transitions it
    starts run in the background, and the row returned shows them begun."""
    if row.worker is not None:
        if alive(row.worker):
            return row
        if claim(region, row.instance_id, row.state, row.worker):
            in_background(region, row.instance_id, recover)
        return row_of(region, row.instance_id)
    if row.state not in ("running", "stopped"):
        return row
    box = sandbox(region, row.instance_id)
    running = not box.ended()
    if row.state == "running" and not running:
        _stopped_by_itself(region, row, box.shutdown_reason())
    elif row.state == "stopped" and running:  # a sandbox no transition owns: end it
        if claim(region, row.instance_id, "stopped", None, state="stopping"):
            in_background(region, row.instance_id, stop, row.state_reason or USER_SHUTDOWN)
    else:
        return row  # as it is
    return row_of(region, row.instance_id)


def _stopped_by_itself(region: Region, row: Any, shutdown: str | None) -> None:
    """A running instance whose sandbox ended without a transition: shut down
    from inside (`poweroff`: its shutdown behaviour decides) or with the host."""
    reason = HOST_STOPPED if shutdown is None else INSTANCE_SHUTDOWN
    if shutdown is not None and row.shutdown_behavior == "terminate":
        changes = {"state": "shutting-down", "state_reason": reason}
        if claim(region, row.instance_id, "running", None, **changes):
            in_background(region, row.instance_id, terminate, region.clock.now())
    else:
        settle(
            region, row.instance_id, "running", unmarked=True, state="stopped", state_reason=reason
        )


def recover_all(region: Region) -> None:
    """At start: finish the transitions a dead server left (a kill -9 mid-way)."""
    with region.catalog.connect() as conn:
        marked = conn.execute(select(instances).where(instances.c.worker.is_not(None))).all()
    for row in marked:
        reconcile(region, row)
