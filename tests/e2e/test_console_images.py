"""The AMI dialogs of the console on a real `ami serve`, in Debian's Chromium:
Copy AMI to another region (plain and encrypted) followed to the copy's page
until it is available, Edit AMI permissions (an account, public with block
public access explained), Disable and Enable AMI, and deregistration
protection — each seen through boto3."""

from pathlib import Path
from typing import TYPE_CHECKING

from console_setup import REGION, images, images_url
from serving import Server

from api_helpers import OTHER
from console_browser import post, session_cookie, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

ELSEWHERE = "eu-west-1"
PATIENCE = 60_000  # ms: a copy's data moved in the background
FAST = {"Delay": 0.2, "MaxAttempts": 300}


def choose(page: "Page", image: str, action: str) -> None:
    """Select the image on the AMIs page and press the action's button."""
    page.get_by_label(f"Select {image}").check()
    page.get_by_role("group", name="Actions").get_by_role("button", name=action).click()


def copy_through_the_dialog(page: "Page", image: str, encrypted: bool) -> str:
    """Copy AMI to ELSEWHERE; the new image's id, from the notice's link."""
    choose(page, image, "Copy AMI")
    assert page.get_by_role("heading", name="Copy AMI").is_visible()
    assert page.get_by_label("AMI copy name").input_value() == "gold-1"
    assert page.get_by_label("AMI copy description").input_value() == (
        f"[Copied {image} from {REGION}] gold-1"
    )
    page.get_by_label("AMI copy name").fill("gold-1-copy")
    page.get_by_label("Destination Region").select_option(ELSEWHERE)
    page.get_by_label("Copy tags").check()
    if encrypted:
        page.get_by_label("Encrypt EBS snapshots of AMI copy").check()
    page.get_by_role("button", name="Copy AMI").click()
    notice = page.get_by_role("status")
    assert notice.inner_text().startswith(f"Copying {image} to {ELSEWHERE} as ami-")
    return notice.get_by_role("link").inner_text()


