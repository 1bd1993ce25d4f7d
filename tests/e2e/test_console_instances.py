"""The console's Instances pages on a real `ami serve`, in Debian's Chromium:
the list, Start/Stop/Reboot/Terminate through their confirmations (seen
through boto3), the console output shown as text, and Actions → Image and
templates → Create image followed to the new image until it is available.
Instances need root (they run in namespaces with overlayfs); every one
launched is terminated by the fixture."""

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from console_setup import loaded
from instance_api import FAST
from serving import Server, start_server

import amiable
from api_helpers import base_image, cloud_with_other_account, terminate_all
from busybox import busybox_root
from console_browser import (
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


def row(page: "Page", instance: str) -> list[str]:
    """The instance's row of the Instances table, cell by cell (the radio's cell dropped)."""
    cells = loaded(page).locator("table.instances tbody tr", has_text=instance).locator("td")
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
    actions = page.get_by_role("group", name="Actions")
    actions.get_by_role("button", name="Terminate instance").click()
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
        "button", name="Create image"
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


def test_launch_instance_from_ami_through_its_form(console: Console, page: "Page") -> None:
    console.ec2.create_key_pair(KeyName="ops")
    sign_in(page, console.url("images?tab=public"))
    page.get_by_label(f"Select {console.image}").check()
    actions = page.get_by_role("group", name="Actions")
    actions.get_by_role("button", name="Launch instance from AMI").click()
    assert page.get_by_role("heading", name="Launch an instance").is_visible()
    page.get_by_label("Name", exact=True).fill(XSS)
    page.get_by_label("Instance type").select_option("t3.micro")
    page.get_by_label("Key pair name").select_option("ops")
    page.get_by_label("User data").fill("#!/bin/sh\necho hello\n")
    page.get_by_role("button", name="Launch instance").click()
    assert page.url == console.url("instances")
    notice = page.get_by_role("status")
    assert notice.inner_text().startswith("Successfully initiated launch of instance i-")
    instance = notice.get_by_role("link").inner_text()
    console.wait(instance, "instance_running")
    found = console.ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]
    (launched,) = found["Instances"]
    assert (launched["ImageId"], launched["InstanceType"], launched["KeyName"]) == (
        console.image,
        "t3.micro",
        "ops",
    )
    assert launched["Tags"] == [{"Key": "Name", "Value": XSS}]
    data = console.ec2.describe_instance_attribute(InstanceId=instance, Attribute="userData")
    typed = base64.b64decode(data["UserData"]["Value"]).decode()
    assert typed == "#!/bin/sh\necho hello\n"  # the browser's CRLF made LF, as typed
    page.reload()
    assert page.locator("img").count() == 0
    assert page.get_by_role("cell", name=XSS, exact=True).is_visible()


def test_a_launch_beyond_the_limit_is_refused_with_the_form_kept(
    console: Console, page: "Page"
) -> None:
    sign_in(page, console.url(f"images/{console.image}/launch"))
    count = page.get_by_label("Number of instances")
    count.evaluate("input => input.removeAttribute('max')")  # the browser would refuse it itself
    count.fill("500")
    page.get_by_label("Name", exact=True).fill("too-many")
    page.get_by_role("button", name="Launch instance").click()
    assert page.get_by_role("alert").inner_text().startswith("InvalidParameterValue: ")
    assert page.get_by_label("Name", exact=True).input_value() == "too-many"
    assert console.ec2.describe_instances()["Reservations"] == []


def test_run_command_shows_its_output_when_done(console: Console, page: "Page") -> None:
    instance = console.launch("web-1")
    sign_in(page, console.url(f"instances/{instance}"))
    actions = page.get_by_role("group", name="Monitor and troubleshoot")
    actions.get_by_role("button", name="Run command").click()
    assert page.get_by_role("heading", name="Run command").is_visible()
    page.get_by_label("Commands").fill(f"sleep 1\necho hello from $(hostname)\necho '{XSS}' >&2")
    page.get_by_role("button", name="Run").click()
    assert "/commands/" in page.url
    command_id = page.url.rsplit("/", 1)[1]
    status = page.get_by_role("status")
    page.wait_for_function(  # the page reloads itself while the command runs
        "() => document.querySelector('[role=status]').innerText === 'Success'",
        timeout=PATIENCE,
    )
    assert status.inner_text() == "Success"
    output = page.get_by_role("region", name="Output").locator("pre").inner_text()
    assert output.startswith("hello from ")
    error = page.get_by_role("region", name="Error").locator("pre").inner_text()
    assert error.strip() == XSS
    assert page.locator("img").count() == 0
    ssm = console.server.client("ssm")
    invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance)
    assert invocation["StandardOutputContent"].rstrip("\n") == output.rstrip("\n")


def test_run_command_on_a_stopped_instance_shows_the_ssm_error(
    console: Console, page: "Page"
) -> None:
    instance = console.launch("web-1")
    console.ec2.stop_instances(InstanceIds=[instance])
    console.wait(instance, "instance_stopped")
    sign_in(page, console.url(f"instances/{instance}/run-command"))
    page.get_by_label("Commands").fill("echo never")
    page.get_by_role("button", name="Run").click()
    assert page.get_by_role("alert").inner_text().startswith("InvalidInstanceId: ")
    assert page.get_by_label("Commands").input_value() == "echo never"


def test_the_instances_page_filters_by_tag_state_and_id(console: Console, page: "Page") -> None:
    web, db = console.launch("web-1"), console.launch("db-1")
    console.ec2.stop_instances(InstanceIds=[db])
    console.wait(db, "instance_stopped")
    sign_in(page, console.url("instances"))
    page.get_by_label("Tag (key=value)").fill("Name=web-1")
    page.get_by_role("button", name="Search").click()
    assert [row(page, i)[1] for i in (web,)] == [web]
    assert page.locator("table.instances tbody tr").count() == 1
    page.get_by_label("Tag (key=value)").fill("")
    page.get_by_role("combobox", name="Instance state").select_option("stopped")
    page.get_by_role("button", name="Search").click()
    assert row(page, db)[2] == "stopped"
    assert page.locator("table.instances tbody tr").count() == 1
    page.get_by_role("combobox", name="Instance state").select_option("")
    page.get_by_label("Instance ID").fill(web[2:8])
    page.get_by_role("button", name="Search").click()
    assert page.locator("table.instances tbody tr").count() == 1
    assert row(page, web)[1] == web
