"""A real `ami serve` on a free loopback port, and the real AWS CLI against it;
every test fails if its instances leave a process or a mount behind."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from serving import Server, start_server

import amiable
from amiable.cloud.core.home import Cloud
from api_helpers import cloud_with_other_account, terminate_all
from busybox import busybox_root
from console_browser import browser_tab, chromium, require_chromium
from helpers import require_root
from instance_leaks import leftovers

if TYPE_CHECKING:  # playwright is a dev dependency, imported only where Chromium runs
    from playwright.sync_api import Browser, Page


@pytest.fixture(autouse=True)
def no_leftovers(tmp_path: Path) -> Iterator[None]:
    yield
    left = leftovers(tmp_path)
    assert not left, "instances left behind:\n" + "\n".join(left)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Server]:
    """`ami serve` for the console's tests, on a data home with a second account
    (OTHER, key AKIAOTHER)."""
    require_chromium()
    home = tmp_path / "home"
    cloud_with_other_account(home).close()
    server = start_server(home)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator["Browser"]:
    """One headless Chromium per test process (each test has its own context)."""
    require_chromium()
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(console: Server, browser: "Browser") -> Iterator["Page"]:
    """A fresh browser tab once `console` serves (a JavaScript dialog fails the test)."""
    with browser_tab(browser) as tab:
        yield tab


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    server = start_server(tmp_path / "home")
    try:
        yield server
    finally:
        server.stop()


REGION = "eu-central-1"


@pytest.fixture
def cloud(tmp_path: Path) -> Any:
    require_root("instances run in namespaces with overlayfs")
    cloud = cloud_with_other_account(tmp_path / "home")
    yield cloud
    terminate_all(amiable.Session(cloud=cloud, region=REGION).client("ec2"))


@pytest.fixture
def clients(cloud: Cloud) -> tuple[Any, Any]:
    session = amiable.Session(cloud=cloud, region=REGION)
    return session.client("ec2"), session.client("ssm")


@pytest.fixture
def image(clients: tuple[Any, Any], tmp_path: Path) -> str:
    ec2, _ = clients
    root = busybox_root(tmp_path / "rootfs")
    task = ec2.import_image(DiskContainers=[{"Url": f"file://{root}"}])["ImportTaskId"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = ec2.describe_import_image_tasks(ImportTaskIds=[task])["ImportImageTasks"][0]
        if found["Status"] == "completed":
            return str(found["ImageId"])
        time.sleep(0.1)
    raise AssertionError("the import did not finish")
