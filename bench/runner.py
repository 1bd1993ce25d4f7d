"""Running the benchmark's subprocesses: wall time, exit status, output and peak memory;
and whether this host can run instances at all (`sandbox_unavailable`).

Every timed operation of the benchmark goes through `run`, which times the child with
`time.perf_counter` and reaps it with `os.wait4` so that its maximum resident set size is
known (for a shell pipeline, the largest of the shell's reaped children).
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO


@dataclass(frozen=True)
class Run:
    """One finished subprocess."""

    argv: tuple[str, ...]
    seconds: float
    returncode: int
    stdout: str
    stderr: str
    max_rss_mb: float


class CommandFailed(RuntimeError):
    """A subprocess exited with a non-zero status."""

    def __init__(self, result: Run) -> None:
        last = result.stderr.strip().splitlines()[-3:] or result.stdout.strip().splitlines()[-3:]
        super().__init__(
            f"`{shlex.join(result.argv)}` exited {result.returncode}: " + " / ".join(last)
        )
        self.result = result


def run(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    settle: bool = True,
) -> Run:
    """Run argv to completion; time it and record its peak memory.

    With `settle`, dirty pages left by earlier steps are written back first (`sync`) so
    that their writeback does not land in this measurement.
    """
    if settle:
        os.sync()
    full_env = {**os.environ, **env} if env is not None else None
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd, env=full_env
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        result = Run(
            argv=tuple(argv),
            seconds=seconds,
            returncode=proc.returncode,
            stdout=_read(out),
            stderr=_read(err),
            max_rss_mb=usage.ru_maxrss / 1024,
        )
    if check and result.returncode != 0:
        raise CommandFailed(result)
    return result


def shell(
    script: str,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> Run:
    """Run a bash pipeline with `pipefail`, so that a failing stage fails the whole."""
    return run(["bash", "-o", "pipefail", "-c", script], cwd=cwd, env=env, check=check)


def output(argv: Sequence[str]) -> str | None:
    """First line of a command's output, or None when it cannot run (for tool versions)."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else None


def remove(path: Path) -> None:
    """Remove a file or a tree, including read-only directories a non-root restore left."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, onerror=_make_writable_and_retry)


def fresh_dir(path: Path) -> Path:
    """An empty directory at path (whatever was there is removed)."""
    remove(path)
    path.mkdir(parents=True)
    return path


class Scratch:
    """A run's scratch directory, whose discarded trees are deleted only at the end.

    On ext4 without a journal, allocating an inode skips the recently deleted ones (the last
    one to five minutes) at a cost that grows with their number: deleting a restored tree
    between runs would slow the file creation of the next runs several times over. So trees
    are moved aside into a trash directory and deleted once, by `close`.
    """

    def __init__(self, parent: Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="run-", dir=parent))
        self.trash = self.root / ".trash"
        self.trash.mkdir()
        self.discarded = 0

    def __truediv__(self, name: str) -> Path:
        return self.root / name

    def discard(self, *paths: Path) -> None:
        """Move paths out of the way (into the trash); missing paths are ignored."""
        for path in paths:
            if os.path.lexists(path):
                self.discarded += 1
                path.rename(self.trash / str(self.discarded))

    def fresh_dir(self, path: Path) -> Path:
        """An empty directory at path; whatever was there goes to the trash."""
        self.discard(path)
        path.mkdir(parents=True)
        return path

    def clear(self) -> None:
        """Discard everything in the scratch directory except the trash."""
        self.discard(*(path for path in self.root.iterdir() if path != self.trash))

    def close(self) -> None:
        remove(self.root)


def _make_writable_and_retry(func: object, name: str, _exc: object) -> None:
    parent = os.path.dirname(name)
    os.chmod(parent, os.stat(parent).st_mode | stat.S_IRWXU)
    if os.path.isdir(name) and not os.path.islink(name):
        os.chmod(name, os.stat(name).st_mode | stat.S_IRWXU)
        shutil.rmtree(name, onerror=_make_writable_and_retry)
    elif os.path.lexists(name):
        os.unlink(name)


def _read(handle: IO[bytes]) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", errors="replace")


def sandbox_unavailable() -> str | None:
    """Why instances cannot run here (the benches that need them skip), or None."""
    from amiable.runtime.errors import RuntimeUnavailable
    from amiable.runtime.sandbox import require_support

    try:
        require_support()
    except RuntimeUnavailable as exc:
        return str(exc)
    return None
