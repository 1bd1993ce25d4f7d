"""Tree objects: the canonical, content-addressed form of one directory.

I/O-free. A tree is `{"nodes": [node, ...]}` as compact JSON with sorted keys,
nodes in strictly increasing order of their name's bytes, so the same
directory always encodes to the same bytes and so to the same id. A node is a
dict; bytes that are not UTF-8 (names, symlink targets, hardlink paths) are
stored base64-encoded under the field name with a `_b` suffix. Field
reference: docs/store-format.md.
"""

import base64
import json
from typing import Any

Node = dict[str, Any]

FILE, DIR, SYMLINK, HARDLINK, FIFO, CHAR, BLOCK = (
    "file",
    "dir",
    "symlink",
    "hardlink",
    "fifo",
    "char",
    "block",
)
TYPES = frozenset({FILE, DIR, SYMLINK, HARDLINK, FIFO, CHAR, BLOCK})
# Deepest directory nesting a snapshot may have; scan and restore both refuse
# deeper trees (they walk recursively, within Python's recursion limit).
MAX_DEPTH = 400
# Fields that only serve change detection; they are not restored or compared.
VOLATILE = ("ino", "ctime")


def put_bytes(node: Node, field: str, value: bytes) -> None:
    try:
        node[field] = value.decode("utf-8")
    except UnicodeDecodeError:
        node[field + "_b"] = base64.b64encode(value).decode("ascii")


def get_bytes(node: Node, field: str) -> bytes:
    text = node.get(field)
    if text is not None:
        return str(text).encode("utf-8")
    return base64.b64decode(node[field + "_b"])


def name_of(node: Node) -> bytes:
    return get_bytes(node, "name")


def encode_tree(nodes: list[Node]) -> bytes:
    return json.dumps({"nodes": nodes}, sort_keys=True, separators=(",", ":")).encode()


def decode_tree(data: bytes) -> list[Node]:
    nodes = json.loads(data)["nodes"]
    assert isinstance(nodes, list)
    return nodes


def refs_of(nodes: list[Node]) -> tuple[str, ...]:
    """The blobs a tree refers to: subtrees and file chunks."""
    refs: list[str] = []
    for node in nodes:
        if node["type"] == DIR:
            refs.append(node["tree"])
        elif node["type"] == FILE:
            refs.extend(chunk[2] for chunk in node["chunks"])
    return tuple(dict.fromkeys(refs))


def unsafe_name(name: bytes) -> bool:
    """A name that is not one plain path component."""
    return name in (b"", b".", b"..") or b"/" in name or b"\0" in name


def stable(node: Node) -> Node:
    """The node without the fields that only serve change detection."""
    return {k: v for k, v in node.items() if k not in VOLATILE}
