"""Measuring a tree before snapshotting it: how many entries and file bytes a
snapshot of it will walk, from `lstat` alone (no file is opened), so that a
caller can tell how far a snapshot is (`SnapshotProgress` against this).

It costs one metadata walk, a small part of a snapshot (which reads, hashes
and compresses every byte besides), and leaves the metadata in the page cache
for the snapshot's own walk.
"""

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class TreeSize:
    """Entries below the top directory that are not directories (files, links,
    devices...), and the apparent size of its regular files (hardlinks once)."""

    files: int
    bytes: int


def measure_tree(
    source: str | os.PathLike[str], on_directory: Callable[[], None] | None = None
) -> TreeSize:
    """What a snapshot of `source` will walk. `on_directory` is called before
    each directory is read (an exception it raises stops the walk). Entries
    that cannot be read are left out: the snapshot itself reports them."""
    files = size = 0
    seen: set[tuple[int, int]] = set()
    stack = [os.fsencode(source)]
    while stack:
        if on_directory is not None:
            on_directory()
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                stack.append(entry.path)
            elif not stat.S_ISSOCK(st.st_mode):
                files += 1
                first_name = st.st_nlink == 1 or (st.st_dev, st.st_ino) not in seen
                if stat.S_ISREG(st.st_mode) and first_name:
                    size += st.st_size
                    if st.st_nlink > 1:
                        seen.add((st.st_dev, st.st_ino))
    return TreeSize(files, size)
