"""Work done for many items at once, in threads, that ends whole.

On AWS each call waits tens of milliseconds, so the tools keep several in flight
(boto3 clients may be shared between threads): lookups per account and region,
regions side by side. When the work fails, or Ctrl-C or SIGTERM interrupts it,
the calls under way are waited for and the items not yet started are dropped
before the exception goes on. So an interrupted command stops as soon as its
calls in flight return, and nothing a thread prints comes after its last line
(left to itself, the interpreter would finish the threads at exit, after the
error line).
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

LOOKUPS_AT_ONCE = 8  # calls in flight per account and region
Item = TypeVar("Item")
Answer = TypeVar("Answer")


def at_once(
    work: Callable[[Item], Answer], items: list[Item], limit: int = LOOKUPS_AT_ONCE
) -> list[Answer]:
    """`work` of every item, `limit` at a time, answers in order."""
    if len(items) < 2:
        return [work(item) for item in items]
    pool = ThreadPoolExecutor(max_workers=min(limit, len(items)))
    try:
        return list(pool.map(work, items))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def each_region(work: Callable[[str], Answer], regions: list[str]) -> list[Answer]:
    """`work(region)` for every region at once, a thread each."""
    return at_once(work, regions, limit=len(regions))
