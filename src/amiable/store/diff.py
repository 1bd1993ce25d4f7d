"""Comparing two snapshots: added, removed and changed paths.

Subtrees with the same id are skipped without being read. Fields that only
serve change detection (inode, ctime) are ignored, so a tree that was
restored and snapshotted again compares equal to its original. Directories
are listed with a trailing `/`; an added or removed directory lists
everything inside it too.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from .tree import DIR, Node, name_of, stable

TreeLoader = Callable[[str], list[Node]]


@dataclass(frozen=True)
class Diff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)


def diff_trees(load_a: TreeLoader, tree_a: str, load_b: TreeLoader, tree_b: str) -> Diff:
    result = Diff()
    _walk(load_a, tree_a, load_b, tree_b, "", result)
    for paths in (result.added, result.removed, result.changed):
        paths.sort()
    return result


def _walk(load_a: TreeLoader, a: str, load_b: TreeLoader, b: str, rel: str, out: Diff) -> None:
    if a == b and load_a is load_b:
        return
    old = {name_of(n): n for n in load_a(a)}
    new = {name_of(n): n for n in load_b(b)}
    for name in sorted(old.keys() | new.keys()):
        path = rel + os.fsdecode(name)
        x, y = old.get(name), new.get(name)
        if x is None:
            _list_all(load_b, y, path, out.added)  # type: ignore[arg-type]
        elif y is None:
            _list_all(load_a, x, path, out.removed)
        elif x["type"] == DIR and y["type"] == DIR:
            if _own_metadata(x) != _own_metadata(y):
                out.changed.append(path + "/")
            _walk(load_a, x["tree"], load_b, y["tree"], path + "/", out)
        elif stable(x) != stable(y):
            out.changed.append(path)


def _list_all(load: TreeLoader, node: Node, path: str, out: list[str]) -> None:
    if node["type"] != DIR:
        out.append(path)
        return
    out.append(path + "/")
    for child in load(node["tree"]):
        _list_all(load, child, path + "/" + os.fsdecode(name_of(child)), out)


def _own_metadata(node: Node) -> Node:
    return {k: v for k, v in stable(node).items() if k != "tree"}