def test_copy_ami_to_a_region_and_follow_the_copy_until_it_is_available(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    image = images(console, tmp_path, "gold-1", team="images")["gold-1"]
    sign_in(page, images_url(console))
    copied = copy_through_the_dialog(page, image, encrypted=False)
    page.get_by_role("status").get_by_role("link").click()
    assert page.url == images_url(console, ELSEWHERE) + f"/{copied}"
    page.locator(".facts", has_text="available").wait_for(timeout=PATIENCE)  # it reloads itself
    there = console.client("ec2", region=ELSEWHERE)
    found = there.describe_images(ImageIds=[copied])["Images"][0]
    assert (found["Name"], found["State"]) == ("gold-1-copy", "available")
    assert (found["SourceImageId"], found["SourceImageRegion"]) == (image, REGION)
    assert {"Key": "team", "Value": "images"} in found["Tags"]
    assert found["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is False
    assert page.get_by_label("Region").input_value() == ELSEWHERE


def test_copy_ami_encrypted(console: Server, page: "Page", tmp_path: Path) -> None:
    image = images(console, tmp_path, "gold-1")["gold-1"]
    sign_in(page, images_url(console))
    copied = copy_through_the_dialog(page, image, encrypted=True)
    there = console.client("ec2", region=ELSEWHERE)
    there.get_waiter("image_available").wait(ImageIds=[copied], WaiterConfig=FAST)
    ebs = there.describe_images(ImageIds=[copied])["Images"][0]["BlockDeviceMappings"][0]["Ebs"]
    assert ebs["Encrypted"] is True
    snapshot = there.describe_snapshots(SnapshotIds=[ebs["SnapshotId"]])["Snapshots"][0]
    assert snapshot["Encrypted"] is True and snapshot["KmsKeyId"]


def test_a_copy_with_a_kms_key_but_no_encryption_shows_the_ec2_error_and_the_form(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    image = images(console, tmp_path, "gold-1")["gold-1"]
    sign_in(page, f"{images_url(console)}/{image}/copy")
    page.get_by_label("AMI copy name").fill("kept as typed")
    page.get_by_label("KMS key").fill("alias/aws/ebs")
    page.get_by_role("button", name="Copy AMI").click()
    assert page.get_by_role("alert").inner_text() == (
        "InvalidParameterDependency: The parameter KmsKeyId requires the parameter Encrypted."
    )
    assert page.get_by_label("AMI copy name").input_value() == "kept as typed"
    assert console.client("ec2", region=REGION).describe_images(Owners=["self"])["Images"] == [
        console.client("ec2").describe_images(ImageIds=[image])["Images"][0]
    ]


def test_share_with_an_account_who_then_sees_it_and_remove_the_share(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    image = images(console, tmp_path, "shared-1")["shared-1"]
    ec2 = console.client("ec2")
    sign_in(page, images_url(console))
    choose(page, image, "Edit AMI permissions")
    page.get_by_label("AWS account ID or organization/OU ARN").fill(OTHER)
    page.get_by_label('Add "create volume" permissions to the associated snapshots').check()
    page.get_by_role("button", name="Share AMI").click()
    assert page.get_by_role("status").inner_text() == f"Account {OTHER} can now launch it."
    granted = ec2.describe_image_attribute(ImageId=image, Attribute="launchPermission")
    assert granted["LaunchPermissions"] == [{"UserId": OTHER}]
    snap = ec2.describe_images(ImageIds=[image])["Images"][0]["BlockDeviceMappings"][0]["Ebs"]
    volumes = ec2.describe_snapshot_attribute(
        SnapshotId=snap["SnapshotId"], Attribute="createVolumePermission"
    )
    assert volumes["CreateVolumePermissions"] == [{"UserId": OTHER}]
    other = console.client("ec2", key="AKIAOTHER", secret="other-secret")
    assert [i["ImageId"] for i in other.describe_images(ExecutableUsers=["self"])["Images"]] == [
        image
    ]
    page.get_by_role("button", name=f"Remove Account {OTHER}").click()
    assert page.get_by_role("status").inner_text() == f"Account {OTHER} can no longer launch it."
    assert other.describe_images(ExecutableUsers=["self"])["Images"] == []
    assert page.get_by_role("cell", name="Not shared with any account or organization.").count()


def test_making_an_image_public_is_explained_while_block_public_access_is_on(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    image = images(console, tmp_path, "public-1")["public-1"]
    ec2 = console.client("ec2")
    sign_in(page, f"{images_url(console)}/{image}/permissions")
    assert "Block public access for AMIs is on" in page.locator(".warning").inner_text()
    page.get_by_label("Public", exact=True).check()
    page.get_by_role("button", name="Save availability").click()
    assert page.get_by_role("alert").inner_text().startswith("OperationNotPermitted: ")
    assert ec2.describe_images(ImageIds=[image])["Images"][0]["Public"] is False
    ec2.disable_image_block_public_access()
    page.reload()
    assert page.locator(".warning").count() == 0
    page.get_by_label("Public", exact=True).check()
    page.get_by_role("button", name="Save availability").click()
    assert page.get_by_role("status").inner_text() == "The AMI is now public."
    assert ec2.describe_images(ImageIds=[image])["Images"][0]["Public"] is True
    page.get_by_label("Private", exact=True).check()
    page.get_by_role("button", name="Save availability").click()
    assert ec2.describe_images(ImageIds=[image])["Images"][0]["Public"] is False


def test_a_bad_grantee_is_refused_with_one_line(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    image = images(console, tmp_path, "shared-1")["shared-1"]
    sign_in(page, f"{images_url(console)}/{image}/permissions")
    page.get_by_label("AWS account ID or organization/OU ARN").fill("someone")
    page.get_by_role("button", name="Share AMI").click()
    assert page.get_by_role("alert").inner_text().startswith("InvalidParameterValue: ")
    assert page.get_by_label("AWS account ID or organization/OU ARN").input_value() == "someone"
    ec2 = console.client("ec2")
    granted = ec2.describe_image_attribute(ImageId=image, Attribute="launchPermission")
    assert granted["LaunchPermissions"] == []


def test_disable_and_enable_ami(console: Server, page: "Page", tmp_path: Path) -> None:
    image = images(console, tmp_path, "old-1")["old-1"]
    ec2 = console.client("ec2")
    sign_in(page, images_url(console))
    choose(page, image, "Disable AMI")
    page.get_by_role("button", name="Disable AMI").click()
    assert page.get_by_role("status").inner_text() == f"Disabled {image}."
    assert ec2.describe_images(ImageIds=[image], IncludeDisabled=True)["Images"][0]["State"] == (
        "disabled"
    )
    assert "disabled" in page.locator(".facts").inner_text()
    page.get_by_role("button", name="Enable AMI").click()
    page.get_by_role("button", name="Enable AMI").click()
    assert page.get_by_role("status").inner_text() == f"Enabled {image}."
    assert ec2.describe_images(ImageIds=[image])["Images"][0]["State"] == "available"


def test_deregistration_protection_is_shown_and_keeps_the_image(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    image = images(console, tmp_path, "kept-1")["kept-1"]
    ec2 = console.client("ec2")
    sign_in(page, f"{images_url(console)}/{image}")
    page.get_by_role("button", name="Manage AMI deregistration protection").click()
    page.get_by_label("Enable", exact=True).check()
    page.get_by_role("button", name="Save changes").click()
    assert page.get_by_role("status").inner_text() == (
        f"Deregistration protection enabled for {image}."
    )
    assert ec2.describe_images(ImageIds=[image])["Images"][0]["DeregistrationProtection"] == (
        "enabled"
    )
    page.get_by_role("button", name="Deregister AMI").click()
    assert "Deregistration protection is enabled" in page.locator(".warning").inner_text()
    page.get_by_role("button", name="Deregister AMI").click()
    assert page.get_by_role("alert").inner_text().startswith("OperationNotPermitted: ")
    assert ec2.describe_images(ImageIds=[image])["Images"][0]["State"] == "available"
    page.get_by_role("link", name="Manage AMI deregistration protection").click()
    page.get_by_label("Disable", exact=True).check()
    page.get_by_role("button", name="Save changes").click()
    assert ec2.describe_images(ImageIds=[image])["Images"][0]["DeregistrationProtection"] == (
        "disabled"
    )


def test_the_new_dialogs_refuse_a_post_without_the_csrf_token(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    image = images(console, tmp_path, "gold-1")["gold-1"]
    sign_in(page, images_url(console))
    cookie = session_cookie(page)
    base = f"{images_url(console)}/{image}"
    for path, form in (
        ("copy", {"name": "c", "destination": ELSEWHERE}),
        ("permissions", {"change": "add", "grantee": OTHER}),
        ("disable", {}),
        ("launch", {"count": "1"}),
    ):
        assert post(f"{base}/{path}", cookie, form).status == 403
    ec2 = console.client("ec2")
    assert ec2.describe_images(ImageIds=[image])["Images"][0]["State"] == "available"
    assert (
        ec2.describe_image_attribute(ImageId=image, Attribute="launchPermission")[
            "LaunchPermissions"
        ]
        == []
    )
    assert console.client("ec2", region=ELSEWHERE).describe_images(Owners=["self"])["Images"] == []


def test_a_cooldown_keeps_the_warning_after_protection_is_disabled(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    image = images(console, tmp_path, "kept-1")["kept-1"]
    ec2 = console.client("ec2")
    ec2.enable_image_deregistration_protection(ImageId=image, WithCooldown=True)
    ec2.disable_image_deregistration_protection(ImageId=image)
    protection = ec2.describe_images(ImageIds=[image])["Images"][0]["DeregistrationProtection"]
    assert protection.startswith("disabled-until ")
    sign_in(page, f"{images_url(console)}/{image}/deregister")
    assert protection in page.locator(".warning").inner_text()
    page.get_by_role("button", name="Deregister AMI").click()
    assert page.get_by_role("alert").inner_text().startswith("OperationNotPermitted: ")
