"""How far an import task is, as DescribeImport*Tasks show it: `Progress` (a
percentage) and `StatusMessage` (the step, with files and bytes).

The work tells a `Reporter` where it is, as often as it likes (it only
keeps the numbers); a small thread writes them to the task's row when they
changed, at most every FLUSH_SECONDS, and otherwise looks at the row every
CHECK_SECONDS: a task that is no longer `active` there was cancelled by
another process, and the work's `Cancel` is asked.

Weights: a directory is measured first (`measure_tree`, lstat only) so the
snapshot's bytes done give the percentage; an archive's unpacking counts for
the first ARCHIVE_SHARE percent (by compressed bytes read; a named pipe has no
size, so its share shows bytes only), the snapshot of the unpacked tree for
the rest. 100 is reached when the task completes.
"""

import threading
from dataclasses import dataclass, replace
from types import TracebackType

from sqlalchemy import select

from amiable.catalog.regional import import_tasks
from amiable.cloud.core.background import Cancel
from amiable.cloud.core.home import Region
from amiable.units import human_bytes

FLUSH_SECONDS = 0.1
CHECK_SECONDS = 0.5
ARCHIVE_SHARE = 40


@dataclass(frozen=True)
class Step:
    """One step of the work and how far it is; `share` is the span of the task's
    percentage it covers."""

    name: str
    share: tuple[int, int]
    bytes_done: int = 0
    bytes_total: int | None = None
    files_done: int | None = None
    files_total: int | None = None

    def percent(self) -> int:
        start, end = self.share
        if self.bytes_total:
            part = min(1.0, self.bytes_done / self.bytes_total)
        elif self.files_total:
            part = min(1.0, (self.files_done or 0) / self.files_total)
        else:
            part = 0.0
        return min(99, start + int(part * (end - start)))

    def message(self) -> str:
        parts = []
        if self.files_done is not None:
            of = f" of {self.files_total:,}" if self.files_total is not None else ""
            parts.append(f"{self.files_done:,}{of} files")
        if self.bytes_total:
            parts.append(f"{human_bytes(self.bytes_done)} of {human_bytes(self.bytes_total)}")
        elif self.bytes_done:
            parts.append(f"{human_bytes(self.bytes_done)} read")
        return f"{self.name}: {', '.join(parts)}" if parts else self.name


class Reporter:
    """Writes a running task's progress to its row (a context manager: the
    thread runs inside the `with`)."""

    def __init__(self, region: Region, task_id: str, cancel: Cancel) -> None:
        self._region = region
        self._task_id = task_id
        self._cancel = cancel
        self._lock = threading.Lock()
        self._step: Step | None = None
        self._changed = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"progress-{task_id}", daemon=True)

    def begin(self, step: Step) -> None:
        self._set(step)

    def check(self) -> None:
        """Raise Cancelled once cancellation is asked."""
        self._cancel.check()

    def advance(self, bytes_done: int, files_done: int | None = None) -> None:
        """New counts for the current step: cheap, any thread; raises Cancelled
        once cancellation is asked."""
        self._cancel.check()
        with self._lock:
            step = self._step
            assert step is not None
            files = step.files_done if files_done is None else files_done
            self._step = replace(step, bytes_done=bytes_done, files_done=files)
        self._changed.set()

    def _set(self, step: Step) -> None:
        self._cancel.check()
        with self._lock:
            self._step = step
        self._changed.set()

    def __enter__(self) -> "Reporter":
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopped.set()
        self._changed.set()
        self._thread.join()

    def _run(self) -> None:
        written: tuple[int, str] | None = None
        while not self._stopped.is_set():
            self._changed.wait(CHECK_SECONDS)
            self._changed.clear()
            with self._lock:
                step = self._step
            shown = (step.percent(), step.message()) if step else None
            if shown is not None and shown != written:
                still_active = self._write(*shown)
                written = shown
            else:
                still_active = self._active()
            if not still_active:
                self._cancel.ask("cancelled with CancelImportTask")
            self._stopped.wait(FLUSH_SECONDS)

    def _write(self, percent: int, message: str) -> bool:
        with self._region.catalog.begin() as conn:
            return bool(
                conn.execute(
                    import_tasks.update()
                    .where(
                        import_tasks.c.task_id == self._task_id, import_tasks.c.status == "active"
                    )
                    .values(progress=percent, status_message=message)
                ).rowcount
            )

    def _active(self) -> bool:
        with self._region.catalog.connect() as conn:
            status = conn.execute(
                select(import_tasks.c.status).where(import_tasks.c.task_id == self._task_id)
            ).scalar()
        return status == "active"
