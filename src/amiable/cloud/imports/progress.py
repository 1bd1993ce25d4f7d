"""How far an import task is, as DescribeImport*Tasks show it: `Progress` (a
percentage) and `StatusMessage` (the step, with files and bytes).

The work tells a `Reporter` where it is, as often as it likes; a `Flusher`
writes it to the task's row, and between writes looks at the row: a task no
longer `active` there was cancelled by another process, and the work's
`Cancel` is asked.

Weights: a tree is measured first (`measure_tree`, lstat only) so that the
snapshot's bytes done give the percentage; an archive's unpacking counts for
the first ARCHIVE_SHARE percent (by compressed bytes read; a named pipe has no
size, so its step shows bytes only), the snapshot of the unpacked tree for
the rest. 100 is reached when the task completes.
"""

import threading
from dataclasses import dataclass, replace
from types import TracebackType

from sqlalchemy import select

from amiable.catalog.regional import import_tasks
from amiable.cloud.core.background import Cancel
from amiable.cloud.core.flusher import Flusher
from amiable.cloud.core.home import Region
from amiable.units import human_bytes

ARCHIVE_SHARE = 40
CANCEL_REASON = "cancelled with CancelImportTask"  # when the call gave no CancelReason


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
    """A running task's progress, written to its row (a context manager)."""

    def __init__(self, region: Region, task_id: str, cancel: Cancel) -> None:
        self._region = region
        self._task_id = task_id
        self._cancel = cancel
        self._lock = threading.Lock()
        self._step: Step | None = None
        self._flusher: Flusher[tuple[int, str]] = Flusher(
            f"progress-{task_id}", self._write, self._look
        )

    def check(self) -> None:
        """Raise Cancelled once cancellation is asked."""
        self._cancel.check()

    def begin(self, step: Step) -> None:
        self._show(step)

    def advance(self, bytes_done: int, files_done: int | None = None) -> None:
        """New counts for the current step: cheap, any thread; raises Cancelled
        once cancellation is asked."""
        with self._lock:
            step = self._step
            assert step is not None
            files = step.files_done if files_done is None else files_done
            self._show(replace(step, bytes_done=bytes_done, files_done=files))

    def _show(self, step: Step) -> None:
        self._cancel.check()
        self._step = step
        self._flusher.offer((step.percent(), step.message()))

    def __enter__(self) -> "Reporter":
        self._flusher.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._flusher.__exit__(kind, exc, tb)

    def _write(self, shown: tuple[int, str]) -> None:
        percent, message = shown
        with self._region.catalog.begin() as conn:
            written = conn.execute(
                import_tasks.update()
                .where(import_tasks.c.task_id == self._task_id, import_tasks.c.status == "active")
                .values(progress=percent, status_message=message)
            ).rowcount
        if not written:
            self._look()

    def _look(self) -> None:
        """A task cancelled by another process reads `deleting`, `cancelling: <reason>`."""
        with self._region.catalog.connect() as conn:
            row = conn.execute(
                select(import_tasks.c.status, import_tasks.c.status_message).where(
                    import_tasks.c.task_id == self._task_id
                )
            ).one()
        if row.status != "active":
            message = row.status_message or ""
            self._cancel.ask(message.removeprefix("cancelling: ") or CANCEL_REASON)
