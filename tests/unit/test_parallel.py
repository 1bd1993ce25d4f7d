"""tools/parallel.py: answers in order, and work that fails ends whole: the
calls under way finish before the error goes on, the rest are never started."""

import threading
import time

import pytest

from amiable.tools.parallel import at_once, each_region


def test_answers_come_in_the_order_asked() -> None:
    assert at_once(lambda n: n * n, list(range(20)), limit=3) == [n * n for n in range(20)]
    assert each_region(str.upper, ["eu-west-1", "us-east-1"]) == ["EU-WEST-1", "US-EAST-1"]
    assert at_once(lambda n: n, []) == []


def test_a_failure_waits_for_the_work_under_way_and_drops_the_rest() -> None:
    lock = threading.Lock()
    started: set[int] = set()
    finished: set[int] = set()

    def work(item: int) -> int:
        if item == 0:
            raise RuntimeError("the first one fails")
        with lock:
            started.add(item)
        time.sleep(0.01)
        with lock:
            finished.add(item)
        return item

    with pytest.raises(RuntimeError, match="the first one fails"):
        at_once(work, list(range(200)), limit=2)
    assert started == finished, "nothing is still running once the error goes on"
    assert len(started) < 100, "the items not yet started are dropped"
