"""What a bake tells people, on stderr: one line as each stage starts and
one with its time as it ends, the output of steps and tests as it comes
(indented), and the copies' progress — a bar per region on a terminal,
plain lines when stderr is not one. stdout is left to the manifest."""

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


class Reporter:
    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self._stream = stream or sys.stderr
        self._console = Console(file=self._stream, highlight=False, soft_wrap=True)
        self._quiet = quiet
        self._lock = threading.Lock()
        self._fresh_line = True

    @property
    def terminal(self) -> bool:
        return self._console.is_terminal

    def line(self, text: str) -> None:
        if self._quiet:
            return
        with self._lock:
            if not self._fresh_line:
                self._stream.write("\n")
            self._stream.write(text + "\n")
            self._stream.flush()
            self._fresh_line = True

    @contextmanager
    def stage(self, title: str) -> Iterator[None]:
        started = time.monotonic()
        self.line(f"==> {title}")
        yield
        self.line(f"    {title}: done in {time.monotonic() - started:.1f} s")

    def output(self, text: str) -> None:
        """Output of a command, as it comes, each line indented."""
        if self._quiet or not text:
            return
        with self._lock:
            lines = text.split("\n")
            for index, piece in enumerate(lines):
                if self._fresh_line and (piece or index < len(lines) - 1):
                    self._stream.write("    | ")
                    self._fresh_line = False
                self._stream.write(piece)
                if index < len(lines) - 1:
                    self._stream.write("\n")
                    self._fresh_line = True
            self._stream.flush()

    @contextmanager
    def bars(self, title: str, names: list[str]) -> Iterator["Bars"]:
        """Progress of work per name (a region's copy): bars on a terminal."""
        bars = Bars(self, title, names)
        with bars:
            yield bars


class Bars:
    def __init__(self, reporter: Reporter, title: str, names: list[str]) -> None:
        self._reporter = reporter
        self._title = title
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._last: dict[str, tuple[int | None, str]] = {}
        self._names = names

    def __enter__(self) -> "Bars":
        if self._reporter.terminal and not self._reporter._quiet:
            self._progress = Progress(
                TextColumn("    {task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TextColumn("{task.fields[state]}"),
                TimeElapsedColumn(),
                console=self._reporter._console,
            )
            self._progress.start()
            for name in self._names:
                self._tasks[name] = self._progress.add_task(
                    f"{self._title} {name}", total=100, state=""
                )
        return self

    def __exit__(self, *_: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, name: str, percent: int | None, state: str) -> None:
        if self._progress is not None:
            self._progress.update(self._tasks[name], completed=percent or 0, state=state)
            return
        if (percent, state) == self._last.get(name) or (
            percent == 100 and self._last.get(name, (None, ""))[1] == state
        ):
            return
        self._last[name] = (percent, state)
        shown = f" {percent}%" if percent is not None and state != "available" else ""
        self._reporter.line(f"    {self._title} {name}: {state}{shown}")
