"""The error classes the API documents, all catchable as StoreError."""

from __future__ import annotations

import pytest

from amiable.store import errors

DOCUMENTED = [
    "StoreNotFound",
    "SnapshotNotFound",
    "KeyRequired",
    "WrongKey",
    "InvalidKey",
    "DestinationNotEmpty",
    "CorruptObject",
    "UnsafeSnapshot",
    "SourceError",
    "StoreFull",
]


@pytest.mark.parametrize("name", DOCUMENTED)
def test_documented_error_is_a_store_error(name: str) -> None:
    cls = getattr(errors, name)
    assert issubclass(cls, errors.StoreError)
    assert issubclass(errors.StoreError, Exception)
