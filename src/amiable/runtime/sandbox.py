"""A sandbox: one instance's directory, its init process, and commands run in it.

```
<dir>/
  upper/ work/     the overlay's writable layer: the instance's changes
  root/            the mount point of its root (mounted only inside it)
  config.json      what its monitor and init need
  init.json        init's announcement of the boot: its host PID and identity
  monitor.json     the monitor's host PID and identity
  console.log      the console: boot, user data, shutdown
```

A boot starts the sandbox's monitor (`monitors.py` forks it from a process
started ahead), which forks init in fresh mount, PID, UTS, IPC and cgroup
namespaces (`namespaces.py`) in a session of its own, so the sandbox
outlives the process that started it; meanwhile the starter plugs its
network in. Commands enter it through `inside.py` (or `nsenter --root`, when
rootless): they see the instance's files, hostname and processes, never the
host's.
"""

import json
import os
import secrets
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import IO, Any

from . import monitors
from .errors import RuntimeUnavailable, SandboxError
from .init import identity_of
from .inside import command_prefix
from .layout import (
    HOST_NETWORK,
    MONITOR_FILE,
    OWN_NETWORK,
    SHUTDOWN_FILE,
    STATE_FILE,
    STOP_REQUEST,
)
from .mounts import overlay_options, redirect_dir_default_off
from .network import RESOLVER_ADDRESS, Link, metadata_listener
from .network import plug as network_plug
from .network import unplug as network_unplug
from .systemd import STOP_SIGNAL

Network = Link | str
STOP_SECONDS = 10.0
BOOT_SECONDS = 30.0
PROGRESS_SECONDS = 0.5


@dataclass(frozen=True)
class Volume:
    """A volume to mount in a sandbox: read-only layers under its own writable
    layer (`layer/upper`, `layer/work`), which travels with the volume."""

    lowers: list[Path]  # read-only layers, top first
    layer: Path
    mountpoint: str  # inside the sandbox

    def config(self) -> dict[str, object]:
        for sub in ("upper", "work"):
            (self.layer / sub).mkdir(parents=True, exist_ok=True)
        return {
            "lowers": [str(p) for p in self.lowers],
            "upper": str(self.layer / "upper"),
            "work": str(self.layer / "work"),
            "mountpoint": self.mountpoint,
        }


@dataclass(frozen=True)
class HostService:
    """What runs on the host for a sandbox with its own network, while it runs:
    `target` ("module:function") is called with a socket listening on the
    sandbox's link, `argument` and a stop event."""

    target: str
    argument: str


@dataclass(frozen=True)
class Limit:
    vcpus: int
    memory_mib: int


@dataclass(frozen=True)
class Completed:
    exit_code: int
    stdout: bytes
    stderr: bytes
    timed_out: bool


def rootless() -> bool:
    """Whether sandboxes run in a user namespace (this process is not root)."""
    return os.geteuid() != 0


def require_support() -> None:
    """RuntimeUnavailable, with what is missing, unless this host can run sandboxes."""
    if sys.platform != "linux":
        raise RuntimeUnavailable("instances need Linux (namespaces and overlayfs)")
    for tool in ("unshare", "nsenter"):
        if shutil.which(tool) is None:
            raise RuntimeUnavailable(f"instances need util-linux's {tool}")
    if "overlay" not in Path("/proc/filesystems").read_text():
        raise RuntimeUnavailable("instances need overlayfs (modprobe overlay)")
    if rootless() and not _user_namespaces_work():
        raise RuntimeUnavailable(
            "instances need root, or unprivileged user namespaces with overlayfs in them "
            "(Linux 5.11+; sysctl kernel.unprivileged_userns_clone=1 where it exists)"
        )
    if rootless() and not redirect_dir_default_off():
        raise RuntimeUnavailable(
            "rootless instances need overlayfs's redirect_dir off by default "
            "(/sys/module/overlay/parameters/redirect_dir is not N); run as root"
        )


@cache
def _user_namespaces_work() -> bool:
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True
    )
    return probe.returncode == 0


def _namespace_options(own_network: bool = False) -> list[str]:
    """nsenter's options to enter a sandbox's namespaces (its user namespace
    first, when rootless; its network namespace when it has its own)."""
    user = ["--user", "--preserve-credentials"] if rootless() else []
    return [*user, "--mount", "--pid", "--uts", "--ipc", *(["--net"] if own_network else [])]


