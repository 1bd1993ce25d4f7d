"""The console's session signing key: random, made once per data home, kept in
`$AMI_HOME/console.key` (mode 0600), never logged."""

import contextlib
import os
import secrets
from pathlib import Path

KEY_FILE = "console.key"


def session_key(home: Path) -> str:
    """The data home's signing key, created on first use. Concurrent first
    uses agree: the key is written to a private temporary file and published
    with a hard link, which fails if another process published first."""
    path = home / KEY_FILE
    if not path.exists():
        _publish(path, secrets.token_hex(32))
    return path.read_text().strip()


def _publish(path: Path, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as output:
            output.write(key + "\n")
            output.flush()
            os.fsync(output.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: its key wins
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
