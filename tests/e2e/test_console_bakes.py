"""The console's Bakes and Audit pages on a real `ami serve`, in Debian's
Chromium: one real bake (`ami --endpoint-url ... bake`, two regions) and one
real `ami audit` against the server, both keeping their journal and record
in the state directory the server reads too (AMI_STATE_DIR); the build's
stages, tests and published images (linked), the audit's findings by rule
and severity; another account sees neither; crafted or corrupt files in the
state directory are skipped, never an error page, and what they say is
shown as text. The bake launches instances: it needs root."""

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from console_setup import DEFAULT, REGION, XSS, loaded
from serving import Server, start_server

from api_helpers import OTHER, base_image, cloud_with_other_account, terminate_all
from busybox import busybox_root
from console_browser import browser_tab, require_chromium, sign_in
from helpers import ami_command, require_root
from instance_leaks import leftovers

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

REGIONS = ("us-east-1", "eu-west-1")
RECIPE = """\
name: web
version: "1.0"
base: {owners: [amazon], name: "base-*"}
build:
  steps:
    - run: "mkdir -p /srv/www && echo hello > /srv/www/index.html"
tests:
  - {name: page present, run: "test -s /srv/www/index.html"}
image:
  name: "web-{{ version }}-{{ timestamp }}"
distribute:
  regions: [us-east-1, eu-west-1]
"""


@dataclass(frozen=True)
class World:
    server: Server
    state: Path
    manifest: dict[str, Any]  # the bake's, from --json
    report: dict[str, Any]  # the audit's, from --format json

    @property
    def journals(self) -> Path:
        return self.state / "bakes"

    def url(self, path: str, region: str = REGION) -> str:
        return f"{self.server.url}/console/{region}/{path}"


