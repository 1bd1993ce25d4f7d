"""The host-side keeper of one sandbox, run as `python -m amiable.runtime.monitor
CONFIG` in the sandbox's own session (as conmon keeps a container).

It starts the sandbox (`namespaces.spawn`: init as PID 1 of fresh
namespaces, inside the sandbox's network namespace when it has one), runs
the sandbox's host service — a
callable named in the config (`module:function`), called with the listening
socket the starter handed over, its argument and a stop event: for an
instance, its metadata service — and waits. When the sandbox ends, however it
ends, the monitor stops the service, removes the sandbox's network (if this
boot still owns it) and its cgroup, and exits. Its output is the console log.
"""

import importlib
import json
import os
import signal
import socket
import sys
import threading
from contextlib import suppress
from pathlib import Path
from typing import Any

from . import init, limits, namespaces
from .layout import CONSOLE_VARIABLE, OWN_NETWORK, SHUTDOWN_FILE, STOP_REQUEST
from .systemd import ENDED_BY


def _start_service(config: dict[str, Any], stop: threading.Event) -> threading.Thread | None:
    service = config.get("service")
    if service is None:
        return None
    module, _, function = service["target"].partition(":")
    serve = getattr(importlib.import_module(module), function)
    listener = socket.socket(fileno=service["fd"])
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


def _ended_by(code: int) -> str | None:
    """How a sandbox whose init was systemd shut itself down, from how its
    PID namespace ended (the signal `unshare` reports, either way it reports it)."""
    number = -code if code < 0 else code - 128 if code > 128 else 0
    with suppress(ValueError):
        return ENDED_BY.get(signal.Signals(number))
    return None


def _record_shutdown(directory: Path, code: int) -> None:
    reason = _ended_by(code)
    if reason is not None and not (directory / STOP_REQUEST).exists():
        (directory / SHUTDOWN_FILE).write_text(reason)


def _start_sandbox(path: Path, config: dict[str, Any], console: int) -> int:
    """Fork the sandbox (`namespaces.spawn`) with init as its PID 1, its stdin
    /dev/null, its console the terminal; the middle process's PID."""
    join = limits.enter(path.parent, config.get("limits"))

    def as_init() -> None:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.environ[CONSOLE_VARIABLE] = os.ttyname(console)
        init.main(str(path))

    return namespaces.spawn(path.parent, config["network"], config["privileged"], join, as_init)


def _plugged(ready: int) -> bool:
    """Wait for the starter to plug the network in (it writes a byte; it closes
    the pipe unwritten if that failed, or dies)."""
    try:
        return os.read(ready, 1) == b"1"
    finally:
        os.close(ready)


def main(config_path: str) -> int:
    path = Path(config_path)
    config = json.loads(path.read_text())
    if config.get("ready_fd") is not None and not _plugged(config["ready_fd"]):
        print("amiable: the host did not plug the network in; not booting", flush=True)
        return 1
    terminal, console = os.openpty()
    child = _start_sandbox(path, config, console)
    os.close(console)
    copier = _copy_console(terminal)
    stop = threading.Event()
    service = _start_service(config, stop)
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    _record_shutdown(path.parent, code)
    stop.set()
    if service is not None:
        service.join(timeout=2)
    if config["network"] == OWN_NETWORK:
        from .network import unplug  # only now: the boot does not wait for its import

        unplug(path.parent, config["generation"])
    limits.remove(path.parent)
    copier.join(timeout=1)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
