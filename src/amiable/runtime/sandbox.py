"""A sandbox: one instance's directory, its init process, and commands run in it.

```
<dir>/
  upper/ work/     the overlay's writable layer: the instance's changes
  root/            the mount point of its root (mounted only inside it)
  config.json      what init needs; init.pid: init's host PID while it runs
  console.log      init's output: boot, user data, shutdown
```

The sandbox runs `unshare --mount --pid --uts --ipc --fork` (and `--net`
without network) in a new session, so it outlives the process that started
it. Commands enter it with `nsenter --root`: they see the instance's files,
hostname and processes, never the host's.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO

from .errors import RuntimeUnavailable, SandboxError
from .mounts import overlay_options, redirect_dir_default_off

STOP_SECONDS = 10.0
PROGRESS_SECONDS = 0.5
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


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


def _namespace_options(mount_only: bool = False, own_network: bool = False) -> list[str]:
    """nsenter's options to enter a sandbox's namespaces (its user namespace
    first, when rootless; its network namespace when it has its own)."""
    user = ["--user", "--preserve-credentials"] if rootless() else []
    if mount_only:
        return [*user, "--mount"]
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
        network: bool = True,
    ) -> int:
        """Boot the sandbox; returns init's host PID once its root is mounted."""
        require_support()
        if self.running():
            raise SandboxError(f"{self.directory.name} is already running")
        d = self.directory
        for sub in ("upper", "work", "root"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        pid_file = d / "init.pid"
        pid_file.unlink(missing_ok=True)
        config = {
            "lowers": [str(p) for p in lowers],
            "upper": str(d / "upper"),
            "work": str(d / "work"),
            "root": str(d / "root"),
            "hostname": hostname,
            "user_data": user_data.hex() if user_data else None,
            "pid_file": str(pid_file),
            "privileged": not rootless(),
            "network": network,
            "volumes": [v.config() for v in volumes or []],
        }
        (d / "config.json").write_text(json.dumps(config))
        command = ["unshare", "--mount", "--pid", "--uts", "--ipc", "--fork"]
        if rootless():  # root inside, this user outside: files this user owns are root's
            command[1:1] = ["--user", "--map-root-user"]
        if not network:
            command.append("--net")
        command += [sys.executable, "-m", "amiable.runtime.init", str(d / "config.json")]
        with open(self.console_path, "ab") as console:
            launcher = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=console,
                start_new_session=True,
                close_fds=True,
            )
        return self._wait_for_boot(launcher, pid_file)

    def _wait_for_boot(self, launcher: subprocess.Popen[bytes], pid_file: Path) -> int:
        deadline = time.monotonic() + 30
        booted = b"booted"
        while time.monotonic() < deadline:
            if launcher.poll() is not None:
                raise SandboxError(f"the sandbox exited at boot: {self._console_tail()}")
            if pid_file.exists() and booted in self.console_path.read_bytes()[-4096:]:
                pid = int(pid_file.read_text())
                (self.directory / "init.id").write_text(_identity(pid))
                return pid
            time.sleep(0.02)
        launcher.kill()
        raise SandboxError(f"the sandbox did not boot in 30 s: {self._console_tail()}")

    def _console_tail(self) -> str:
        lines = self.console_path.read_text(errors="replace").strip().splitlines()
        return lines[-1] if lines else "(no output)"

    def init_pid(self) -> int | None:
        """init's host PID if the sandbox is running (checked against boot and
        start time, so a reused PID or a rebooted host reads as stopped)."""
        try:
            pid = int((self.directory / "init.pid").read_text())
            expected = (self.directory / "init.id").read_text()
        except (FileNotFoundError, ValueError):
            return None
        return pid if _identity(pid) == expected else None

    def running(self) -> bool:
        return self.init_pid() is not None

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """SIGTERM to init (which stops everything inside), SIGKILL after `timeout`."""
        pid = self.init_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.running():
            os.kill(pid, signal.SIGKILL)  # the namespace and its mounts go with it
            while self.running():
                time.sleep(0.05)
        (self.directory / "init.pid").unlink(missing_ok=True)

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
        pid = self.init_pid()
        if pid is None:
            raise SandboxError(f"{self.directory.name} is not running")
        command = [
            "nsenter",
            f"--target={pid}",
            *_namespace_options(own_network=self._own_network()),
            "--root",
            f"--wd={workdir}",
            "/bin/sh",
            "-c",
            script,
        ]
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/root",
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
        """Mount a volume into the running sandbox (its mount namespace)."""
        config = volume.config()
        target = str(self.directory / "root") + "/" + volume.mountpoint.lstrip("/")
        options = overlay_options(
            [str(p) for p in volume.lowers],
            str(config["upper"]),
            str(config["work"]),
            privileged=not rootless(),
        )
        self._in_namespace(["mkdir", "-p", target])
        self._in_namespace(["mount", "-t", "overlay", "overlay", "-o", options, target])

    def detach(self, mountpoint: str) -> None:
        """Unmount a volume from the running sandbox."""
        target = str(self.directory / "root") + "/" + mountpoint.lstrip("/")
        self._in_namespace(["umount", "--lazy", target])

    def _in_namespace(self, command: list[str]) -> None:
        """A host tool inside the sandbox's mount namespace (the host's paths, not
        its root), for mounting."""
        pid = self.init_pid()
        if pid is None:
            raise SandboxError(f"{self.directory.name} is not running")
        done = subprocess.run(
            ["nsenter", f"--target={pid}", *_namespace_options(mount_only=True), *command],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SandboxError(f"{command[0]} in {self.directory.name}: {done.stderr.strip()}")

    @staticmethod
    def cancel(group: int) -> None:
        """Stop a command `run` started (its whole process group)."""
        with suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)

    def _own_network(self) -> bool:
        config = json.loads((self.directory / "config.json").read_text())
        return not config.get("network", True)

    def console(self) -> bytes:
        return self.console_path.read_bytes() if self.console_path.exists() else b""

    def destroy(self) -> None:
        """Stop it and remove its directory: its changes are gone."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _contents(file: IO[bytes]) -> bytes:
    file.seek(0)
    return file.read()


def _identity(pid: int) -> str:
    """`<boot id> <start time>` of a process, '' if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return ""
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):  # exited, not yet reaped
        return ""
    start = fields[19]
    boot = _BOOT_ID.read_text().strip() if _BOOT_ID.exists() else ""
    return f"{boot} {start}"
