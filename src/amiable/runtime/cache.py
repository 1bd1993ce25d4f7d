"""The host's read-only cache of image files: each store snapshot restored once.

`cache/<store snapshot id>/` is the lower layer of every instance launched
from it, so launching costs nothing per image size and N instances share one
copy. A snapshot is restored under a temporary name and renamed into place,
so a cache entry is whole or absent, and two launches racing for it agree.
"""

import os
import secrets
import shutil
from pathlib import Path

from amiable.store import Store


def materialize(store: Store, store_snapshot: str, cache: Path, key: bytes | None) -> Path:
    """The cached tree of `store_snapshot`, restoring it first if needed."""
    target = cache / store_snapshot
    if target.is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f".{store_snapshot}.{os.getpid()}.{secrets.token_hex(4)}"
    try:
        store.restore(store_snapshot, partial, key=key)
        try:
            os.rename(partial, target)
        except OSError:  # another launch put it in place first
            if not target.is_dir():
                raise
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    return target


def evict(cache: Path, store_snapshot: str) -> None:
    """Drop a cache entry (no instance may be using it)."""
    shutil.rmtree(cache / store_snapshot, ignore_errors=True)
