"""`ami bootstrap busybox` and the instance commands for people, as
subprocesses. Needs root (CI runs as root)."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import amiable
from helpers import require_root


def ami(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "amiable.cli", "--home", str(home), "--region", "us-west-1", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def out(home: Path, *args: str) -> str:
    done = ami(home, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    require_root("instances run in namespaces with overlayfs")
    return tmp_path / "home"


def test_bootstrap_launch_exec_image_terminate(home: Path) -> None:
    base = out(home, "bootstrap", "busybox", "--name", "base-busybox")
    ec2 = amiable.Session(home=home, region="us-west-1").client("ec2")
    (found,) = ec2.describe_images(Owners=["amazon"])["Images"]
    assert (found["ImageId"], found["ImageOwnerAlias"], found["Public"]) == (base, "amazon", True)

    instance = out(home, "launch", base, "--name", "web")
    assert instance.startswith("i-")
    assert "running" in out(home, "instances")
    assert out(
        home, "exec", instance, "--", "sh", "-c", "echo hello > /root/greeting; hostname"
    ) == (instance)
    failed = ami(home, "exec", instance, "--", "sh", "-c", "echo bad >&2; exit 5")
    assert (failed.returncode, failed.stderr) == (5, "bad\n")
    assert "booted" in out(home, "console", instance)

    golden = out(home, "create-image", instance, "--name", "golden")
    child = out(home, "launch", golden)
    assert out(home, "exec", child, "--", "cat", "/root/greeting") == "hello"
    tree = out(home, "lineage", golden)
    assert base in tree.splitlines()[0] and golden in tree
    assert out(home, "stop", instance) == instance
    assert out(home, "start", instance) == instance
    out(home, "terminate", instance, child)
    states = {
        i["InstanceId"]: i["State"]["Name"] for i in json.loads(out(home, "instances", "--json"))
    }
    assert states == {instance: "terminated", child: "terminated"}


def test_ami_exec_streams_output_while_the_command_runs(home: Path) -> None:
    base = out(home, "bootstrap", "busybox", "--name", "stream-base")
    instance = out(home, "launch", base)
    command = [
        sys.executable,
        "-m",
        "amiable.cli",
        "--home",
        str(home),
        "--region",
        "us-west-1",
        "exec",
        instance,
        "--",
        "sh",
        "-c",
        "echo first; sleep 4; echo second",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first == "first\n" and process.poll() is None  # shown before the command ends
    assert process.stdout.read() == "second\n"
    assert process.wait(timeout=60) == 0
    out(home, "terminate", instance)


def test_ctrl_c_on_ami_exec_cancels_the_command(home: Path) -> None:
    base = out(home, "bootstrap", "busybox", "--name", "cancel-base")
    instance = out(home, "launch", base)
    command = [sys.executable, "-m", "amiable.cli", "--home", str(home), "--region", "us-west-1"]
    script = "echo started; sleep 300; echo never"
    process = subprocess.Popen(
        [*command, "exec", instance, "--", "sh", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "started\n"
    process.send_signal(signal.SIGINT)
    interrupted = time.monotonic()
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130 and time.monotonic() - interrupted < 5
    assert len(stderr.splitlines()) == 1 and "interrupted" in stderr and "Traceback" not in stderr
    ssm = amiable.Session(home=home, region="us-west-1").client("ssm")
    (invocation,) = ssm.list_command_invocations(InstanceId=instance)["CommandInvocations"]
    assert invocation["Status"] == "Cancelled"
    assert (
        out(home, "exec", instance, "--", "sh", "-c", "ps | grep -c 'sleep 30[0]' || true") == "0"
    )
    out(home, "terminate", instance)
