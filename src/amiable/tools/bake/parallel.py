"""Work done for several regions at once, a thread each, that ends whole: on
Ctrl-C or SIGTERM the regions' work under way is waited for and the rest
dropped before the interruption goes on, so nothing a region prints comes
after the bake's last line (the interpreter would otherwise finish the
threads at exit, after the error line)."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def each_region(work: Callable[[str], T], regions: list[str]) -> list[T]:
    """`work(region)` for every region at once; the results in their order."""
    pool = ThreadPoolExecutor(max_workers=len(regions))
    try:
        return list(pool.map(work, regions))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
