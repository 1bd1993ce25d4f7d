"""load_key: a key file holds 32 raw bytes or 64 hex characters, nothing else."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amiable.store import errors, load_key


def _write(data: bytes) -> Path:
    fd, name = tempfile.mkstemp(prefix="amiable-key-")
    with open(fd, "wb") as f:
        f.write(data)
    return Path(name)


def _load(data: bytes) -> bytes:
    path = _write(data)
    try:
        return load_key(path)
    finally:
        path.unlink()


@settings(max_examples=50, deadline=None)
@given(key=st.binary(min_size=32, max_size=32))
def test_raw_32_bytes_are_the_key(key: bytes) -> None:
    assert _load(key) == key


@settings(max_examples=50, deadline=None)
@given(key=st.binary(min_size=32, max_size=32), upper=st.booleans(), newline=st.booleans())
def test_64_hex_chars_are_the_key(key: bytes, upper: bool, newline: bool) -> None:
    text = key.hex().upper() if upper else key.hex()
    assert _load(text.encode() + (b"\n" if newline else b"")) == key


def _is_hex64(data: bytes) -> bool:
    text = data.strip()
    if len(text) != 64:
        return False
    try:
        bytes.fromhex(text.decode("ascii"))
    except ValueError:
        return False
    return True


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=100))
def test_anything_else_is_invalid(data: bytes) -> None:
    if len(data) == 32 or len(data.strip()) == 32 or _is_hex64(data):
        return  # a key in one of the two accepted forms
    with pytest.raises(errors.InvalidKey):
        _load(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n",
        b"\x01" * 31,
        b"\x01" * 33,
        b"\x01" * 64,
        b"ab" * 31 + b"\n",  # 62 hex characters
        b"ab" * 33,  # 66 hex characters
        b"zz" * 32,  # 64 characters, not hex
        b"0x" + b"ab" * 31,
    ],
    ids=[
        "empty",
        "newline",
        "31-bytes",
        "33-bytes",
        "64-bytes",
        "62-hex",
        "66-hex",
        "non-hex",
        "0x",
    ],
)
def test_invalid_key_files(data: bytes) -> None:
    with pytest.raises(errors.InvalidKey):
        _load(data)


def test_invalid_key_message_is_one_line() -> None:
    with pytest.raises(errors.InvalidKey) as info:
        _load(b"short")
    message = str(info.value)
    assert message
    assert "\n" not in message


def test_invalid_key_is_a_store_error() -> None:
    assert issubclass(errors.InvalidKey, errors.StoreError)
