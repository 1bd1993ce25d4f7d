"""Fixtures shared by all tests (each test's own state directory) and by the
store tests. Helpers that are not fixtures live in helpers.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from amiable.store import Store


@pytest.fixture(autouse=True)
def state_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own AMI_STATE_DIR (journals, audit records): nothing a test
    runs writes into the user's ~/.local/state. A test may set its own."""
    state = tmp_path / "ami-state"
    monkeypatch.setenv("AMI_STATE_DIR", str(state))
    return state


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """Where the test's store lives (not created)."""
    return tmp_path / "store"


@pytest.fixture
def store(store_path: Path) -> Store:
    """A freshly initialised, empty store."""
    from amiable.store import Store

    return Store.init(store_path)


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def key_file(tmp_path: Path, key: bytes) -> Path:
    """The fixture key, written as 64 hex characters and a newline."""
    path = tmp_path / "store.key"
    path.write_text(key.hex() + "\n")
    return path
