"""The sandbox runtime on its own: a cached image, an overlay root, namespaces,
user data, commands, stop and start. Needs root (CI runs as root)."""

import json
import os
from pathlib import Path

import pytest

from amiable.runtime import monitors
from amiable.runtime.cache import materialize
from amiable.runtime.errors import SandboxError
from amiable.runtime.sandbox import Sandbox
from amiable.store import Store
from busybox import busybox_root
from helpers import require_root


@pytest.fixture
def image(tmp_path: Path) -> Path:
    require_root("namespaces and overlayfs")
    store = Store.init(tmp_path / "store")
    snapshot = store.snapshot(busybox_root(tmp_path / "tree")).id
    (whole,) = materialize(store, snapshot, tmp_path / "cache", None)
    return whole


@pytest.fixture
def sandbox(tmp_path: Path):  # type: ignore[no-untyped-def]
    box = Sandbox(tmp_path / "instances" / "i-0123456789abcdef0")
    yield box
    box.destroy()


def test_a_sandbox_sees_its_image_not_the_host(image: Path, sandbox: Sandbox) -> None:
    sandbox.start([image], "i-0123456789abcdef0")
    done = sandbox.run("hostname; cat /etc/os-release; ls /; ps | wc -l")
    assert done.exit_code == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert lines[0] == "i-0123456789abcdef0"
    assert "ID=busybox" in lines
    assert "home" not in lines and "usr" not in lines  # the host's directories are not there
    assert int(lines[-1]) <= 6  # its own processes only
    assert sandbox.run("exit 7").exit_code == 7
    assert sandbox.run("kill -9 $$").exit_code == -9, "killed inside: killed by the same signal"
    slow = sandbox.run("sleep 5", timeout=0.5)
    assert slow.timed_out


def test_writes_stay_in_the_instance(image: Path, sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.start([image], "i-0123456789abcdef0")
    done = sandbox.run("echo changed > /etc/os-release; echo x > /../../escape; mkdir -p /new")
    assert done.exit_code == 0, done.stderr
    assert (image / "etc" / "os-release").read_text().startswith("ID=busybox")  # cache untouched
    assert (sandbox.directory / "upper" / "etc" / "os-release").read_text() == "changed\n"
    assert (sandbox.directory / "upper" / "escape").exists()  # `..` stops at the root
    assert not Path("/escape").exists()
    assert not os.path.ismount(sandbox.directory / "root")  # mounted only inside


def test_user_data_runs_once_and_changes_survive_a_restart(image: Path, sandbox: Sandbox) -> None:
    user_data = b"#!/bin/sh\necho booted-once >> /var/log/first-boot\n"
    sandbox.start([image], "i-0123456789abcdef0", user_data=user_data)
    assert sandbox.run("cat /var/log/first-boot").stdout == b"booted-once\n"
    sandbox.run("echo kept > /root/note")
    sandbox.stop()
    assert not sandbox.running()
    sandbox.start([image], "i-0123456789abcdef0", user_data=user_data)
    assert sandbox.run("cat /var/log/first-boot /root/note").stdout == b"booted-once\nkept\n"
    console = sandbox.console().decode()
    assert console.count("running user data") == 1 and "stopping" in console


def test_a_stopped_sandbox_leaves_no_process(image: Path, sandbox: Sandbox) -> None:
    pid = sandbox.start([image], "i-0123456789abcdef0")
    sandbox.run("sleep 1000 &")
    sandbox.stop()
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    assert sandbox.init_pid() is None


def test_monitors_outlive_their_zygote_and_a_dead_one_is_replaced(
    image: Path, tmp_path: Path
) -> None:
    """A sandbox's monitor is forked from this process's zygote: the sandbox
    runs on when the zygote dies, and the next boot starts a new zygote."""
    first, second = (Sandbox(tmp_path / "instances" / f"i-{n:017x}") for n in (1, 2))
    try:
        first.start([image], "i-first")
        zygote = monitors._zygote
        assert zygote is not None
        monitor = json.loads((first.directory / "monitor.json").read_text())["pid"]
        assert _parent_of(monitor) == str(zygote.process.pid)
        zygote.process.kill()
        zygote.process.wait()
        second.start([image], "i-second")
        assert monitors._zygote is not zygote and monitors._zygote is not None
        assert first.run("hostname").stdout == b"i-first\n"
        assert second.run("hostname").stdout == b"i-second\n"
    finally:
        first.destroy()
        second.destroy()


def _parent_of(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]


def test_a_zygote_that_cannot_start_says_why(
    image: Path, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The zygote's stderr is kept: a broken install's ImportError is in the
    boot's error, not only an exit code; once mended, the next boot works."""
    broken = tmp_path / "broken" / "amiable"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('this amiable is broken')\n")
    if monitors._zygote is not None:  # this worker's zygote, started before the breakage
        monitors._zygote.end()
        monitors._zygote = None
    with monkeypatch.context() as patched:
        patched.setenv("PYTHONPATH", str(broken.parent))
        with pytest.raises(SandboxError, match="ImportError: this amiable is broken"):
            sandbox.start([image], "i-0123456789abcdef0")
    sandbox.start([image], "i-0123456789abcdef0")
    assert sandbox.run("hostname").stdout == b"i-0123456789abcdef0\n"
