"""A real `ami serve` on a free loopback port, and the real AWS CLI against it."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from serving import Server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    home, port = tmp_path / "home", _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "amiable.cli", "--home", str(home), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"ami serve did not start: {process.stderr.read()!r}"
                    ) from None
                time.sleep(0.1)
        yield Server(f"http://127.0.0.1:{port}", home, process)
    finally:
        process.terminate()
        process.wait(timeout=10)
