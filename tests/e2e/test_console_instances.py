"""The console's Instances pages on a real `ami serve`, in Debian's Chromium:
the list, Start/Stop/Reboot/Terminate through their confirmations (seen
through boto3), the console output shown as text, and Actions → Image and
templates → Create image followed to the new image until it is available.
Instances need root (they run in namespaces with overlayfs); every one
launched is terminated by the fixture."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from instance_api import FAST
from serving import Server, start_server

import amiable
from api_helpers import base_image, cloud_with_other_account, terminate_all
from busybox import busybox_root
from console_browser import (
    VIEWPORT,
    chromium,
    post,
    require_chromium,
    screenshot,
    session_cookie,
    sign_in,
)
from helpers import require_root

if TYPE_CHECKING:
    from playwright.sync_api import Page

REGION = "us-east-1"
XSS = "<img src=x onerror=alert(1)>"
PATIENCE = 60_000  # ms: an image's capture, a boot


class Console:
    """`ami serve` with a public busybox base image, and the instances launched."""

    def __init__(self, server: Server, image: str) -> None:
        self.server, self.image = server, image
        self.ec2 = server.client("ec2")

    def launch(self, name: str, **params: Any) -> str:
        tags = [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}]
        reservation = self.ec2.run_instances(
            ImageId=self.image, MinCount=1, MaxCount=1, TagSpecifications=tags, **params
        )
        (instance,) = [i["InstanceId"] for i in reservation["Instances"]]
        self.wait(instance, "instance_running")
        return instance

    def wait(self, instance: str, waiter: str) -> None:
        self.ec2.get_waiter(waiter).wait(InstanceIds=[instance], WaiterConfig=FAST)

    def state(self, instance: str) -> str:
        found = self.ec2.describe_instances(InstanceIds=[instance])["Reservations"]
        return str(found[0]["Instances"][0]["State"]["Name"])

    def url(self, path: str) -> str:
        return f"{self.server.url}/console/{REGION}/{path}"


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    require_chromium()
    require_root("instances run in namespaces with overlayfs")
    home = tmp_path / "home"
    cloud = cloud_with_other_account(home)
    image = base_image(cloud, REGION, busybox_root(tmp_path / "rootfs"), "busybox")
    cloud.close()
    server = start_server(home)
    try:
        yield Console(server, image)
    finally:
        server.stop()
        terminate_all(amiable.Session(home=home, region=REGION).client("ec2"))


@pytest.fixture
def page(console: Console) -> Iterator["Page"]:
    """A fresh 1280x800 browser page; a JavaScript dialog fails the test."""
    with chromium() as browser:
        context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        dialogs: list[str] = []
        tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        try:
            yield tab
        finally:
            context.close()
        assert not dialogs, f"a script ran: {dialogs}"


def row(page: "Page", instance: str) -> list[str]:
    """The instance's row of the Instances table, cell by cell (the radio's cell dropped)."""
    cells = page.locator("table.instances tbody tr", has_text=instance).locator("td")
    return [c.inner_text().strip() for c in cells.all()][1:]


def change_state(page: "Page", instance: str, action: str) -> None:
    """Select the instance on the Instances page, choose `action`, confirm it."""
    page.get_by_label(f"Select {instance}").check()
    page.get_by_role("group", name="Instance state").get_by_role("button", name=action).click()
    assert page.get_by_role("heading", name=f"{action}?").is_visible()
    page.get_by_role("button", name=action).click()
    assert page.url == console_url(page, instance)


def console_url(page: "Page", instance: str) -> str:
    return page.url.split("/console/")[0] + f"/console/{REGION}/instances/{instance}"


def test_the_instances_page_lists_an_instance_and_stops_and_starts_it(
    console: Console, page: "Page"
) -> None:
    instance = console.launch("web-1")
    sign_in(page, console.url("instances"))
    assert page.url == console.url("instances")
    assert page.get_by_role("link", name="Instances").get_attribute("aria-current") == "page"
    name, listed_id, state, kind, image, ip, launched = row(page, instance)
    assert (name, listed_id, state, image) == ("web-1", instance, "running", console.image)
    assert kind and ip.count(".") == 3 and launched[:4].isdigit()
    for header in ("Instance ID", "Instance state", "Instance type", "Private IP address"):
        assert page.get_by_role("columnheader", name=header).is_visible()
    change_state(page, instance, "Stop instance")
    assert (
        page.get_by_role("status").inner_text() == f"Successfully initiated stopping of {instance}."
    )
    console.wait(instance, "instance_stopped")
    page.get_by_role("link", name="Instances", exact=True).first.click()
    assert row(page, instance)[2] == "stopped"
    change_state(page, instance, "Start instance")
    console.wait(instance, "instance_running")
    assert console.state(instance) == "running"
    page.get_by_role("link", name="Instances", exact=True).first.click()
    change_state(page, instance, "Reboot instance")
    assert (
        page.get_by_role("status").inner_text() == f"Successfully initiated reboot of {instance}."
    )
    console.wait(instance, "instance_running")


def test_terminate_through_the_confirmation(console: Console, page: "Page") -> None:
    keep, doomed = console.launch("keep-1"), console.launch("doomed-1")
    sign_in(page, console.url("instances"))
    page.get_by_role("button", name="Terminate instance").click()
    assert page.get_by_role("status").inner_text() == "Select an instance first."
    cookie = session_cookie(page)
    for action in ("terminate", "stop", "create-image"):
        target = console.url(f"instances/{doomed}/{action}")
        assert post(target, cookie, {"name": "forged-image"}).status == 403
        assert post(target, cookie, {"csrf_token": "forged"}).status == 403
    assert console.state(doomed) == "running"
    assert console.ec2.describe_images(Owners=["self"])["Images"] == []
    page.goto(console.url(f"instances/{doomed}"))
    page.get_by_role("group", name="Actions").get_by_role("link", name="Terminate instance").click()
    assert (
        doomed in page.get_by_role("heading", name="Terminate instance?").locator("..").inner_text()
    )
    page.get_by_role("button", name="Terminate instance").click()
    assert page.get_by_role("status").inner_text() == (
        f"Successfully initiated termination of {doomed}."
    )
    console.wait(doomed, "instance_terminated")
    assert console.state(keep) == "running"


def test_create_image_from_an_instance_and_follow_it_until_available(
    console: Console, page: "Page"
) -> None:
    instance = console.launch("builder-1")
    sign_in(page, console.url(f"instances/{instance}"))
    actions = page.get_by_role("group", name="Actions")
    actions.get_by_role("group", name="Image and templates").get_by_role(
        "link", name="Create image"
    ).click()
    assert page.get_by_role("heading", name="Create image").is_visible()
    page.get_by_label("Image name").fill("web-server-v1")
    page.get_by_label("Image description").fill("Built <by> the console")
    page.get_by_label("Enable").check()
    page.get_by_label("Key", exact=True).fill("team")
    page.get_by_label("Value", exact=True).fill("platform")
    screenshot(page, "console-create-image.png")
    page.get_by_role("button", name="Create image").click()
    notice = page.get_by_role("status")
    assert notice.inner_text().startswith("Currently creating AMI ami-")
    link = notice.get_by_role("link")
    image = link.inner_text()
    link.click()
    assert page.url == console.url(f"images/{image}")
    page.locator(".facts dd", has_text="available").wait_for(timeout=PATIENCE)  # reloads itself
    found = console.ec2.describe_images(ImageIds=[image])["Images"][0]
    assert (found["Name"], found["Description"]) == ("web-server-v1", "Built <by> the console")
    assert found["State"] == "available"
    assert found["Tags"] == [{"Key": "team", "Value": "platform"}]
    assert found["SourceInstanceId"] == instance
    assert console.state(instance) == "running"  # No reboot: never stopped


def test_create_image_from_the_list_keeps_the_form_on_an_ec2_error(
    console: Console, page: "Page"
) -> None:
    instance = console.launch("builder-2")
    sign_in(page, console.url("instances"))
    page.get_by_label(f"Select {instance}").check()
    menu = page.get_by_role("group", name="Actions").get_by_role(
        "group", name="Image and templates"
    )
    menu.get_by_role("button", name="Create image").click()
    assert page.url == console.url(f"instances/{instance}/create-image")
    page.get_by_label("Image name").fill("bad name!")
    page.get_by_label("Image description").fill("kept")
    page.get_by_label("Key", exact=True).fill("team")
    page.get_by_role("button", name="Add new tag").click()
    page.get_by_label("Key 2", exact=True).fill("role")
    page.get_by_label("Value 2", exact=True).fill("web")
    page.get_by_role("button", name="Create image").click()
    assert page.get_by_role("alert").inner_text().startswith("InvalidAMIName.Malformed: ")
    assert page.get_by_label("Image name").input_value() == "bad name!"
    assert page.get_by_label("Image description").input_value() == "kept"
    assert page.get_by_label("Key 2", exact=True).input_value() == "role"
    assert console.ec2.describe_images(Owners=["self"])["Images"] == []


def test_the_console_output_is_shown_as_text(console: Console, page: "Page") -> None:
    instance = console.launch("noisy-1", UserData=f"#!/bin/sh\necho '{XSS}'\n")
    sign_in(page, console.url(f"instances/{instance}"))
    output = page.locator("pre.console-output")
    deadline = time.monotonic() + PATIENCE / 1000
    while XSS not in (output.inner_text() if output.count() else ""):
        assert time.monotonic() < deadline, "the user data's output never showed"
        time.sleep(0.5)
        page.reload()
    assert page.get_by_role("heading", name="Console output").is_visible()
    assert page.locator("img").count() == 0
    assert XSS not in page.content()  # only escaped
