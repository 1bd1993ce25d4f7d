"""PID 1 of a sandbox: run as `python -m amiable.runtime.init CONFIG` inside
fresh mount, PID, UTS and IPC namespaces (see `sandbox.py`).

It records its host PID, mounts the overlay root (and the volumes) privately,
gives the sandbox /proc, a minimal /dev and its hostname, chroots, runs user
data on first boot only, then reaps orphans until SIGTERM, when it stops
every process in the sandbox and exits; the mounts vanish with the namespace.
Its stdout and stderr are the console log.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .mounts import MS_BIND, MS_PRIVATE, MS_REC, mount, overlay_options

_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
USER_DATA_DONE = "var/lib/amiable/user-data.done"
USER_DATA = "var/lib/amiable/user-data"


def _prepare(config: dict[str, Any]) -> None:
    root = config["root"]
    mount("none", "/", None, MS_REC | MS_PRIVATE, None)
    mount(
        "overlay",
        root,
        "overlay",
        0,
        overlay_options(config["lowers"], config["upper"], config["work"], config["privileged"]),
    )
    for volume in config.get("volumes", []):
        target = os.path.join(root, volume["mountpoint"].lstrip("/"))
        os.makedirs(target, exist_ok=True)
        mount(
            "overlay",
            target,
            "overlay",
            0,
            overlay_options(
                volume["lowers"], volume["upper"], volume["work"], config["privileged"]
            ),
        )
    os.makedirs(os.path.join(root, "proc"), exist_ok=True)
    mount("proc", os.path.join(root, "proc"), "proc", 0, None)
    dev = os.path.join(root, "dev")
    os.makedirs(dev, exist_ok=True)
    mount("tmpfs", dev, "tmpfs", 0, "mode=755,size=1m")
    for name in _DEVICES:
        node = os.path.join(dev, name)
        if os.path.exists(f"/dev/{name}"):
            open(node, "w").close()
            mount(f"/dev/{name}", node, None, MS_BIND, None)
    socket.sethostname(config["hostname"])
    os.chroot(root)
    os.chdir("/")


def _user_data(config: dict[str, Any]) -> None:
    """Run the user data once, on first boot, as cloud-init does."""
    data = config.get("user_data")
    if not data or os.path.exists("/" + USER_DATA_DONE):
        return
    script = Path("/" + USER_DATA)
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_bytes(bytes.fromhex(data))
    script.chmod(0o700)
    shell = "/bin/sh"
    command = [str(script)] if script.read_bytes().startswith(b"#!") else [shell, str(script)]
    print("amiable: running user data", flush=True)
    code = subprocess.call(command, cwd="/", env=_environment())
    print(f"amiable: user data exited with {code}", flush=True)
    Path("/" + USER_DATA_DONE).write_text(f"{code}\n")


def _environment() -> dict[str, str]:
    return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"}


_stopping = False


def _on_term(_signum: int, _frame: object) -> None:
    global _stopping
    _stopping = True


def _shutdown() -> None:
    print("amiable: stopping", flush=True)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(-1, sig)  # every process in the sandbox but this one
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                if os.waitpid(-1, os.WNOHANG) == (0, 0):
                    time.sleep(0.05)
            except ChildProcessError:
                return


def main(config_path: str) -> None:
    config = json.loads(Path(config_path).read_text())
    Path(config["pid_file"]).write_text(os.readlink("/proc/self"))  # the host's PID
    signal.signal(signal.SIGTERM, _on_term)
    _prepare(config)
    print(f"amiable: {config['hostname']} booted", flush=True)
    _user_data(config)
    while not _stopping:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            pid = 0
        if pid == 0:
            time.sleep(0.2)
    _shutdown()


if __name__ == "__main__":
    main(sys.argv[1])
