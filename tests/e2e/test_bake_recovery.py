"""`ami bake` as CI runs it (the command line, a process of its own) and
what is left when it is stopped: kill -9 at every stage and then the same
command again; Ctrl-C and SIGTERM (exit 130, then continued); `ami bake
sweep` once the journal is lost; a failing step (2), a failing test (3), a
region whose key is disabled (4, then resumed once it is enabled); and a
whole bake through `ami serve` with `--endpoint-url`."""

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from serving import start_server

import amiable
from amiable.cloud.core.home import Cloud
from amiable.tools.bake import tags
from amiable.tools.bake.journal import ENDED
from api_helpers import OTHER, base_image, terminate_all
from busybox import busybox_root
from helpers import ami_command, require_root

REGIONS = ("us-east-1", "eu-west-1")
PARAMETER = "/golden/web/latest"
RECIPE = """\
name: web
version: "1.0"
base: {owners: [amazon], name: "base-*"}
build:
  steps:
    - run: "mkdir -p /srv/www && echo hello > /srv/www/index.html"
    - copy: {src: site/, dest: /srv/www/site/}
    - run: "echo built"
tests:
  - {name: page, run: "grep -q hello /srv/www/index.html"}
  - {name: site, run: "test -s /srv/www/site/about.html"}
image:
  name: "web-{{ version }}-{{ timestamp }}"
distribute:
  regions: [us-east-1, eu-west-1]
  accounts: ["{other}"]
  parameter: /golden/web/latest
  verify: true
""".replace("{other}", OTHER)
FAILING_TEST = "echo where is it; test -s /srv/www/site/gone.html"


@dataclass
class Baker:
    """`ami --home HOME bake RECIPE` as a process, its stderr in a file."""

    home: Path
    recipe: Path
    endpoint: tuple[str, ...] = ()

    @property
    def state(self) -> Path:
        return self.home.parent / "state"

    def command(self, *args: str) -> list[str]:
        where = self.endpoint or ("--home", str(self.home))
        return ami_command(*where, "bake", *args)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "AMI_STATE_DIR": str(self.state),
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_CONFIG_FILE": str(self.home.parent / "no-aws-config"),
        }

    def start(self, log: Path) -> "subprocess.Popen[bytes]":
        with log.open("wb") as stderr:
            return subprocess.Popen(
                self.command(str(self.recipe)),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=self.env(),
            )

    def run(self, *args: str) -> "subprocess.CompletedProcess[str]":
        return subprocess.run(
            self.command(*args), capture_output=True, text=True, env=self.env(), timeout=300
        )

    def ended(self) -> bool:
        """Whether its build ended (published, or failed for good)."""
        journals = (self.state / "bakes").glob("*.json")
        return any(json.loads(j.read_text())["status"] in ENDED for j in journals)

    def ec2(self, region: str = "us-east-1") -> Any:
        return amiable.Session(home=self.home, region=region).client("ec2")

    def client(self, service: str, region: str = "us-east-1") -> Any:
        return amiable.Session(home=self.home, region=region).client(service)


@pytest.fixture
def baker(tmp_path: Path) -> Iterator[Baker]:
    require_root("the bake's instances run in namespaces with overlayfs")
    home = tmp_path / "home"
    cloud = Cloud(home)
    cloud.accounts.create(OTHER, "other", "AKIAOTHER", "other-secret")
    base_image(cloud, "us-east-1", busybox_root(tmp_path / "rootfs"), "base-1")
    cloud.close()
    folder = tmp_path / "recipe"
    (folder / "site").mkdir(parents=True)
    (folder / "site" / "about.html").write_text("<p>about</p>\n")
    (folder / "web.yaml").write_text(RECIPE)
    made = Baker(home, folder / "web.yaml")
    yield made
    for region in REGIONS:
        terminate_all(made.ec2(region))


def new_stage(process: "subprocess.Popen[bytes]", log: Path, seen: set[str]) -> str | None:
    """The first stage line in `log` not in `seen` (added to it); None if the
    bake ends first."""
    while True:
        done = process.poll() is not None
        for line in log.read_text(errors="replace").splitlines():
            title = line.removeprefix("==> ")
            if title == line or title.startswith(("bake ", "continuing build")):
                continue
            if title not in seen:
                seen.add(title)
                return title
        if done:
            return None
        time.sleep(0.01)


def wait_for_stage(
    process: "subprocess.Popen[bytes]", log: Path, seen: set[str], prefix: str
) -> None:
    """Until a stage starting with `prefix` begins (not one in `seen`)."""
    while True:
        title = new_stage(process, log, seen)
        assert title is not None, f"no stage {prefix!r}: {log.read_text()}"
        if title.startswith(prefix):
            return


