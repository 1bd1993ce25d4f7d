"""How blobs are named and sealed: SHA-256 ids and zstd, or keyed ids and AES-256-GCM.

A plain blob's id is the SHA-256 of its content and its stored form is one zstd
frame. An encrypted blob's id is HMAC-SHA256 under a key derived from the
caller's key, so that plaintext hashes never appear in the store, and its
stored form is `nonce (12) || AES-256-GCM(zstd frame)` with the id as
associated data, so a blob cannot be swapped for another.
"""

import hashlib
import hmac
import os
import threading
from typing import Any

import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import CorruptObject, InvalidKey

KEY_BYTES = 32
NONCE_BYTES = 12
ZSTD_LEVEL = 3
_KEY_CHECK_MESSAGE = b"amiable key check v1"

_local = threading.local()


def _compressor() -> Any:
    c = getattr(_local, "compressor", None)
    if c is None:
        c = _local.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    return c


def _decompressor() -> Any:
    d = getattr(_local, "decompressor", None)
    if d is None:
        d = _local.decompressor = zstandard.ZstdDecompressor()
    return d


def _derive(key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(key)


def parse_key(raw: bytes, origin: str) -> bytes:
    """A key is 32 raw bytes or 64 hex digits (surrounding white space ignored)."""
    if len(raw) == KEY_BYTES:
        return raw
    text = raw.strip()
    if len(text) == 2 * KEY_BYTES:
        try:
            return bytes.fromhex(text.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            pass
    raise InvalidKey(f"{origin}: a key is 32 raw bytes or 64 hex digits")


def load_key(path: str | os.PathLike[str]) -> bytes:
    try:
        with open(path, "rb") as f:
            raw = f.read(1024)
    except OSError as exc:
        raise InvalidKey(f"cannot read key file {os.fspath(path)}: {exc.strerror}") from exc
    return parse_key(raw, os.fspath(path))


class Codec:
    """Names and seals the blobs of one snapshot; `key=None` means plain."""

    def __init__(self, key: bytes | None = None) -> None:
        self.encrypted = key is not None
        if key is None:
            self._id_key = b""
            self._aead: AESGCM | None = None
            self.key_check: str | None = None
        else:
            if len(key) != KEY_BYTES:
                raise InvalidKey("a key is 32 bytes")
            self._id_key = _derive(key, b"amiable blob ids")
            self._aead = AESGCM(_derive(key, b"amiable blob encryption"))
            self.key_check = hmac.digest(self._id_key, _KEY_CHECK_MESSAGE, "sha256").hex()

    def blob_id(self, data: bytes | memoryview) -> str:
        if self._aead is None:
            return hashlib.sha256(data).hexdigest()
        return hmac.digest(self._id_key, data, "sha256").hex()

    def seal(self, blob_id: str, data: bytes | memoryview) -> bytes:
        frame: bytes = _compressor().compress(data)
        if self._aead is None:
            return frame
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, frame, bytes.fromhex(blob_id))

    def unseal(self, blob_id: str, stored: bytes) -> bytes:
        """Decrypt, decompress and verify; anything amiss is CorruptObject."""
        frame = stored
        if self._aead is not None:
            try:
                frame = self._aead.decrypt(
                    stored[:NONCE_BYTES], stored[NONCE_BYTES:], bytes.fromhex(blob_id)
                )
            except InvalidTag as exc:
                raise CorruptObject(f"object {blob_id} fails authentication") from exc
        try:
            data: bytes = _decompressor().decompress(frame)
        except zstandard.ZstdError as exc:
            raise CorruptObject(f"object {blob_id} does not decompress: {exc}") from exc
        if self.blob_id(data) != blob_id:
            raise CorruptObject(f"object {blob_id} does not match its id")
        return data