class Sandbox:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def upper(self) -> Path:
        """The instance's changes: the overlay's upper directory."""
        return self.directory / "upper"

    @property
    def console_path(self) -> Path:
        return self.directory / "console.log"

    def start(
        self,
        lowers: list[Path],
        hostname: str,
        user_data: bytes | None = None,
        volumes: list[Volume] | None = None,
        network: Network = HOST_NETWORK,
        service: HostService | None = None,
        limit: Limit | None = None,
    ) -> int:
        """Boot the sandbox; returns init's host PID once its root is mounted.
        `network` is a `Link` of its own, the host's (`HOST_NETWORK`) or none
        (`NO_NETWORK`); `service` runs on the host for it while it runs (with a
        socket listening on its link); `limit` caps its CPUs and memory. A boot
        that fails or hangs is killed whole, its network removed, before
        SandboxError."""
        require_support()
        if self.running():
            raise SandboxError(f"{self.directory.name} is already running")
        self._end_monitor()  # an ended boot's monitor may still be removing its cgroups
        d = self.directory
        for sub in ("upper", "work", "root"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        for stale in (STATE_FILE, STOP_REQUEST, SHUTDOWN_FILE):
            (d / stale).unlink(missing_ok=True)
        generation = secrets.token_hex(8)
        own = isinstance(network, Link)
        config = {
            "lowers": [str(p) for p in lowers],
            "upper": str(d / "upper"),
            "work": str(d / "work"),
            "root": str(d / "root"),
            "hostname": hostname,
            "user_data": user_data.hex() if user_data else None,
            "generation": generation,
            "privileged": not rootless(),
            "network": OWN_NETWORK if own else network,
            "resolver": RESOLVER_ADDRESS if own else None,
            "volumes": [v.config() for v in volumes or []],
            "limits": asdict(limit) if limit else None,
            "service": _service_config(service),
        }
        _write_atomic(d / "config.json", json.dumps(config))
        monitor, port, plugged = self._start_monitor(own, service is not None)
        go = os.fdopen(plugged, "wb") if plugged is not None else None
        try:
            record = {"pid": monitor.pid, "identity": identity_of(monitor.pid)}
            _write_atomic(d / MONITOR_FILE, json.dumps(record))
            if isinstance(network, Link) and go is not None:
                with go:  # while the monitor starts
                    network_plug(d, network, generation, port)
                    go.write(b"1")  # closed unwritten on failure: the monitor gives up
            return self._wait_for_boot(monitor, generation)
        except BaseException:
            if go is not None:
                go.close()
            monitor.kill()
            (d / STATE_FILE).unlink(missing_ok=True)
            if own:
                network_unplug(d, generation)
            raise
        finally:
            monitor.close()

    def _start_monitor(
        self, own_network: bool, serves: bool
    ) -> tuple[monitors.Monitor, int | None, int | None]:
        """Start the sandbox's monitor with its console log, and for its own
        network the pipe the plug is signalled on and the metadata service's
        socket; the monitor, that socket's port and the pipe's end to signal on."""
        listener = metadata_listener() if own_network and serves else None
        port = listener.getsockname()[1] if listener is not None else None
        ready, plugged = os.pipe() if own_network else (None, None)
        try:
            with open(self.console_path, "ab") as console:
                descriptors = {"console": console.fileno()}
                if ready is not None:
                    descriptors["ready"] = ready
                if listener is not None:
                    descriptors["service"] = listener.fileno()
                monitor = monitors.start(self.directory / "config.json", descriptors)
        except BaseException:
            _close(plugged)
            raise
        finally:  # the monitor has its own
            _close(ready)
            if listener is not None:
                listener.close()
        return monitor, port, plugged

    def _wait_for_boot(self, monitor: monitors.Monitor, generation: str) -> int:
        """Until init announces this boot (its generation) in init.json."""
        deadline = time.monotonic() + BOOT_SECONDS
        while time.monotonic() < deadline:
            state = self._state()
            if state is not None and state.get("generation") == generation:
                pid = self.init_pid()
                if pid is not None:
                    return pid
            if not monitor.alive():
                raise SandboxError(f"the sandbox exited at boot: {self._console_tail()}")
            time.sleep(0.002)  # a boot takes tens of ms: each poll is one stat
        raise SandboxError(
            f"the sandbox did not boot in {BOOT_SECONDS:.0f} s: {self._console_tail()}"
        )

    def _console_tail(self) -> str:
        lines = self.console_path.read_text(errors="replace").strip().splitlines()
        return lines[-1] if lines else "(no output)"

    def _state(self) -> dict[str, Any] | None:
        """What init announced for its boot (init.json), if it did."""
        try:
            state: dict[str, Any] = json.loads((self.directory / STATE_FILE).read_text())
        except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
            return None
        return state

    def init_pid(self) -> int | None:
        """init's host PID if the sandbox is running."""
        state = self._live_state()
        return None if state is None else int(state["pid"])

    def _live_state(self) -> dict[str, Any] | None:
        """init.json if its init is running (checked against boot and start
        time, so a reused PID or a rebooted host reads as stopped)."""
        state = self._state()
        if state is None or identity_of(state["pid"]) != state["identity"]:
            return None
        return state

    def running(self) -> bool:
        return self.init_pid() is not None

    def shutdown_reason(self) -> str | None:
        """How the instance shut itself down ("poweroff", "halt", "reboot"), if it did."""
        try:
            return (self.directory / SHUTDOWN_FILE).read_text().strip() or None
        except (FileNotFoundError, NotADirectoryError):
            return None

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Ask init to stop everything inside (SIGTERM), SIGKILL after `timeout`;
        then nothing of the sandbox runs: not init, not a process left in its
        PID namespace (held open meanwhile, so its number cannot pass to
        another sandbox's namespace while we look)."""
        namespace, pid = self._hold_namespace()
        try:
            if pid is not None:
                (self.directory / STOP_REQUEST).touch()
                with suppress(ProcessLookupError):
                    os.kill(pid, self._stop_signal())
                if not _ended(pid, timeout):
                    with suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)  # the namespace and its mounts go with it
                    _ended(pid, None)
                while self.running():  # ended; until `unshare` has collected it
                    time.sleep(0.005)
            if namespace is not None:
                _kill_all(namespace)
        finally:
            if namespace is not None:
                os.close(namespace)
        self._end_monitor()
        # stop-requested stays until the next boot: the monitor must not take this
        # stop for a shutdown from inside
        (self.directory / STATE_FILE).unlink(missing_ok=True)
        if self._config().get("network") == OWN_NETWORK:  # its monitor does it too, maybe later
            network_unplug(self.directory, self._config()["generation"])

    def ended(self, timeout: float = 2.0) -> bool:
        """Whether it does not run, once its monitor has recorded how it ended
        (a shutdown from inside?), which it does a few milliseconds after init
        ends, then removes init.json: waits up to `timeout` for that."""
        deadline = time.monotonic() + timeout
        while not self.running():
            recorded = self._state() is None or self._monitor() is None
            if recorded or time.monotonic() > deadline:
                return True
            time.sleep(0.005)
        return False

    def _monitor(self) -> int | None:
        """The PID of its monitor while that runs (per monitor.json)."""
        try:
            record = json.loads((self.directory / MONITOR_FILE).read_text())
        except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
            return None
        pid = int(record["pid"])
        return pid if identity_of(pid) == record["identity"] else None

    def _end_monitor(self) -> None:
        """Wait for the monitor of the sandbox that just ended to finish its
        cleanup (SIGKILL after `STOP_SECONDS`): nothing of the sandbox runs on."""
        pid = self._monitor()
        if pid is not None and not _ended(pid, STOP_SECONDS):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        (self.directory / MONITOR_FILE).unlink(missing_ok=True)

    def _stop_signal(self) -> int:
        """What asks its init to stop: SIGTERM for ours, a poweroff for systemd."""
        state = self._state() or {}
        return STOP_SIGNAL if state.get("init") == "systemd" else signal.SIGTERM

    def _hold_namespace(self) -> tuple[int | None, int | None]:
        """An open descriptor of the running init's PID namespace, and init's PID
        (None, None when it does not run)."""
        pid = self.init_pid()
        if pid is None:
            return None, None
        try:
            namespace = os.open(f"/proc/{pid}/ns/pid", os.O_RDONLY)
        except OSError:
            return None, None
        if self.init_pid() != pid:  # it ended, and the PID may be another's now
            os.close(namespace)
            return None, None
        return namespace, pid

    def run(
        self,
        script: str,
        workdir: str = "/",
        timeout: float = 3600,
        started: Callable[[int], None] | None = None,
        progress: Callable[[bytes, bytes], None] | None = None,
    ) -> Completed:
        """Run a shell script inside the sandbox; its output and exit code.
        `started` gets the process group id, which `cancel` stops; `progress`
        gets the output so far, every `PROGRESS_SECONDS` while it runs."""
        state = self._live_state()
        if state is None:
            raise SandboxError(f"{self.directory.name} is not running")
        shell = ["/bin/sh", "-c", f"cd -- {shlex.quote(workdir)} || exit 1\n{script}"]
        command = [*self._entering(state), *shell]
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/root",
            "PWD": "/",
        }
        # Files, not pipes: the command is done when the shell exits, even if it
        # left a background process holding its output open (as SSM does).
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                start_new_session=True,
            )
            if started is not None:
                started(process.pid)
            deadline = time.monotonic() + timeout
            code, timed_out = None, False
            while code is None:
                try:
                    wait = max(0.0, min(PROGRESS_SECONDS, deadline - time.monotonic()))
                    code = process.wait(timeout=wait)
                except subprocess.TimeoutExpired:
                    if time.monotonic() >= deadline:
                        os.killpg(process.pid, signal.SIGKILL)
                        code, timed_out = process.wait(), True
                    elif progress is not None:
                        progress(_contents(out), _contents(err))
            return Completed(code, _contents(out), _contents(err), timed_out)

    def attach(self, volume: Volume) -> None:
        """Mount a volume into the running sandbox (`hotplug.py`)."""
        config = volume.config()
        options = overlay_options(
            [str(p) for p in volume.lowers],
            str(config["upper"]),
            str(config["work"]),
            privileged=not rootless(),
        )
        self._hotplug("attach", {"options": options, "mountpoint": volume.mountpoint})

    def detach(self, mountpoint: str) -> None:
        """Unmount a volume from the running sandbox (lazily: it goes once
        nothing inside uses it)."""
        self._hotplug("detach", {"mountpoint": mountpoint})

    def _hotplug(self, action: str, request: dict[str, Any]) -> None:
        pid = self.init_pid()
        if pid is None:
            raise SandboxError(f"{self.directory.name} is not running")
        request = {**request, "rootless": rootless()}
        command = [sys.executable, "-m", "amiable.runtime.hotplug", action, str(pid)]
        done = subprocess.run([*command, json.dumps(request)], capture_output=True, text=True)
        if done.returncode != 0:
            raise SandboxError(f"{action} in {self.directory.name}: {done.stderr.strip()}")

    @staticmethod
    def cancel(group: int) -> None:
        """Stop a command `run` started (its whole process group)."""
        with suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)

    def _entering(self, state: dict[str, Any]) -> list[str]:
        """The command prefix that runs what follows inside the boot `state`
        names, in init's namespaces and root (its own /, not the host's),
        without the capabilities a sandbox never gets (`inside.py`). A rootless
        sandbox has none of them to drop: nsenter enters its user namespace first."""
        pid, own_network = int(state["pid"]), self._own_network()
        if rootless():
            options = _namespace_options(own_network=own_network)
            return ["nsenter", f"--target={pid}", *options, "--root", "--wd"]
        return command_prefix(pid, own_network, systemd=state.get("init") == "systemd")

    def _own_network(self) -> bool:
        return self._config().get("network", True) not in (True, HOST_NETWORK)

    def _config(self) -> dict[str, Any]:
        try:
            config: dict[str, Any] = json.loads((self.directory / "config.json").read_text())
        except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
            return {}
        return config

    def console(self) -> bytes:
        return self.console_path.read_bytes() if self.console_path.exists() else b""

    def destroy(self) -> None:
        """Stop it and remove its directory: its changes are gone."""
        self.stop()
        network_unplug(self.directory)
        shutil.rmtree(self.directory, ignore_errors=True)


