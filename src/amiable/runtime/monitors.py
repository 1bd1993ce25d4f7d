"""Starting sandboxes' monitors: each is forked from one process started
ahead of need, the zygote (as Android starts its apps), run as `python -m
amiable.runtime.monitors` by the first boot of a process.

Starting Python and importing the runtime (and the metadata service) costs
about 80 ms of CPU; a fork of a process that has done it costs one, and
the monitors share its memory. The zygote is single-threaded, so forking it
is safe, and it lives as long as the socket pair to its starter (its stdin):
when the starter ends, it ends; the monitors it forked live on, each in a
session of its own.

One request per sandbox, on a SOCK_SEQPACKET socket: the path of its
config.json and, passed with SCM_RIGHTS, the descriptors its monitor needs
by name (`console`: its console log; `ready`: the pipe the network's plug is
signalled on; `service`: the metadata service's listening socket). Before it
forks, the zygote imports the module of the sandbox's host service, so every
later monitor has it loaded. The answer is the monitor's PID, and a pidfd of
it: the starter watches and kills a monitor that is not its child without
any risk of a reused PID.
"""

import importlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from pathlib import Path

from .errors import SandboxError

_MESSAGE = 65536
_ANSWER_SECONDS = 30.0  # a fork takes a millisecond: a zygote this late is stuck
_EXIT_SECONDS = 2.0  # for a zygote that closed its socket to have exited
_lock = threading.Lock()  # one request at a time on the zygote's socket
_zygote: "_Zygote | None" = None


class Monitor:
    """A started monitor, as its starter sees it."""

    def __init__(self, pid: int, pidfd: int) -> None:
        self.pid = pid
        self._pidfd = pidfd

    def alive(self) -> bool:
        return not select.select([self._pidfd], [], [], 0)[0]

    def kill(self) -> None:
        """The monitor and its sandbox (its process group), then wait for it."""
        with suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        if not select.select([self._pidfd], [], [], _ANSWER_SECONDS)[0]:
            raise SandboxError(f"the sandbox's monitor {self.pid} outlived SIGKILL")

    def close(self) -> None:
        os.close(self._pidfd)


class _Zygote:
    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # Its stderr (and a monitor's, until it takes over its console log): an
        # unlinked file, so a zygote that cannot start says why, and leaves nothing.
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed by end)
        with theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "amiable.runtime.monitors"],
                stdin=theirs.fileno(),
                stdout=subprocess.DEVNULL,
                stderr=self.errors,
                close_fds=True,
                cwd="/",
            )
        self.channel = ours
        self.channel.settimeout(_ANSWER_SECONDS)

    def fork(self, config: Path, descriptors: dict[str, int]) -> Monitor:
        request = json.dumps({"config": str(config), "descriptors": list(descriptors)})
        try:
            socket.send_fds(self.channel, [request.encode()], list(descriptors.values()))
            answer, fds, _flags, _address = socket.recv_fds(self.channel, _MESSAGE, 1)
        except OSError as exc:
            raise OSError(f"{exc}{self._last_words()}") from exc
        if not answer or len(fds) != 1:
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=_EXIT_SECONDS)
            ended = f"the monitors' zygote ended (exit {self.process.poll()})"
            raise OSError(ended + self._last_words())
        return Monitor(json.loads(answer)["pid"], fds[0])

    def _last_words(self) -> str:
        """The last line the zygote wrote on its stderr (a traceback's), if any.
        pread: the offset is shared with the processes that write there."""
        size = os.fstat(self.errors.fileno()).st_size
        tail = os.pread(self.errors.fileno(), 4096, max(0, size - 4096))
        lines = tail.decode(errors="replace").strip().splitlines()
        return f": {lines[-1]}" if lines else ""

    def end(self) -> None:
        self.channel.close()
        self.process.kill()
        self.process.wait()
        self.errors.close()


def start(config: Path, descriptors: dict[str, int]) -> Monitor:
    """Fork a monitor for the sandbox of `config`, handing it `descriptors`
    (copies: the caller closes its own). A zygote that died is started again."""
    global _zygote
    with _lock:
        for attempt in range(2):
            if _zygote is None or _zygote.process.poll() is not None:
                if _zygote is not None:
                    _zygote.end()
                _zygote = _Zygote()
            try:
                return _zygote.fork(config, descriptors)
            except OSError as exc:
                _zygote.end()
                _zygote = None
                if attempt:
                    raise SandboxError(f"could not start the sandbox's monitor: {exc}") from exc
    raise AssertionError("unreachable")


def _serve(channel: socket.socket) -> None:
    """The zygote: fork a monitor for each request until the starter is gone,
    collecting the monitors that end."""
    from . import monitor  # what every monitor runs, loaded once here

    ended, wakeup = _wakeup_on_children()
    while True:
        readable = select.select([channel.fileno(), ended], [], [])[0]
        if ended in readable:
            os.read(ended, 4096)
            _collect()
        if channel.fileno() in readable:
            request, fds, _flags, _address = socket.recv_fds(channel, _MESSAGE, 8)
            for fd in fds:  # never into the sandbox's processes
                os.set_inheritable(fd, False)
            if not request:
                return
            handed = json.loads(request)
            config = Path(handed["config"])
            descriptors = dict(zip(handed["descriptors"], fds, strict=True))
            _preload(config)
            pid, pidfd = _fork(
                partial(monitor.keep, config, descriptors), [channel.fileno(), ended, wakeup]
            )
            for fd in fds:
                os.close(fd)
            socket.send_fds(channel, [json.dumps({"pid": pid}).encode()], [pidfd])
            os.close(pidfd)


def _preload(config: Path) -> None:
    """Import the module of the sandbox's host service, if it has one."""
    try:
        service = json.loads(config.read_text()).get("service")
        if service:
            importlib.import_module(service["target"].partition(":")[0])
    except Exception:  # the monitor itself reports it, on the console
        traceback.print_exc()


def _fork(work: Callable[[], int], inherited: list[int]) -> tuple[int, int]:
    """Fork a monitor in a session of its own running `work`; its PID and a
    pidfd, once it leads its session (so its process group can be killed)."""
    sync_read, sync_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setsid()
            os.close(sync_write)  # the zygote reads EOF: the session is made
            os.close(sync_read)
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for fd in inherited:
                os.close(fd)
            code = work()
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(sync_write)
    os.read(sync_read, 1)
    os.close(sync_read)
    return pid, os.pidfd_open(pid)


def _wakeup_on_children() -> tuple[int, int]:
    """A pipe SIGCHLD writes to (its read end, its write end)."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    return read_end, write_end


def _collect() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _main() -> None:
    channel = socket.socket(fileno=os.dup(0))
    null = os.open(os.devnull, os.O_RDONLY)  # the monitors' stdin
    os.dup2(null, 0)
    os.close(null)
    _serve(channel)


if __name__ == "__main__":
    _main()
