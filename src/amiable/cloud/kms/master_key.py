"""The host master key: seals KMS key material at rest.

32 random bytes in `$AMI_HOME/master.key` (mode 0600), made on first use.
Sealed blobs are `nonce (12 bytes) || AES-256-GCM ciphertext`. Losing the file
makes every KMS key, and so every encrypted snapshot, unreadable: back it up
with the data home.
"""

import os
import secrets
from contextlib import suppress
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12


class MasterKey:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: bytes | None = None

    def _load(self) -> bytes:
        if self._key is None:
            if not self.path.exists():
                self._create()
            key = self.path.read_bytes()
            if len(key) != 32:
                raise RuntimeError(f"{self.path} is not a 32-byte key")
            self._key = key
        return self._key

    def _create(self) -> None:
        """Written whole under a temporary name, then linked into place: another
        process never reads half a key, and the first one to link wins."""
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(secrets.token_bytes(32))
                out.flush()
                os.fsync(out.fileno())
            with suppress(FileExistsError):  # another process linked its key first
                os.link(temporary, self.path)
        finally:
            temporary.unlink()

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return nonce + AESGCM(self._load()).encrypt(nonce, plaintext, context)

    def unseal(self, sealed: bytes, context: bytes) -> bytes:
        return AESGCM(self._load()).decrypt(sealed[:_NONCE], sealed[_NONCE:], context)
