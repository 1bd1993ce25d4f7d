"""The data home (`$AMI_HOME`): the global catalog (accounts) and, per
region, a catalog and a snapshot store, plus the pool that runs long work
(imports) in the background as AWS does.

```
$AMI_HOME/
  global.db                 accounts and access keys
  master.key                seals KMS key material (back it up with the home)
  regions/<region>/
    catalog.db              snapshots, import tasks, tags, ...
    store/                  the region's snapshot store (docs/store-format.md)
```
"""

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from amiable.catalog import accounts, regional
from amiable.catalog.database import open_database
from amiable.cloud.kms.master_key import MasterKey
from amiable.store import Store
from amiable.store.errors import StoreError, StoreNotFound

from .clock import Clock
from .regions import check_region

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

    def __init__(self, root: Path, name: str, clock: Clock, master_key: MasterKey) -> None:
        self.root = root
        self.name = name
        self.clock = clock
        self.master_key = master_key
        self.catalog: Engine = open_database(root / "catalog.db", regional.MIGRATIONS)
        self.store = _open_store(root / "store")


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
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="amiable-work")
        self.clock = Clock()
        self.master_key = MasterKey(self.home / "master.key")
        self._sweeper = _start_sweeper(self)

    def region(self, name: str) -> Region:
        check_region(name)
        with self._lock:
            region = self._regions.get(name)
            if region is None:
                region = self._regions[name] = Region(
                    self.home / "regions" / name, name, self.clock, self.master_key
                )
                _recover(region)
            return region

    def background(self, work: Callable[..., Any], *args: Any) -> "Future[Any]":
        """Run long work (an import) after the request that started it returns."""
        return self._pool.submit(work, *args)


def _start_sweeper(cloud: Cloud) -> Any:
    from amiable.cloud.rbin.recycle_bin import Sweeper

    return Sweeper(cloud)


def _recover(region: Region) -> None:
    from amiable.cloud.images import pending
    from amiable.cloud.imports import tasks
    from amiable.cloud.instances import hosting

    pending.recover_interrupted(region)  # first: their snapshots go with them
    tasks.recover_interrupted(region)
    hosting.recover_all(region)
