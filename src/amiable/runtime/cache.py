"""The host's read-only cache of image files: what an instance's lower layers are.

`cache/<store snapshot id>/` is a store snapshot restored once: the lower
layer of every instance launched from it, so launching costs nothing per
image size and N instances share one copy. An image captured from an
instance also keeps the instance's changes, as they were captured, in
`cache/<store snapshot id>.changes/` (`tree/`, the overlay upper directory
copied with its whiteouts and opaque directories, and `parent`, the store
snapshot it changes): launching that image stacks the changes on its
parent's layers and restores nothing, so a build that images an instance
and launches the image pays for what changed, not for the whole image.
Stacks are at most MAX_LAYERS deep; a deeper image is restored whole.

Entries are made under a temporary name and renamed into place, so an
entry is whole or absent, and two launches racing for it agree.
"""

import os
import secrets
import shutil
import subprocess
from pathlib import Path

from amiable.store import Store

from .sandbox import rootless

CHANGES = ".changes"
MAX_LAYERS = 8


def materialize(store: Store, store_snapshot: str, cache: Path, key: bytes | None) -> list[Path]:
    """The lower layers (top first) that show `store_snapshot`'s tree,
    restoring it whole first if the cache has no layers of it."""
    layers = _cached(cache, store_snapshot, MAX_LAYERS)
    if layers:
        return layers
    target = cache / store_snapshot
    partial = _partial(cache, store_snapshot)
    try:
        store.restore(store_snapshot, partial, key=key)
        _put(partial, target)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    return [target]


def _cached(cache: Path, store_snapshot: str, room: int) -> list[Path] | None:
    whole = cache / store_snapshot
    if whole.is_dir():
        return [whole]
    changes = cache / f"{store_snapshot}{CHANGES}"
    if room <= 1 or rootless() or not changes.is_dir():
        return None  # in a user namespace the overlay reads other attributes
    below = _cached(cache, (changes / "parent").read_text().strip(), room - 1)
    return [changes / "tree", *below] if below else None


def copy_changes(cache: Path, upper: Path) -> Path | None:
    """A private copy of an overlay upper directory (whiteouts, opaque
    directories and all) to snapshot from and keep; None where one cannot
    be made (rootless, or the copy failed), and the upper is read instead."""
    if rootless():
        return None
    partial = _partial(cache, "changes")
    partial.mkdir()
    copied = subprocess.run(
        ["cp", "-a", "--", str(upper), str(partial / "tree")], capture_output=True, check=False
    )
    if copied.returncode != 0:
        drop(partial)
        return None
    return partial


def keep_changes(cache: Path, copy: Path, store_snapshot: str, parent: str) -> None:
    """Keep a copy from `copy_changes` as the layer of `store_snapshot` over `parent`."""
    (copy / "parent").write_text(parent + "\n")
    _put(copy, cache / f"{store_snapshot}{CHANGES}")


def drop(copy: Path) -> None:
    shutil.rmtree(copy, ignore_errors=True)


def _partial(cache: Path, name: str) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    return cache / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"


def _put(partial: Path, target: Path) -> None:
    try:
        os.rename(partial, target)
    except OSError:  # another one put it in place first
        if not target.is_dir():
            raise
        drop(partial)
