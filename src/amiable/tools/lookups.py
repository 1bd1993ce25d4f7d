"""Asking an API many independent questions at once: on AWS each call
waits tens of milliseconds, so the tools keep several in flight (boto3
clients may be shared between threads)."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

LOOKUPS_AT_ONCE = 8  # calls in flight per account and region
Item = TypeVar("Item")
Answer = TypeVar("Answer")


def at_once(ask: Callable[[Item], Answer], items: list[Item]) -> list[Answer]:
    """`ask` of every item, LOOKUPS_AT_ONCE at a time, answers in order."""
    if len(items) < 2:
        return [ask(item) for item in items]
    with ThreadPoolExecutor(max_workers=LOOKUPS_AT_ONCE) as pool:
        return list(pool.map(ask, items))
