"""The binary blob table shared by index files and pack trailers.

Column-oriented so that it encodes and decodes in a few bulk operations
instead of one Python step per field. All integers little-endian:

```
u32 P, then P pack ids (32 raw bytes each)     (P = 0 in a pack's own trailer)
u32 N (rows, sorted by id), then the columns, N values each:
    ids 32 bytes | pack numbers u32 | offsets u64 | stored lengths u32 |
    raw lengths u32 | crc32s u32 | kinds u8 (0 data, 1 tree) | ref counts u32
then the refs of every row, in row order, 32 raw bytes each
```
"""

import struct
import sys
from array import array
from collections.abc import Iterator
from typing import NamedTuple

DATA = "d"
TREE = "t"


class Entry(NamedTuple):
    """Where a blob lives and what it is. `refs` lists a tree's child blobs."""

    pack: str
    offset: int
    length: int
    kind: str
    raw_length: int
    crc: int
    refs: tuple[str, ...] = ()


_COUNT = struct.Struct("<I")
_KINDS = (DATA, TREE)
# Column type codes (array module) and widths, in file order after the ids.
_COLUMNS = (("I", 4), ("Q", 8), ("I", 4), ("I", 4), ("I", 4), ("B", 1), ("I", 4))
assert all(array(code).itemsize == width for code, width in _COLUMNS)


def _column(code: str, values: list[int]) -> bytes:
    col = array(code, values)
    if sys.byteorder == "big":
        col.byteswap()
    return col.tobytes()


def encode_table(entries: dict[str, Entry], with_packs: bool = True) -> bytes:
    packs = sorted({e.pack for e in entries.values()}) if with_packs else []
    number = {p: i for i, p in enumerate(packs)}
    ids = sorted(entries)
    rows = [entries[i] for i in ids]
    values = (
        [number[e.pack] for e in rows] if with_packs else [0] * len(rows),
        [e.offset for e in rows],
        [e.length for e in rows],
        [e.raw_length for e in rows],
        [e.crc for e in rows],
        [_KINDS.index(e.kind) for e in rows],
        [len(e.refs) for e in rows],
    )
    parts = [_COUNT.pack(len(packs)), bytes.fromhex("".join(packs)), _COUNT.pack(len(ids))]
    parts.append(bytes.fromhex("".join(ids)))
    parts.extend(_column(code, vals) for (code, _), vals in zip(_COLUMNS, values, strict=True))
    parts.append(bytes.fromhex("".join(r for e in rows for r in e.refs)))
    return b"".join(parts)


def _hex_ids(raw: bytes, start: int, count: int) -> list[str]:
    text = raw[start : start + 32 * count].hex()
    return [text[i : i + 64] for i in range(0, 64 * count, 64)]


def decode_table(raw: bytes, own_pack: str = "") -> Iterator[tuple[str, Entry]]:
    """Rows of a table; `own_pack` names the pack of a trailer (P = 0).

    Raises ValueError, IndexError or struct.error on malformed input.
    """
    (n_packs,) = _COUNT.unpack_from(raw, 0)
    packs = _hex_ids(raw, 4, n_packs) or [own_pack]
    pos = 4 + 32 * n_packs
    (n,) = _COUNT.unpack_from(raw, pos)
    pos += 4
    ids = _hex_ids(raw, pos, n)
    pos += 32 * n
    columns = []
    for code, width in _COLUMNS:
        col = array(code, raw[pos : pos + width * n])
        if sys.byteorder == "big":
            col.byteswap()
        columns.append(col)
        pos += width * n
    pack_nos, offsets, lengths, raw_lengths, crcs, kinds, ref_counts = columns
    refs = _hex_ids(raw, pos, sum(ref_counts))
    if len(ids) != n or len(refs) != sum(ref_counts) or len(ref_counts) != n:
        raise ValueError("table is truncated")
    at = 0
    for i, blob_id in enumerate(ids):
        count = ref_counts[i]
        entry = Entry(
            packs[pack_nos[i]],
            offsets[i],
            lengths[i],
            _KINDS[kinds[i]],
            raw_lengths[i],
            crcs[i],
            tuple(refs[at : at + count]),
        )
        at += count
        yield blob_id, entry
