"""The data home (`$AMI_HOME`): the global catalog (accounts) and, per
region, a catalog and a snapshot store, plus the long work (imports,
copies...) that runs in the background as AWS does, and its end (`close`).

```
$AMI_HOME/
  global.db                 accounts and access keys
  master.key                seals KMS key material (back it up with the home)
  console.key               signs the web console's session cookies (console/keys.py)
  regions/<region>/
    catalog.db              snapshots, import tasks, tags, ...
    store/                  the region's snapshot store (docs/store-format.md)
    tmp/                    scratch space of running work (unpacked archives...)
    reclaim-pending         present while store data nothing needs waits for gc
```

Store data that nothing needs any more (what failed, cancelled or
interrupted work wrote, a deleted snapshot's objects) is reclaimed by the
store's gc as soon as no one else uses the store: at once if possible, else
the `reclaim-pending` mark makes the end of the next background work, the
cloud's close and the region's next opening try again.
"""

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from amiable.catalog import accounts, regional
from amiable.catalog.database import open_database
from amiable.cloud.kms.master_key import MasterKey
from amiable.store import Store
from amiable.store.errors import SnapshotNotFound, StoreError, StoreNotFound

from .background import Background, Cancel
from .clock import Clock
from .regions import check_region

log = logging.getLogger(__name__)

DEFAULT_ACCOUNT = "000000000000"
DEFAULT_KEY = ("test", "test")


def default_home() -> Path:
    env = os.environ.get("AMI_HOME")
    if env:
        return Path(env)
    data = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(data) / "amiable"


class Region:
    """One region's catalog and store (and the cloud's clock and master key, for
    work done in it)."""

    def __init__(
        self,
        root: Path,
        name: str,
        clock: Clock,
        master_key: MasterKey,
        background: Callable[..., "Future[Any]"],
    ) -> None:
        self.root = root
        self.name = name
        self.clock = clock
        self.master_key = master_key
        self.background = background  # the cloud's: `close` and the exit wait for it
        self.catalog: Engine = open_database(root / "catalog.db", regional.MIGRATIONS)
        self.store = _open_store(root / "store")
        self._reclaim_mark = root / "reclaim-pending"

    def instance_directory(self, instance_id: str) -> Path:
        """Where an instance's sandbox lives on this host."""
        return self.root / "instances" / instance_id

    def release(self, *store_snapshots: str) -> None:
        """Delete store snapshots nothing uses any more, and reclaim their data
        (and whatever else nothing needs)."""
        for store_snapshot in store_snapshots:
            with contextlib.suppress(SnapshotNotFound):  # never written, or released already
                self.store.delete(store_snapshot)
        self.reclaim()

    def made_for(self, label: str) -> list[str]:
        """The store snapshots labelled for a piece of work (an import task, a
        snapshot being filled): how work cut short finds what it wrote."""
        try:
            return self.store.labelled(label)
        except StoreError as exc:  # a damaged record: fsck says which
            log.warning("cannot read the store's snapshots in %s: %s", self.name, exc)
            return []

    def reclaim(self) -> None:
        """Free the store data nothing needs: now if no one else uses the
        store, else at the next chance (the mark stays until then)."""
        self._reclaim_mark.touch()
        self.reclaim_pending()

    def reclaim_pending(self) -> None:
        if not self._reclaim_mark.exists():
            return
        self._reclaim_mark.unlink(missing_ok=True)  # before gc: later garbage marks again
        try:
            done = self.store.gc_if_idle()
        except StoreError as exc:  # a damaged store: fsck says what, gc cannot run
            log.warning("cannot reclaim store data in %s: %s", self.name, exc)
            return
        if done is None:
            self._reclaim_mark.touch()


def _open_store(path: Path) -> Store:
    try:
        return Store.open(path)
    except StoreNotFound:
        try:
            return Store.init(path)
        except StoreError:  # another process created it first
            return Store.open(path)


class Cloud:
    """Everything one data home holds; thread-safe, shared by all requests."""

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        self.home = (Path(home) if home is not None else default_home()).absolute()
        self.accounts = accounts.Accounts(
            open_database(self.home / "global.db", accounts.MIGRATIONS)
        )
        self.accounts.ensure(DEFAULT_ACCOUNT, None, *DEFAULT_KEY)
        self._regions: dict[str, Region] = {}
        self._lock = threading.Lock()
        self._work = Background(after_each=self._reclaim_pending)
        self.clock = Clock()
        self.master_key = MasterKey(self.home / "master.key")
        self._sweeper = _start_sweeper(self)

    def region(self, name: str) -> Region:
        check_region(name)
        with self._lock:
            region = self._regions.get(name)
            if region is None:
                region = self._regions[name] = Region(
                    self.home / "regions" / name, name, self.clock, self.master_key, self.background
                )
                _recover(region)
            return region

    def background(self, work: Callable[..., Any], *args: Any) -> "Future[Any]":
        """Run long work (a copy, a capture) after the request that started it
        returns; `close` waits for it."""
        return self._work.run(work, args)

    def cancellable(
        self, key: str, cancel: Cancel, work: Callable[..., Any], *args: Any
    ) -> "Future[Any]":
        """Like `background`, for work that checks `cancel` (an import): `cancel_work(key)`
        and `close(cancel=...)` ask it to stop."""
        return self._work.run(work, args, key, cancel)

    def cancel_work(self, key: str, reason: str) -> bool:
        """Ask the cancellable work `key` running in this process to stop; False if
        it does not run here."""
        return self._work.cancel(key, reason)

    def close(self, cancel: str | None = None) -> None:
        """End the background work: wait until it is all done. With `cancel` (the
        reason, e.g. the server stops), cancellable work (imports) is cancelled
        first; interrupted (Ctrl-C) while waiting, the same happens. Then
        reclaim what is pending and stop the sweeper. Safe to call twice."""
        self._work.close(cancel)
        self._reclaim_pending()
        self._sweeper.stop()

    def __enter__(self) -> "Cloud":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _reclaim_pending(self) -> None:
        with self._lock:
            opened = list(self._regions.values())
        for region in opened:
            region.reclaim_pending()


def _start_sweeper(cloud: Cloud) -> Any:
    from amiable.cloud.rbin.recycle_bin import Sweeper

    return Sweeper(cloud)


def _recover(region: Region) -> None:
    from amiable.cloud.images import pending
    from amiable.cloud.imports import work
    from amiable.cloud.instances import hosting

    pending.recover_interrupted(region)  # first: their snapshots go with them
    work.recover_interrupted(region)
    region.reclaim_pending()
    hosting.recover_all(region)