def _close(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)


def _service_config(service: HostService | None) -> dict[str, Any] | None:
    if service is None:
        return None
    return {"target": service.target, "argument": service.argument}


def _contents(file: IO[bytes]) -> bytes:
    file.seek(0)
    return file.read()


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    temporary.write_text(text)
    os.rename(temporary, path)


def _ended(pid: int, timeout: float | None) -> bool:
    """Wait until the process ends (woken by its pidfd) or `timeout` passes;
    whether it ended."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([handle], [], [], timeout)[0])
    finally:
        os.close(handle)


def _processes_in(namespace: int) -> list[int]:
    """Host PIDs of the processes in the PID namespace open as `namespace`."""
    inode, found = os.fstat(namespace).st_ino, []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with suppress(OSError):
                if os.stat(f"/proc/{entry.name}/ns/pid").st_ino == inode:
                    found.append(int(entry.name))
    return found


def _kill_all(namespace: int) -> None:
    """SIGKILL whatever is left in a sandbox's PID namespace (normally nothing:
    the kernel kills it all when its init dies) until it is empty."""
    if os.fstat(namespace).st_ino == os.stat("/proc/self/ns/pid").st_ino:
        return  # never the host's own namespace
    deadline = time.monotonic() + STOP_SECONDS
    while (left := _processes_in(namespace)) and time.monotonic() < deadline:
        for pid in left:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