def ami(server: Server, state: Path, *args: str) -> "subprocess.CompletedProcess[str]":
    """`ami --endpoint-url SERVER ARGS` as the default account, with the state directory."""
    env = {
        **os.environ,
        "AMI_STATE_DIR": str(state),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_CONFIG_FILE": str(state.parent / "no-aws-config"),
    }
    return subprocess.run(
        ami_command("--endpoint-url", server.url, *args),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A data home with a second account and a busybox base image, `ami serve`
    reading the state directory, one bake and one audit made through it."""
    require_root("the bake's instances run in namespaces with overlayfs")
    require_chromium()
    base = tmp_path_factory.mktemp("console-bakes")
    cloud = cloud_with_other_account(base / "home")
    base_image(cloud, REGION, busybox_root(base / "rootfs"), "base-1")
    cloud.close()
    state = base / "state"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AMI_STATE_DIR", str(state))  # the server process's environment
        server = start_server(base / "home")
    try:
        (base / "recipe").mkdir()
        recipe = base / "recipe" / "web.yaml"
        recipe.write_text(RECIPE)
        baked = ami(server, state, "bake", str(recipe), "--json")
        assert baked.returncode == 0, baked.stderr
        audited = ami(server, state, "audit", "--regions", ",".join(REGIONS), "--format", "json")
        assert audited.returncode in (0, 1), audited.stderr
        yield World(server, state, json.loads(baked.stdout), json.loads(audited.stdout))
    finally:
        for region in REGIONS:
            terminate_all(server.client("ec2", region=region))
        server.stop()
        left = leftovers(base)
        assert not left, "instances left behind:\n" + "\n".join(left)


@pytest.fixture
def page(world: World, browser: "Browser") -> Iterator["Page"]:
    with browser_tab(browser) as tab:
        yield tab


def journal(world: World, stem: str, **fields: Any) -> Path:
    """A journal of the default account's build on this server, as a bake
    writes it, with `fields` changed, written as `<stem>.json`; its path."""
    data: dict[str, Any] = {
        "build_id": stem,
        "name": "hand",
        "status": "failed",
        "account": DEFAULT,
        "target": f"endpoint:{world.server.url}",
        "started": "2020-01-01T00:00:00.000Z",
        "ended": "2020-01-01T00:01:30.500Z",
        "regions": [REGION],
        "stages": {"build": {"candidate": "ami-0123456789abcdef0"}},
        "times": {
            "build": {"started": "2020-01-01T00:00:00.000Z", "ended": "2020-01-01T00:01:00.000Z"},
            "test": {"started": "2020-01-01T00:01:00.000Z"},
        },
        "tests": [],
        **fields,
    }
    path = world.journals / f"{stem}.json"
    path.write_text(json.dumps(data))
    return path


Crafted = Callable[[Path], Path]


@pytest.fixture
def crafted(world: World) -> Iterator[Crafted]:
    """Files written into the state directory by hand: each path given is
    removed after the test."""
    made: list[Path] = []

    def remove_later(path: Path) -> Path:
        made.append(path)
        return path

    yield remove_later
    for path in made:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def current(page: "Page") -> str:
    """The navigation link of the page shown."""
    return page.locator('nav.side-nav a[aria-current="page"]').inner_text()


def build_rows(page: "Page") -> list[str]:
    """The Build IDs the Bakes table lists, in order."""
    return [link.inner_text() for link in loaded(page).locator("table.bakes tbody a").all()]


def section(page: "Page", heading: str) -> Any:
    return page.get_by_role("region", name=heading)


def test_the_bakes_page_lists_the_build_and_its_page_shows_stages_tests_and_images(
    world: World, page: "Page"
) -> None:
    build_id = world.manifest["build_id"]
    kept = json.loads((world.journals / f"{build_id}.json").read_text())
    assert (kept["account"], kept["target"]) == (DEFAULT, f"endpoint:{world.server.url}")
    sign_in(page, world.url("bakes"))
    assert page.url == world.url("bakes")
    assert current(page) == "Bakes"
    assert build_rows(page) == [build_id]
    row = page.get_by_role("row").filter(has_text=build_id)
    cells = [c.inner_text() for c in row.get_by_role("cell").all()]
    assert cells[0] == "web" and cells[2] == "published"
    assert cells[6] == ", ".join(REGIONS)

    page.get_by_role("link", name=build_id).click()
    assert page.url == world.url(f"bakes/{build_id}")
    assert page.get_by_role("heading", name=f"Build {build_id}").is_visible()
    assert page.locator('meta[http-equiv="refresh"]').count() == 0  # it has ended
    stages = section(page, "Stages").locator("tbody tr")
    names = [r.get_by_role("cell").first.inner_text() for r in stages.all()]
    assert names == ["build", "test", "copy", "verify", "publish", "finish"]
    for stage in stages.all():
        status, started, ended = (stage.get_by_role("cell").nth(i).inner_text() for i in (1, 2, 3))
        assert status == "done" and started.startswith("20") and ended >= started
    tests = section(page, "Tests").locator("tbody tr").all()
    shown = [tuple(t.get_by_role("cell").nth(i).inner_text() for i in (0, 1, 2)) for t in tests]
    assert shown == [(t["name"], t["region"], "Passed") for t in world.manifest["tests"]]
    assert {t["region"] for t in world.manifest["tests"]} == set(REGIONS)  # the copy verified

    images = section(page, "Published images")
    for region in REGIONS:
        image_id = world.manifest["images"][region]
        link = images.get_by_role("link", name=image_id)
        assert link.get_attribute("href") == f"/console/{region}/images/{image_id}"
    page.get_by_role("link", name=world.manifest["images"]["eu-west-1"]).click()
    assert page.url == world.url(f"images/{world.manifest['images']['eu-west-1']}", "eu-west-1")
    assert page.get_by_text("available", exact=True).first.is_visible()


def rule_rows(page: "Page") -> dict[str, list[str]]:
    """Rule id -> the cells of its row in *Findings by rule*."""
    rows = section(page, "Findings by rule").locator("table").first.locator("tbody tr").all()
    return {
        cells[0]: cells
        for cells in ([c.inner_text() for c in r.get_by_role("cell").all()] for r in rows)
    }


def test_the_audit_page_shows_the_findings_by_rule_and_severity(world: World, page: "Page") -> None:
    findings = world.report["findings"]
    assert findings, "an unencrypted, untagged image breaks some rule"
    sign_in(page, world.url("audit"))
    assert current(page) == "Audit"
    summary = section(page, "Summary")
    assert summary.get_by_text(", ".join(REGIONS), exact=True).is_visible()
    verdict = "Failed" if world.report["summary"]["failed"] else "Passed"
    assert verdict in summary.inner_text()
    counts = summary.get_by_role("table", name="Findings by severity")
    headers = [h.inner_text() for h in counts.get_by_role("columnheader").all()]
    values = [int(c.inner_text()) for c in counts.get_by_role("cell").all()]
    assert dict(zip(headers, values, strict=True)) == {
        s.capitalize(): n for s, n in world.report["summary"]["findings"].items()
    }

    titles = {r["id"]: r["title"] for r in world.report["rules"]}
    expected: dict[str, tuple[str, int]] = {}
    for finding in findings:
        severity, count = expected.get(finding["rule"], (finding["severity"], 0))
        expected[finding["rule"]] = (severity, count + 1)
    rows = rule_rows(page)
    assert {rule: (cells[2], int(cells[3])) for rule, cells in rows.items()} == expected
    assert all(rows[rule][1] == titles[rule] for rule in rows)

    unencrypted = [f for f in findings if f["rule"] == "unencrypted"]
    assert unencrypted, "the bake's images are not encrypted"
    group = section(page, f"unencrypted: {titles['unencrypted']} (medium)")
    for finding in unencrypted:
        link = group.get_by_role("link", name=finding["image_id"])
        assert link.get_attribute("href") == (
            f"/console/{finding['region']}/images/{finding['image_id']}"
        )
    assert group.locator("tbody tr").count() == len(unencrypted)
    skipped = section(page, "Skipped checks").locator("tbody tr")
    assert sum(int(r.get_by_role("cell").nth(2).inner_text()) for r in skipped.all()) == len(
        world.report["skipped"]
    )


def test_another_account_sees_neither_the_build_nor_the_audit(world: World, page: "Page") -> None:
    sign_in(page, world.url("bakes"), key="AKIAOTHER", secret="other-secret")
    assert page.get_by_text(f"Account {OTHER}", exact=True).is_visible()
    assert build_rows(page) == []
    assert f"ami --endpoint-url {world.server.url} bake" in page.inner_text("main")
    build_id = world.manifest["build_id"]
    assert page.request.get(world.url(f"bakes/{build_id}")).status == 404
    page.goto(world.url(f"bakes/{build_id}"))
    assert "No build" in page.get_by_role("alert").inner_text()
    assert page.get_by_role("region", name="Stages").count() == 0
    page.goto(world.url("audit"))
    assert "No audit yet" in page.inner_text("main")
    assert f"ami audit --endpoint-url {world.server.url}" in page.inner_text("main")


def test_crafted_and_corrupt_journals_are_skipped_and_what_they_say_is_text(
    world: World, page: "Page", crafted: Crafted
) -> None:
    crafted(world.journals / "corrupt.json").write_text('{"build_id": "corrupt", ')
    crafted(world.journals / "binary.json").write_bytes(b"\xff\xfe\x00")
    crafted(world.journals / "folder.json").mkdir()
    crafted(world.journals / "list.json").write_text("[1, 2]")
    crafted(journal(world, "evil", build_id="../../../etc/passwd"))  # not its file's name
    crafted(journal(world, "shape", stages=["build"]))
    crafted(journal(world, "times", started="yesterday"))
    crafted(journal(world, "old", account=None))  # before journals named their account
    crafted(journal(world, "elsewhere", target="home:/some/other/home"))
    crafted(journal(world, "aws", target="profile:prod"))
    nan = {"name": "t", "region": REGION, "passed": True, "seconds": float("nan")}
    crafted(journal(world, "nan", tests=[nan]))
    test = {"name": XSS, "region": REGION, "passed": False, "seconds": 1.5, "output": XSS}
    stages = {"build": {}, "publish": {"images": {REGION: XSS}}}
    crafted(journal(world, "hostile", name=XSS, error=XSS, tests=[test], stages=stages))
    sign_in(page, world.url("bakes"))
    assert build_rows(page) == [world.manifest["build_id"], "hostile"]  # newest first
    hostile = page.get_by_role("row").filter(has_text="hostile")
    assert hostile.get_by_role("cell").first.inner_text() == XSS
    hidden = ("evil", "shape", "times", "old", "elsewhere", "aws", "nan", "corrupt", "folder")
    for build_id in hidden:
        assert page.request.get(world.url(f"bakes/{build_id}")).status == 404, build_id
    for path in ("..%2F..%2Fetc%2Fpasswd", "..%2Fbakes%2Fhostile", "%2e%2e"):
        assert page.request.get(world.url(f"bakes/{path}")).status == 404, path

    page.get_by_role("link", name="hostile").click()
    assert page.get_by_role("heading", name="Build hostile").is_visible()
    cells = section(page, "Tests").locator("tbody tr").first.get_by_role("cell")
    assert [c.inner_text() for c in cells.all()] == [XSS, REGION, "Failed", "1.5 s", XSS]
    assert cells.nth(4).locator("pre").inner_text() == XSS
    assert section(page, "Error").locator("pre").inner_text() == XSS
    images = section(page, "Published images")
    assert images.get_by_role("cell", name=XSS).is_visible()
    assert images.get_by_role("link").count() == 0  # not an image id: not linked
    assert page.locator("main img").count() == 0
    stages = {
        r.get_by_role("cell").nth(0).inner_text(): r.get_by_role("cell").nth(1).inner_text()
        for r in section(page, "Stages").locator("tbody tr").all()
    }
    assert stages == {"build": "done", "publish": "done", "test": "failed"}
    assert page.get_by_text("1 min 30 s").is_visible()  # the build's duration


def test_a_running_build_refreshes_itself(world: World, page: "Page", crafted: Crafted) -> None:
    crafted(journal(world, "running", status="running", ended=None))
    sign_in(page, world.url("bakes/running"))
    refresh = page.locator('meta[http-equiv="refresh"]')
    assert refresh.count() == 1 and refresh.get_attribute("content") == "2"
    stages = section(page, "Stages").locator("tbody tr")
    assert stages.nth(1).get_by_role("cell").nth(1).inner_text() == "running"
    assert "Nothing published yet." in section(page, "Published images").inner_text()


def test_a_corrupt_audit_record_is_skipped(world: World, page: "Page", crafted: Crafted) -> None:
    records = world.state / "audits" / DEFAULT
    crafted(records / "corrupt.json").write_text("{")
    newer = {
        "account": DEFAULT,
        "target": f"endpoint:{world.server.url}",
        "finished": "2999-01-01T00:00:00.000Z",
        "regions": [REGION],
        "report": {"findings": "not a list"},
    }
    crafted(records / "newer.json").write_text(json.dumps(newer))
    sign_in(page, world.url("audit"))
    summary = section(page, "Summary")
    assert summary.get_by_text(", ".join(REGIONS), exact=True).is_visible()  # the real one
