"""Hypothesis strategies for trees of files: every kind of entry and metadata."""

from __future__ import annotations

from hypothesis import strategies as st

from helpers import (
    Content,
    DeviceSpec,
    DirSpec,
    FifoSpec,
    FileSpec,
    MiB,
    SparseSpec,
    SymlinkSpec,
    TreeSpec,
)


def _valid_name(name: bytes) -> bool:
    return b"/" not in name and b"\x00" not in name and name not in (b".", b"..")


NAMES = st.one_of(
    st.sampled_from(
        [
            b"a",
            b"b.txt",
            b"\xff\xfe",  # not UTF-8
            b"caf\xc3\xa9",  # UTF-8
            b"\xe9t\xe9",  # latin-1, not UTF-8
            b"-rf",
            b" spaced name ",
            b"new\nline",
            b"...",
            b".hidden",
            b"x" * 255,
        ]
    ),
    st.binary(min_size=1, max_size=12).filter(_valid_name),
)
SIZES = st.one_of(
    st.integers(0, 64),
    st.integers(0, 20_000),
    st.sampled_from([0, 512 * 1024 - 1, 512 * 1024, 512 * 1024 + 1, 4 * MiB + 3]),
)
CONTENTS = st.builds(
    Content, seed=st.integers(0, 3), size=SIZES, compressible=st.booleans()
)  # few seeds: identical contents (dedup) happen often
MTIMES = st.integers(-(2**31) * 10**9, 4_102_444_800 * 10**9 + 999_999_999)  # 1901..2100
FILE_MODES = st.sampled_from(
    [0o644, 0o600, 0o755, 0o444, 0o400, 0o640, 0o777, 0o4755, 0o2755, 0o6711, 0o1755]
)
DIR_MODES = st.sampled_from([0o755, 0o700, 0o750, 0o555, 0o1777, 0o2775, 0o3777])
XATTRS = st.lists(
    st.tuples(
        st.sampled_from(["user.a", "user.comment", "user.mime_type", "user.\u00e9t\u00e9"]),
        st.binary(max_size=64),
    ),
    max_size=3,
    unique_by=lambda kv: kv[0],
).map(tuple)
LINK_TARGETS = st.one_of(
    st.sampled_from(
        [
            b"/etc/passwd",  # absolute, exists
            b"/nonexistent/dangling",  # absolute, dangling
            b"../outside",  # relative, leaves the tree
            b"a",
            b"b.txt",
            b"sub/deeper/file",
            b".",
            b"..",
            b"/",
            b"\xff\xfe",
        ]
    ),
    st.binary(min_size=1, max_size=40).filter(lambda t: b"\x00" not in t),
)
SPARSE = st.builds(
    SparseSpec,
    size=st.integers(0, 3 * MiB),
    writes=st.lists(
        st.tuples(
            st.integers(0, 3 * MiB),
            st.builds(Content, seed=st.integers(0, 9), size=st.integers(1, 9000)),
        ),
        max_size=3,
    ).map(tuple),
    mode=FILE_MODES,
    mtime_ns=MTIMES,
)
OWNERS = st.sampled_from(
    [(0, 0), (1, 1), (1000, 1000), (65534, 65534), (123456, 654321), (0, 4242)]
)


def trees(*, as_root: bool) -> st.SearchStrategy[TreeSpec]:
    owner = OWNERS if as_root else st.none()
    files = st.builds(
        FileSpec,
        content=CONTENTS,
        mode=FILE_MODES,
        mtime_ns=MTIMES,
        xattrs=XATTRS,
        owner=owner,
        capability=st.booleans() if as_root else st.just(False),
    )
    symlinks = st.builds(SymlinkSpec, target=LINK_TARGETS, mtime_ns=MTIMES, owner=owner)
    fifos = st.builds(
        FifoSpec, mode=st.sampled_from([0o600, 0o644, 0o620]), mtime_ns=MTIMES, owner=owner
    )
    leaves = [files, files, SPARSE, symlinks, fifos]
    if as_root:
        leaves.append(
            st.builds(
                DeviceSpec,
                char=st.booleans(),
                major=st.integers(0, 4095),
                minor=st.integers(0, 2**20 - 1),
                mode=st.sampled_from([0o600, 0o660, 0o666]),
                mtime_ns=MTIMES,
                owner=owner,
            )
        )

    def children(inner: st.SearchStrategy[object]) -> st.SearchStrategy[tuple[object, ...]]:
        return st.lists(st.tuples(NAMES, inner), max_size=4, unique_by=lambda c: c[0]).map(tuple)

    def dirs(inner: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
        return st.builds(
            DirSpec,
            children=children(inner),
            mode=DIR_MODES,
            mtime_ns=MTIMES,
            xattrs=XATTRS,
            owner=owner,
        )

    entries = st.recursive(st.one_of(*leaves), dirs, max_leaves=10)
    return st.builds(
        TreeSpec,
        root=st.builds(DirSpec, children=children(entries)),
        hardlinks=st.lists(
            st.tuples(st.integers(0, 50), st.integers(0, 50), NAMES), max_size=3
        ).map(tuple),
    )
