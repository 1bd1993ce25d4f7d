"""A real `ami serve` on a free loopback port, and the real AWS CLI against it."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from serving import Server, start_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    started = start_server(tmp_path / "home")
    try:
        yield started
    finally:
        started.stop()
