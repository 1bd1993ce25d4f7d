"""The host-side keeper of one sandbox (as conmon keeps a container), forked
in a session of its own by the monitors' zygote (`monitors.py`) with the
sandbox's config and descriptors.

In the sandbox's directory and with the console log as its output, it
starts the sandbox (`namespaces.spawn`: init as PID 1 of fresh namespaces;
for a sandbox with its own network, the child joins the cgroups while the
starter plugs the network in, and enters the network namespace once told
the plug is done), runs the sandbox's host service — a callable named in the
config (`module:function`), called with the listening socket the starter
handed over, its argument and a stop event: for an instance, its metadata
service — and waits. It writes init.json when init announces the boot.
When the sandbox ends, however it ends, the monitor records a shutdown from
inside (`shutdown`), then removes init.json (until then the host waits to
read how it ended: `Sandbox.ended`), stops the service,
removes the sandbox's network (if this boot still owns it) and its cgroup,
and returns how the sandbox ended.
"""

import importlib
import json
import os
import signal
import socket
import threading
from contextlib import suppress
from pathlib import Path
from typing import Any

from . import init, limits, namespaces
from .layout import CONSOLE_VARIABLE, OWN_NETWORK, SHUTDOWN_FILE, STATE_FILE, STOP_REQUEST
from .systemd import ENDED_BY


def _start_service(
    config: dict[str, Any], listening: int | None, stop: threading.Event
) -> threading.Thread | None:
    service = config.get("service")
    if service is None or listening is None:
        return None
    module, _, function = service["target"].partition(":")
    serve = getattr(importlib.import_module(module), function)
    listener = socket.socket(fileno=listening)
    thread = threading.Thread(target=serve, args=(listener, service["argument"], stop), daemon=True)
    thread.start()
    return thread


def _copy_console(terminal: int) -> threading.Thread:
    """What the sandbox writes on /dev/console, appended to the console log
    (this process's stdout) until the last writer closes it."""

    def copy() -> None:
        while True:
            try:
                data = os.read(terminal, 65536)
            except OSError:  # EIO: no writer left
                break
            if not data:
                break
            os.write(1, data)

    thread = threading.Thread(target=copy, daemon=True)
    thread.start()
    return thread


def _ended_by(code: int, kind: str | None) -> str | None:
    """How a sandbox shut itself down, from how its init ended: systemd's from
    the signal that ended its PID namespace, ours from its exit code."""
    if kind == "amiable":
        return init.stopped_by(code)
    number = -code if code < 0 else code - 128 if code > 128 else 0
    with suppress(ValueError):
        return ENDED_BY.get(signal.Signals(number))
    return None


def _record_shutdown(directory: Path, code: int, kind: str | None) -> None:
    """A shutdown from inside, for the host to act on (not the host's own stop)."""
    reason = _ended_by(code, kind)
    if kind is not None and reason is not None and not (directory / STOP_REQUEST).exists():
        (directory / SHUTDOWN_FILE).write_text(reason)


def _announced(report: int, directory: Path, middle: int) -> str | None:
    """Wait for init's announcement of its boot and write it as init.json
    (whole: a temporary name, then rename), with its identity; the kind of
    init it runs (None when it ended unannounced). Its PID must be a child
    of the sandbox's middle process."""
    with os.fdopen(report, "rb") as lines:
        line = lines.readline(4096)
    try:
        state = json.loads(line)
        pid = int(state["pid"])
        kind = str(state["init"])
    except (ValueError, KeyError, TypeError):
        return None
    if _parent_of(pid) != middle:
        return None
    state["identity"] = init.identity_of(pid)
    temporary = directory / f".{STATE_FILE}.{os.getpid()}"
    temporary.write_text(json.dumps(state))
    os.rename(temporary, directory / STATE_FILE)
    return kind


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _start_sandbox(
    path: Path, config: dict[str, Any], console: int, ready: int | None, report: int
) -> int:
    """Fork the sandbox (`namespaces.spawn`) with init as its PID 1, its stdin
    /dev/null, its console the terminal, `report` the pipe it announces its
    boot on; the middle process's PID. With `ready`, the network's pipe, the
    child waits for the plug once it has joined the cgroups (slow on a legacy
    hierarchy: it overlaps the plug)."""
    join = limits.enter(path.parent, config.get("limits"))

    def before() -> None:
        join()
        if ready is not None and not _plugged(ready):
            print("amiable: the host did not plug the network in; not booting", flush=True)
            os._exit(1)

    def as_init() -> None:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.environ[CONSOLE_VARIABLE] = os.ttyname(console)
        os.dup2(report, 3, inheritable=False)
        os.closerange(4, 1 << 20)  # PID 1 is seen from inside: it holds none of the host's
        os._exit(init.main(str(path), 3))

    return namespaces.spawn(path.parent, config["network"], config["privileged"], before, as_init)


def _plugged(ready: int) -> bool:
    """Wait for the starter to plug the network in (it writes a byte; it closes
    the pipe unwritten if that failed, or dies)."""
    try:
        return os.read(ready, 1) == b"1"
    finally:
        os.close(ready)


def _take_over(console: int, directory: Path) -> None:
    """Make the console log this process's output and the sandbox's directory
    its own."""
    for output in (1, 2):
        os.dup2(console, output)
    os.close(console)
    os.chdir(directory)


def keep(path: Path, descriptors: dict[str, int]) -> int:
    """Keep the sandbox of config `path`, with its `descriptors` (see
    `monitors.py`); how it ended (its init's exit code, or minus its signal)."""
    _take_over(descriptors["console"], path.parent)
    config = json.loads(path.read_text())
    terminal, console = os.openpty()
    ready = descriptors.get("ready")
    report, reported = os.pipe()
    child = _start_sandbox(path, config, console, ready, reported)
    for fd in (console, reported, *([ready] if ready is not None else [])):
        os.close(fd)
    copier = _copy_console(terminal)
    stop = threading.Event()
    service = _start_service(config, descriptors.get("service"), stop)
    kind = _announced(report, path.parent, child)
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    _record_shutdown(path.parent, code, kind)
    (path.parent / STATE_FILE).unlink(missing_ok=True)  # recorded: the host may act on it
    stop.set()
    if service is not None:
        service.join(timeout=2)
    if config["network"] == OWN_NETWORK:
        from .network import unplug  # only now: the boot does not wait for its import

        unplug(path.parent, config["generation"])
    limits.remove(path.parent)
    copier.join(timeout=1)
    return code