def interrupt_at_every_stage(baker: Baker, tmp_path: Path, signum: int) -> list[str]:
    """Run the bake again and again, stopping it with `signum` as each stage
    not stopped before starts, until one run finishes; the stages stopped."""
    seen: set[str] = set()
    stopped = []
    for attempt in range(40):
        log = tmp_path / f"bake-{attempt}.log"
        process = baker.start(log)
        title = new_stage(process, log, seen)
        if title is None:
            assert process.wait() == 0, log.read_text()
            return stopped
        process.send_signal(signum)
        status = process.wait(timeout=120)
        if status == 0 or baker.ended():  # it published before the signal landed
            return stopped
        expected = -signal.SIGKILL if signum == signal.SIGKILL else 130
        assert status == expected, log.read_text()
        stopped.append(title)
    raise AssertionError(f"the bake never finished; stopped at {stopped}")


def own(baker: Baker, region: str, kind: str) -> list[dict[str, Any]]:
    ec2 = baker.ec2(region)
    if kind == "images":
        return list(ec2.describe_images(Owners=["self"])["Images"])
    if kind == "snapshots":
        return list(ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"])
    reservations = ec2.describe_instances(
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running", "stopped"]}]
    )["Reservations"]
    return [i for r in reservations for i in r["Instances"]]


def roles(baker: Baker, region: str) -> list[str]:
    """What each of the account's images in `region` is to the bake."""
    found = own(baker, region, "images")
    return sorted(tags.of(i).get(tags.STATUS, "") or tags.of(i)[tags.ROLE] for i in found)


def assert_no_leftovers(baker: Baker) -> None:
    """No instance, no staged image and no snapshot that no image uses."""
    for region in REGIONS:
        assert own(baker, region, "instances") == []
        assert {*roles(baker, region)} <= {"published", "cache"}
        used = {
            m["Ebs"]["SnapshotId"]
            for i in own(baker, region, "images")
            for m in i["BlockDeviceMappings"]
            if "Ebs" in m
        }
        assert {s["SnapshotId"] for s in own(baker, region, "snapshots")} == used


def assert_published_once(baker: Baker) -> dict[str, Any]:
    """Exactly one published image per region, shared and named by the
    parameter there; the manifest says so."""
    manifest = json.loads((baker.recipe.parent / "web.manifest.json").read_text())
    assert manifest["status"] == "published"
    for region in REGIONS:
        published = [
            i["ImageId"]
            for i in own(baker, region, "images")
            if tags.of(i).get(tags.STATUS) == "published"
        ]
        assert published == [manifest["images"][region]]
        permissions = baker.ec2(region).describe_image_attribute(
            ImageId=published[0], Attribute="launchPermission"
        )["LaunchPermissions"]
        assert permissions == [{"UserId": OTHER}]
        history = baker.client("ssm", region).get_parameter_history(Name=PARAMETER)
        assert {p["Value"] for p in history["Parameters"]} == {published[0]}
    return dict(manifest)


def swept(baker: Baker, *args: str) -> dict[str, list[str]]:
    done = baker.run("sweep", "--regions", ",".join(REGIONS), "--json", *args)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def failed(done: "subprocess.CompletedProcess[str]", status: int) -> str:
    assert done.returncode == status, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


def test_kill_9_at_every_stage_then_the_same_command_publishes_once(
    baker: Baker, tmp_path: Path
) -> None:
    stopped = interrupt_at_every_stage(baker, tmp_path, signal.SIGKILL)
    # Each kill lands as a stage begins, or a little later (a fast stage may
    # be over): which stages were hit depends on timing, what is left never.
    assert len(stopped) >= 3, stopped
    assert_published_once(baker)
    assert_no_leftovers(baker)
    assert swept(baker) == {"builds": [], "images": [], "instances": [], "snapshots": []}


def test_ctrl_c_and_sigterm_exit_130_and_the_same_command_continues(
    baker: Baker, tmp_path: Path
) -> None:
    seen: set[str] = set()
    for number, signum in enumerate((signal.SIGINT, signal.SIGTERM)):
        log = tmp_path / f"stopped-{number}.log"
        process = baker.start(log)
        wait_for_stage(process, log, seen, ("step 2/3", "verify every copy")[number])
        process.send_signal(signum)
        assert process.wait(timeout=120) == 130
        said = log.read_text()
        assert said.splitlines()[-1] == (
            "error: interrupted; run the same command again to continue the build"
        )
        assert "Traceback" not in said
        for region in REGIONS:  # its instances are gone, what it staged is kept
            assert own(baker, region, "instances") == []
    assert "staged" in roles(baker, "us-east-1")
    done = baker.run(str(baker.recipe))
    assert done.returncode == 0, done.stderr
    assert "==> continuing build" in done.stderr
    assert_published_once(baker)
    assert_no_leftovers(baker)


def test_sweep_removes_what_a_killed_build_left_with_its_journal_lost(
    baker: Baker, tmp_path: Path
) -> None:
    text = baker.recipe.read_text()  # a test slow enough to be caught at
    baker.recipe.write_text(text.replace("tests:\n", "tests:\n  - {name: slow, run: sleep 5}\n"))
    log = tmp_path / "killed.log"
    process = baker.start(log)
    wait_for_stage(process, log, set(), "verify every copy")
    while not own(baker, "eu-west-1", "instances"):  # a copy's test instance
        assert process.poll() is None, log.read_text()
        time.sleep(0.05)
    process.kill()
    process.wait()
    for journal in (baker.state / "bakes").iterdir():
        journal.unlink()
    assert roles(baker, "us-east-1") == ["cache", "cache", "cache", "staged"]
    removed = swept(baker)
    assert len(removed["builds"]) == 1
    assert len(removed["instances"]) == 1
    assert len(removed["images"]) == 2  # the candidate and its copy
    assert_no_leftovers(baker)
    assert roles(baker, "us-east-1") == ["cache", "cache", "cache"]
    assert roles(baker, "eu-west-1") == []
    again = swept(baker, "--cache-older-than", "0s")
    assert len(again["images"]) == 3
    for region in REGIONS:
        assert own(baker, region, "images") == []
        assert own(baker, region, "snapshots") == []


def test_a_failing_step_exits_2_and_a_failing_test_3_leaving_nothing_staged(
    baker: Baker,
) -> None:
    text = baker.recipe.read_text()
    baker.recipe.write_text(text.replace('"echo built"', '"echo no space left >&2; exit 7"'))
    said = failed(baker.run(str(baker.recipe)), 2)
    assert "no space left" in said
    assert said.splitlines()[-1] == (
        "error: step 3 (run: echo no space left >&2; exit 7) failed: exit status 7"
    )
    assert_no_leftovers(baker)
    assert roles(baker, "us-east-1") == ["cache", "cache"]

    baker.recipe.write_text(text.replace("test -s /srv/www/site/about.html", FAILING_TEST))
    said = failed(baker.run(str(baker.recipe)), 3)
    assert "where is it" in said
    assert "site" in said.splitlines()[-1]
    assert_no_leftovers(baker)
    assert roles(baker, "us-east-1") == ["cache", "cache", "cache"]
    for region in REGIONS:
        parameters = baker.client("ssm", region).get_parameters(Names=[PARAMETER])
        assert parameters["InvalidParameters"] == [PARAMETER]


def test_a_disabled_key_exits_4_and_once_enabled_the_same_candidate_is_published(
    baker: Baker,
) -> None:
    keys = {r: baker.client("kms", r).create_key()["KeyMetadata"]["Arn"] for r in REGIONS}
    kms = baker.client("kms", "eu-west-1")
    kms.disable_key(KeyId=keys["eu-west-1"])  # it exists (the checks pass), but cannot encrypt
    text = baker.recipe.read_text()
    baker.recipe.write_text(
        text.replace("image:\n", f"image:\n  encrypted: true\n  kms_key_id: {json.dumps(keys)}\n")
    )
    said = failed(baker.run(str(baker.recipe)), 4)
    assert "copy failed (eu-west-1: " in said.splitlines()[-1]
    (candidate,) = [
        i["ImageId"]
        for i in own(baker, "us-east-1", "images")
        if tags.of(i)[tags.ROLE] == "candidate"
    ]
    assert own(baker, "eu-west-1", "images") == []
    kms.enable_key(KeyId=keys["eu-west-1"])
    done = baker.run(str(baker.recipe))
    assert done.returncode == 0, done.stderr
    assert "==> continuing build" in done.stderr
    manifest = assert_published_once(baker)
    assert manifest["images"]["us-east-1"] == candidate
    assert_no_leftovers(baker)


def test_a_bake_through_ami_serve(baker: Baker) -> None:
    server = start_server(baker.home)
    try:
        baker.endpoint = ("--endpoint-url", server.url)
        done = baker.run(str(baker.recipe), "--json")
        assert done.returncode == 0, done.stderr
        manifest = json.loads(done.stdout)
        assert manifest["cache"] == {"hits": 0, "misses": 3}
        assert_published_once(baker)
        assert_no_leftovers(baker)
    finally:
        server.stop()
