"""PID 1 of a sandbox: forked by its monitor (`monitor.py`) in fresh mount,
PID, UTS, IPC and cgroup namespaces (`namespaces.py`).

It mounts the overlay root (and the volumes) privately, gives the sandbox
/proc, a minimal /dev and its hostname, pivots its root onto the overlay
(the host's root leaves its mount namespace whole), and only then announces
the boot to its monitor, on the pipe it was given (`report`): its host PID and
the boot's generation, one line of JSON, before anything of the image runs;
then it closes the pipe. It holds nothing of the host's after that (a
directory of the host's, open in a process of the sandbox, would be a way
out of its root). It runs user data on first boot only, then reaps orphans
until it is told to stop.

SIGTERM is the host's stop or busybox's `reboot`; `poweroff` is SIGUSR2,
`halt` SIGUSR1. Either way every process in the sandbox is stopped
(SIGTERM, then SIGKILL) and init exits with the code that says which signal
stopped it (`INIT_EXIT_CODES`); the monitor, which knows whether the host
asked, records a shutdown from inside for the host to act on, as EC2 acts
on an instance-initiated shutdown. The namespaces take their mounts with
them. Its stdout and stderr are the console log.
"""

import json
import os
import select
import signal
import socket
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from .api_filesystems import mount_dev, mount_for_systemd, mount_proc
from .capabilities import drop_bounding_set, drop_own
from .layout import CONSOLE_VARIABLE, HOST_NETWORK
from .mounts import MS_PRIVATE, MS_REC, mount, overlay_options, pivot_root, unmount
from .systemd import boots_systemd, start_systemd

USER_DATA_DONE = "var/lib/amiable/user-data.done"
USER_DATA = "var/lib/amiable/user-data"
_INSIDE = {signal.SIGUSR2: "poweroff", signal.SIGUSR1: "halt", signal.SIGTERM: "reboot"}
EXIT_CODES = {"poweroff": 2, "halt": 3, "reboot": 4}  # init's exit code after each


def _prepare(config: dict[str, Any]) -> None:
    root = config["root"]
    mount("none", "/", None, MS_REC | MS_PRIVATE, None)
    with suppress(OSError):  # the host's named network namespaces: never pinned by a sandbox
        unmount("/run/netns")
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
    mount_proc(root, own_network=config["network"] != HOST_NETWORK)
    mount_dev(root, os.environ.get(CONSOLE_VARIABLE))
    socket.sethostname(config["hostname"])


def _stdin_inside() -> None:
    """Its stdin the sandbox's /dev/null, not the host's it was started with."""
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)


def _point_resolver(address: str) -> None:
    """/etc/resolv.conf names the resolver the host gives (unless something in
    the image manages it: a symlink), as a DHCP client does at boot on EC2."""
    path = Path("/etc/resolv.conf")
    if not path.is_symlink() and path.parent.is_dir():
        path.write_text(f"nameserver {address}\n")


def identity_of(pid: int | str) -> str:
    """`<boot id> <start time>` of a process as the host's /proc shows it ('' if it
    is gone or a zombie): a PID with another identity is another process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):  # exited, not yet reaped
        return ""
    return f"{boot} {fields[19]}"


def _announce(report: int, state: dict[str, Any]) -> None:
    """Tell the monitor the boot is up (one line), then let go of the pipe."""
    with os.fdopen(report, "w") as out:
        out.write(json.dumps(state) + "\n")


def _start_user_data(config: dict[str, Any]) -> int | None:
    """Start the user data on first boot only, as cloud-init does; its PID. The
    marker says `started` until it exits, then its exit code."""
    data = config.get("user_data")
    if not data or os.path.exists("/" + USER_DATA_DONE):
        return None
    script = Path("/" + USER_DATA)
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_bytes(bytes.fromhex(data))
    script.chmod(0o700)
    command = [str(script)] if script.read_bytes().startswith(b"#!") else ["/bin/sh", str(script)]
    print("amiable: running user data", flush=True)
    Path("/" + USER_DATA_DONE).write_text("started\n")  # once, even if a stop cuts it short
    try:
        return os.posix_spawn(command[0], command, _environment())  # cwd is / already
    except OSError as exc:  # e.g. its #! names a missing interpreter: the instance runs on
        print(f"amiable: user data could not start: {exc.strerror}", flush=True)
        Path("/" + USER_DATA_DONE).write_text("127\n")  # as a shell says "not found"
        return None


def _user_data_done(status: int) -> None:
    code = os.waitstatus_to_exitcode(status)
    print(f"amiable: user data exited with {code}", flush=True)
    Path("/" + USER_DATA_DONE).write_text(f"{code}\n")


def _environment() -> dict[str, str]:
    return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"}


class _Stop:
    """What stops the sandbox: None while it runs, then the signal that did."""

    def __init__(self) -> None:
        self.signal: signal.Signals | None = None

    def __call__(self, signum: int, _frame: object) -> None:
        if self.signal is None:
            self.signal = signal.Signals(signum)


def _wakeup_on_signals() -> int:
    """A pipe every signal to init writes to (SIGCHLD included): waiting on it,
    init reacts to a stop or an ended child at once, not at its next poll."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    return read_end


def _wait_for_signal(wakeup: int, timeout: float) -> None:
    if select.select([wakeup], [], [], max(0.0, timeout))[0]:
        os.read(wakeup, 4096)


def _shutdown(stopped_by: signal.Signals, wakeup: int) -> None:
    print(f"amiable: stopping ({stopped_by.name})", flush=True)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(-1, sig)  # every process in the sandbox but this one
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                if os.waitpid(-1, os.WNOHANG) == (0, 0):
                    _wait_for_signal(wakeup, deadline - time.monotonic())
            except ChildProcessError:
                return


def stopped_by(code: int) -> str | None:
    """What stopped this init, from its exit code: "poweroff", "halt" or
    "reboot" (the host's stop looks like a reboot), or None (it failed)."""
    return next((reason for reason, ended in EXIT_CODES.items() if ended == code), None)


def main(config_path: str, report: int) -> int:
    """Be PID 1 until stopped; the exit code saying what stopped it."""
    config = json.loads(Path(config_path).read_text())
    host_pid = os.readlink("/proc/self")  # the host's /proc, before this sandbox mounts its own
    state = {"pid": int(host_pid), "generation": config["generation"]}
    stop = _Stop()
    for signum in _INSIDE:
        signal.signal(signum, stop)
    wakeup = _wakeup_on_signals()
    _prepare(config)
    pivot_root(config["root"])
    _stdin_inside()
    if config.get("resolver"):
        _point_resolver(config["resolver"])
    systemd = boots_systemd()
    if systemd:
        mount_for_systemd("/")
    if config["privileged"]:
        own_network = config["network"] != HOST_NETWORK
        drop_bounding_set(own_network, systemd)
        if not systemd:  # systemd's exec takes the bounding set; this init stays
            drop_own(own_network, systemd)
    _announce(report, {**state, "init": "systemd" if systemd else "amiable"})
    print(f"amiable: {config['hostname']} booted", flush=True)
    if systemd:
        start_systemd(config["hostname"])
    user_data = _start_user_data(config)
    while stop.signal is None:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            pid = 0
        if pid == 0:
            _wait_for_signal(wakeup, 1.0)
        elif pid == user_data:
            _user_data_done(status)
    _shutdown(stop.signal, wakeup)
    return EXIT_CODES[_INSIDE[stop.signal]]
