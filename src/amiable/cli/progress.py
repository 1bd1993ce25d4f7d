"""Showing long work while `ami` waits for it, and ending it on Ctrl-C.

On a terminal, a progress bar on stderr: the percentage the work reports,
its message (the step, files, bytes) and the time so far. Piped, a line on
stderr when the state, the percentage or the step changes, and every
HEARTBEAT_SECONDS while none does. stdout keeps the result (ids, --json).

Inside `long_work`, SIGTERM is taken as Ctrl-C: the work undoes what it
made (the tools raise `Interrupted` once it has) and the command exits 130
(143 for SIGTERM) with one line on stderr; work that fails is one line too
(`error: ...`, exit status 1).
"""

import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from amiable.tools.image_import import Interrupted
from amiable.tools.waiting import Status, WorkFailed

HEARTBEAT_SECONDS = 30.0


class Display:
    """A Report (see tools.waiting) that shows what the work reports."""

    def __init__(self, title: str) -> None:
        self._title = title
        self._console = Console(stderr=True)
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._shown: tuple[str, int | None, str] | None = None
        self._at = 0.0

    def __enter__(self) -> "Display":
        if self._console.is_terminal:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[message]}"),
                TimeElapsedColumn(),
                console=self._console,
            )
            self._bar.start()
            self._task = self._bar.add_task(self._title, total=None, message="")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def __call__(self, status: Status) -> None:
        if self._bar is not None and self._task is not None:
            total = 100 if status.percent is not None else None
            self._bar.update(
                self._task,
                total=total,
                completed=status.percent or 0,
                message=status.message or status.state,
                refresh=True,
            )
            return
        shown = (status.state, status.percent, status.message.split(":")[0])
        if shown != self._shown or time.monotonic() - self._at >= HEARTBEAT_SECONDS:
            percent = f" {status.percent}%" if status.percent is not None else ""
            line = f"{self._title}: {status.state}{percent} {status.message}"
            click.echo(line.rstrip(), err=True)
            self._shown, self._at = shown, time.monotonic()


@contextmanager
def long_work() -> Iterator[None]:
    """Ctrl-C or SIGTERM inside ends the command with exit status 128 + the
    signal; failed work with one line and exit status 1."""
    received = [signal.SIGINT]

    def terminated(signum: int, frame: FrameType | None) -> None:
        received[0] = signal.SIGTERM
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    except WorkFailed as exc:
        raise click.ClickException(str(exc)) from exc
    except Interrupted as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(128 + received[0])
    except KeyboardInterrupt:  # before the work began, or while waiting for it
        click.echo("error: interrupted", err=True)
        sys.exit(128 + received[0])
    finally:
        signal.signal(signal.SIGTERM, previous)
