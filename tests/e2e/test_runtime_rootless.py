"""Sandboxes as a normal user, through a user namespace. Needs root to make
that user, a system Python of this minor version it can run, and a kernel
that allows overlayfs in user namespaces; skips saying which is missing."""

import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import amiable
from helpers import require_root

USER = "amiable-rootless"
SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from amiable.runtime.cache import materialize
from amiable.runtime.sandbox import Sandbox
from amiable.store import Store
from busybox import busybox_root

base = Path({base!r})
store = Store.init(base / "store")
snapshot = store.snapshot(busybox_root(base / "tree")).id
box = Sandbox(base / "i-1")
lowers = materialize(store, snapshot, base / "cache", None)
box.start(lowers, "i-1", user_data=b"echo ud > /root/ud")
done = box.run("id -u; hostname; cat /root/ud; echo changed > /etc/os-release")
box.stop()
print(done.exit_code, done.stdout.decode().split(), box.running())
"""


def _python() -> str:
    system = shutil.which("python3", path="/usr/bin:/bin")
    if system is None:
        pytest.skip("needs a system python3 a normal user can run")
    version = subprocess.run(
        [system, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
    ).stdout.strip()
    if version != str(sys.version_info[:2]):
        pytest.skip(f"needs a system Python {sys.version_info[:2]}, found {version}")
    return system


@pytest.fixture
def base() -> Iterator[Path]:
    """A directory the normal user owns (pytest's are root's only)."""
    require_root("making a normal user to run as")
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", USER], check=True)
    directory = Path(tempfile.mkdtemp(prefix="amiable-rootless-"))
    shutil.chown(directory, USER)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_a_normal_user_runs_a_sandbox(base: Path) -> None:
    python = _python()
    tests = str(Path(__file__).resolve().parents[1])
    script = base / "run.py"
    script.write_text(textwrap.dedent(SCRIPT).format(tests=tests, base=str(base / "work")))
    src = str(Path(amiable.__file__).resolve().parents[1])
    env = f"PYTHONPATH={src}:{sysconfig.get_paths()['purelib']}"
    probe = subprocess.run(
        ["runuser", "-u", USER, "--", "env", env, python, "-c", "import amiable, sqlalchemy"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"this checkout or its venv is not readable by a normal user ({src})")
    done = subprocess.run(
        ["runuser", "-u", USER, "--", "env", env, python, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if "user namespaces" in done.stderr or "redirect_dir" in done.stderr:
        pytest.skip(done.stderr.strip().splitlines()[-1])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0 ['0', 'i-1', 'ud'] False"
    upper = base / "work" / "i-1" / "upper"
    assert (upper / "etc" / "os-release").read_text() == "changed\n"
    assert (upper / "etc" / "os-release").stat().st_uid == pwd.getpwnam(USER).pw_uid
