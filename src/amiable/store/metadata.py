"""Reading a file system entry's metadata into a tree node, and back."""

import base64
import errno
import os
import stat

from .tree import BLOCK, CHAR, DIR, FIFO, FILE, SYMLINK, Node

_TYPES = {
    stat.S_IFREG: FILE,
    stat.S_IFDIR: DIR,
    stat.S_IFLNK: SYMLINK,
    stat.S_IFIFO: FIFO,
    stat.S_IFCHR: CHAR,
    stat.S_IFBLK: BLOCK,
}


def node_type(st: os.stat_result) -> str | None:
    """The node type of an entry, or None for what the store skips (sockets)."""
    return _TYPES.get(stat.S_IFMT(st.st_mode))


def base_node(kind: str, st: os.stat_result) -> Node:
    node: Node = {
        "type": kind,
        "mode": stat.S_IMODE(st.st_mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
        "mtime": st.st_mtime_ns,
        "ino": st.st_ino,
        "ctime": st.st_ctime_ns,
    }
    if kind in (CHAR, BLOCK):
        node["rdev"] = [os.major(st.st_rdev), os.minor(st.st_rdev)]
    return node


def read_xattrs(path: bytes) -> dict[str, str]:
    """Extended attributes as name -> base64 value; {} where unsupported."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENODATA):
            return {}
        raise
    values = {}
    for name in sorted(names):
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
        except OSError as exc:
            if exc.errno == errno.ENODATA:
                continue
            raise
        values[name] = base64.b64encode(value).decode("ascii")
    return values


def unchanged(old: Node | None, new: Node) -> bool:
    """True when the parent's node describes the same, untouched entry."""
    return (
        old is not None
        and old["type"] == new["type"]
        and old.get("ino") == new["ino"]
        and old.get("ctime") == new["ctime"]
        and old["mtime"] == new["mtime"]
    )
