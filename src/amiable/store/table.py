"""The binary blob table shared by index files and pack trailers.

```
u32 P, then P pack ids (32 raw bytes each)     (P = 0 in a pack's own trailer)
u32 N, then N rows of 57 bytes:
    id (32) | pack number u32 | offset u64 | stored length u32 | raw length u32 |
    crc32 u32 | kind u8 (0 data, 1 tree) | number of refs u32
then the refs of every row, in row order, 32 raw bytes each
```
All integers little-endian. Rows are sorted by id.
"""

import struct
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
_ROW = struct.Struct("<32sIQIIIBI")
_KINDS = (DATA, TREE)


def encode_table(entries: dict[str, Entry], with_packs: bool = True) -> bytes:
    packs = sorted({e.pack for e in entries.values()}) if with_packs else []
    number = {p: i for i, p in enumerate(packs)}
    ordered = sorted(entries.items())
    parts = [_COUNT.pack(len(packs)), *(bytes.fromhex(p) for p in packs), _COUNT.pack(len(ordered))]
    for blob_id, e in ordered:
        pack_no = number[e.pack] if with_packs else 0
        kind = _KINDS.index(e.kind)
        parts.append(
            _ROW.pack(
                bytes.fromhex(blob_id),
                pack_no,
                e.offset,
                e.length,
                e.raw_length,
                e.crc,
                kind,
                len(e.refs),
            )
        )
    parts.extend(bytes.fromhex(r) for _, e in ordered for r in e.refs)
    return b"".join(parts)


def decode_table(raw: bytes, own_pack: str = "") -> Iterator[tuple[str, Entry]]:
    """Rows of a table; `own_pack` names the pack of a trailer (P = 0).

    Raises ValueError, IndexError or struct.error on malformed input.
    """
    (n_packs,) = _COUNT.unpack_from(raw, 0)
    packs = [raw[4 + 32 * i : 36 + 32 * i].hex() for i in range(n_packs)] or [own_pack]
    pos = 4 + 32 * n_packs
    (n_rows,) = _COUNT.unpack_from(raw, pos)
    rows_end = pos + 4 + _ROW.size * n_rows
    if rows_end > len(raw):
        raise ValueError("table is truncated")
    refs_at = rows_end
    for blob_id, pack_no, offset, length, raw_length, crc, kind, n_refs in _ROW.iter_unpack(
        raw[pos + 4 : rows_end]
    ):
        refs: tuple[str, ...] = ()
        if n_refs:
            end = refs_at + 32 * n_refs
            refs = tuple(raw[i : i + 32].hex() for i in range(refs_at, end, 32))
            refs_at = end
        yield (
            blob_id.hex(),
            Entry(packs[pack_no], offset, length, _KINDS[kind], raw_length, crc, refs),
        )
