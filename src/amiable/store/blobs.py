"""Reading and writing blobs through the index, the packs and a codec."""

from pathlib import Path

from .codec import Codec
from .errors import CorruptObject
from .index import Index
from .packs import PackReader, PackWriter
from .table import DATA, TREE
from .tree import Node, decode_tree, encode_tree, refs_of


class Blobs:
    """One codec's view of the store's blobs; writes go to a PackWriter."""

    def __init__(
        self, index: Index, packs_dir: Path, codec: Codec, writer: PackWriter | None = None
    ) -> None:
        self.index = index
        self.codec = codec
        self.reader = PackReader(packs_dir)
        self.writer = writer

    def has(self, blob_id: str) -> bool:
        return blob_id in self.index.entries or (
            self.writer is not None and blob_id in self.writer.written
        )

    def read(self, blob_id: str) -> bytes:
        entry = self.index.entries.get(blob_id)
        if entry is None:
            raise CorruptObject(f"object {blob_id} is missing from the store")
        return self.codec.unseal(blob_id, self.reader.read(blob_id, entry))

    def tree(self, tree_id: str) -> list[Node]:
        try:
            return decode_tree(self.read(tree_id))
        except (ValueError, KeyError, AssertionError) as exc:
            raise CorruptObject(f"tree {tree_id} is not a valid tree") from exc

    def put_data(self, data: bytes | memoryview) -> tuple[str, int]:
        """Store a chunk; returns its id and the stored bytes it added (0 if known)."""
        blob_id = self.codec.blob_id(data)
        return blob_id, self._put(blob_id, DATA, data, ())

    def put_tree(self, nodes: list[Node]) -> tuple[str, int]:
        data = encode_tree(nodes)
        blob_id = self.codec.blob_id(data)
        return blob_id, self._put(blob_id, TREE, data, refs_of(nodes))

    def _put(self, blob_id: str, kind: str, data: bytes | memoryview, refs: tuple[str, ...]) -> int:
        if self.has(blob_id):
            return 0
        assert self.writer is not None
        stored = self.codec.seal(blob_id, data)
        return len(stored) if self.writer.add(blob_id, kind, stored, len(data), refs) else 0

    def close(self) -> None:
        self.reader.close()
