"""The console's Snapshots, Volumes, Recycle Bin and Launch templates pages on a
real `ami serve`, in Debian's Chromium: the lists with the EC2 console's
columns, filters and server paging; Delete snapshot (and EC2's refusal while
an AMI uses it) and Delete volume; Recover from the Recycle Bin with a
retention rule made through boto3's `rbin`; a launch template's versions;
names shown as text; POSTs without the CSRF token refused. No instances, no
root. The `console` and `page` fixtures are in conftest.py."""

from pathlib import Path
from typing import TYPE_CHECKING, Any

from serving import Server

from api_helpers import code_of, imported_snapshot, register
from console_browser import post, session_cookie, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

DEFAULT = "000000000000"
REGION = "us-east-1"
ZONE = f"{REGION}a"
XSS = "<img src=x onerror=alert(1)>"
KEEP_A_DAY = {"RetentionPeriodValue": 1, "RetentionPeriodUnit": "DAYS"}


def url(server: Server, path: str) -> str:
    return f"{server.url}/console/{REGION}/{path}"


def named(name: str, resource: str) -> list[dict[str, Any]]:
    return [{"ResourceType": resource, "Tags": [{"Key": "Name", "Value": name}]}]


def cells(page: "Page", row_id: str) -> dict[str, str]:
    """The row of the page's table whose radio button selects `row_id`, by column header."""
    table = page.locator("table").filter(has=page.get_by_label(f"Select {row_id}"))
    headers = [h.inner_text() for h in table.locator("thead th").all()]
    row = table.locator("tbody tr").filter(has=page.get_by_label(f"Select {row_id}"))
    values = [c.inner_text() for c in row.locator("td").all()]
    return dict(zip(headers[1:], values[1:], strict=True))


def ids_listed(page: "Page") -> list[str]:
    """The ids of the rows of the page's table, in order."""
    return [str(r.get_attribute("value")) for r in page.locator("table tbody input").all()]


def snapshot_ids(ec2: Any) -> list[str]:
    return [s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]]


def test_the_snapshots_page_shows_the_ec2_columns_and_filters(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    ec2 = console.client("ec2")
    web = imported_snapshot(ec2, tmp_path / "web")
    db = imported_snapshot(ec2, tmp_path / "db")
    ec2.create_tags(Resources=[web], Tags=[{"Key": "Name", "Value": "web-root"}])
    ec2.create_tags(Resources=[db], Tags=[{"Key": "role", "Value": "database"}])
    sign_in(page, url(console, "snapshots"))
    assert page.get_by_role("heading", name="Snapshots").is_visible()
    assert page.get_by_role("link", name="Snapshots").get_attribute("aria-current") == "page"
    assert sorted(ids_listed(page)) == sorted([web, db])
    shown = ec2.describe_snapshots(SnapshotIds=[web])["Snapshots"][0]
    assert cells(page, web) == {
        "Name": "web-root",
        "Snapshot ID": web,
        "Volume size": f"{shown['VolumeSize']} GiB",
        "Description": shown["Description"],
        "Storage tier": "Standard",
        "Snapshot status": "completed",
        "Started": shown["StartTime"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "Progress": "100%",
        "Encryption": "Not encrypted",
        "Owner": DEFAULT,
    }
    page.get_by_label("Tag (key=value)").fill("role=database")
    page.get_by_role("button", name="Search").click()
    assert ids_listed(page) == [db]
    page.get_by_label("Tag (key=value)").fill("")
    page.get_by_label("Snapshot ID").fill(web[5:12])
    page.get_by_role("button", name="Search").click()
    assert ids_listed(page) == [web]
    page.get_by_label("Snapshot ID").fill("")
    page.get_by_label("Snapshot status").select_option("pending")
    page.get_by_role("button", name="Search").click()
    assert ids_listed(page) == []
    assert page.get_by_text("No snapshots found.").is_visible()


def test_delete_snapshot_shows_ec2s_refusal_while_an_ami_uses_it(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    ec2 = console.client("ec2")
    used = imported_snapshot(ec2, tmp_path / "used")
    image = register(ec2, used, "uses-it")
    spare = imported_snapshot(ec2, tmp_path / "spare")
    sign_in(page, url(console, "snapshots"))
    page.get_by_label(f"Select {used}").check()
    page.get_by_role("button", name="Delete snapshot").click()
    assert page.get_by_role("heading", name="Delete snapshot").is_visible()
    assert used in page.locator(".facts").inner_text()
    page.get_by_role("button", name="Delete snapshot").click()
    alert = page.get_by_role("alert").inner_text()
    assert alert == f"InvalidSnapshot.InUse: The snapshot {used} is currently in use by {image}"
    assert "Traceback" not in page.content()
    assert used in snapshot_ids(ec2)
    page.get_by_role("link", name="Cancel").click()
    page.get_by_label(f"Select {spare}").check()
    page.get_by_role("button", name="Delete snapshot").click()
    page.get_by_role("button", name="Delete snapshot").click()
    assert page.url == url(console, "snapshots")
    assert page.get_by_role("status").inner_text() == f"Successfully deleted snapshot {spare}."
    assert ids_listed(page) == [used]
    assert snapshot_ids(ec2) == [used]


def test_an_action_without_a_selection_asks_for_one(console: Server, page: "Page") -> None:
    sign_in(page, url(console, "volumes"))
    page.get_by_role("button", name="Delete volume").click()
    assert page.url == url(console, "volumes")
    assert page.get_by_role("status").inner_text() == "Select a volume first."


def test_the_volumes_page_shows_the_ec2_columns_and_deletes_a_volume(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    ec2 = console.client("ec2")
    snap = imported_snapshot(ec2, tmp_path / "root")
    data = ec2.create_volume(
        AvailabilityZone=ZONE, Size=3, VolumeType="gp3", TagSpecifications=named("data", "volume")
    )
    restored = ec2.create_volume(AvailabilityZone=f"{REGION}b", SnapshotId=snap)
    sign_in(page, url(console, "volumes"))
    assert page.get_by_role("link", name="Volumes").get_attribute("aria-current") == "page"
    assert cells(page, data["VolumeId"]) == {
        "Name": "data",
        "Volume ID": data["VolumeId"],
        "Type": "gp3",
        "Size": "3 GiB",
        "Snapshot": "–",
        "Created": data["CreateTime"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "Availability Zone": ZONE,
        "Volume state": "available",
        "Attached resources": "–",
        "Encryption": "Not encrypted",
    }
    assert cells(page, restored["VolumeId"])["Snapshot"] == snap
    page.get_by_label(f"Select {data['VolumeId']}").check()
    page.get_by_role("button", name="Delete volume").click()
    assert page.get_by_role("heading", name="Delete volume").is_visible()
    page.get_by_role("button", name="Delete volume").click()
    notice = page.get_by_role("status").inner_text()
    assert notice == f"Successfully deleted volume {data['VolumeId']}."
    assert ids_listed(page) == [restored["VolumeId"]]
    left = [v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]]
    assert left == [restored["VolumeId"]]


def test_a_long_list_of_volumes_is_paged_on_the_server(console: Server, page: "Page") -> None:
    ec2 = console.client("ec2")
    made = [ec2.create_volume(AvailabilityZone=ZONE, Size=1)["VolumeId"] for _ in range(53)]
    sign_in(page, url(console, "volumes"))
    first = ids_listed(page)
    assert len(first) == 50
    assert page.get_by_role("link", name="Previous page").count() == 0
    page.get_by_role("link", name="Next page").click()
    second = ids_listed(page)
    assert len(second) == 3
    assert sorted(first + second) == sorted(made)
    assert page.get_by_role("link", name="Next page").count() == 0
    page.get_by_role("link", name="Previous page").click()
    assert ids_listed(page) == first


def test_recover_an_image_from_the_recycle_bin(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    ec2, rbin = console.client("ec2"), console.client("rbin")
    image = register(ec2, imported_snapshot(ec2, tmp_path / "root"), "binned-1")
    sign_in(page, url(console, "recycle-bin"))
    rules = page.get_by_role("region", name="Retention rules")
    assert "No retention rule for AMIs" in rules.inner_text()
    assert "No retention rule for EBS snapshots" in rules.inner_text()
    rule = rbin.create_rule(
        ResourceType="EC2_IMAGE", RetentionPeriod=KEEP_A_DAY, Description="keep AMIs a day"
    )
    ec2.deregister_image(ImageId=image)
    assert code_of(ec2.describe_images, ImageIds=[image]) == "InvalidAMIID.NotFound"
    page.reload()
    assert "No retention rule for AMIs" not in rules.inner_text()
    assert "No retention rule for EBS snapshots" in rules.inner_text()
    rule_row = rules.get_by_role("row").filter(has_text=rule["Identifier"]).inner_text()
    assert "AMIs" in rule_row and "1 day" in rule_row and "keep AMIs a day" in rule_row
    assert page.get_by_role("link", name="Images").get_attribute("aria-current") == "page"
    assert ids_listed(page) == [image]
    assert cells(page, image)["AMI name"] == "binned-1"
    page.get_by_label(f"Select {image}").check()
    page.get_by_role("button", name="Recover").click()
    assert page.get_by_role("heading", name="Recover").is_visible()
    page.get_by_role("button", name="Recover").click()
    status = page.get_by_role("status")
    assert status.inner_text() == f"Successfully recovered AMI {image}."
    assert ids_listed(page) == []
    status.get_by_role("link", name=image).click()
    assert page.url == url(console, f"images/{image}")
    assert "available" in page.locator(".facts").inner_text()
    assert ec2.describe_images(ImageIds=[image])["Images"][0]["State"] == "available"


def test_a_deleted_snapshot_waits_in_the_bin_and_is_recovered(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    ec2 = console.client("ec2")
    console.client("rbin").create_rule(ResourceType="EBS_SNAPSHOT", RetentionPeriod=KEEP_A_DAY)
    snap = imported_snapshot(ec2, tmp_path / "root")
    sign_in(page, f"{url(console, 'snapshots')}/{snap}/delete")
    page.get_by_role("button", name="Delete snapshot").click()
    assert snapshot_ids(ec2) == []
    page.get_by_role("link", name="Recycle Bin").click()
    page.get_by_role("navigation", name="Resource types").get_by_role(
        "link", name="Snapshots"
    ).click()
    assert ids_listed(page) == [snap]
    page.get_by_label(f"Select {snap}").check()
    page.get_by_role("button", name="Recover").click()
    page.get_by_role("button", name="Recover").click()
    status = page.get_by_role("status")
    assert status.inner_text() == f"Successfully recovered snapshot {snap}."
    status.get_by_role("link", name=snap).click()
    assert ids_listed(page) == [snap]
    assert snapshot_ids(ec2) == [snap]


def test_what_is_not_there_or_malformed_shows_the_ec2_error(console: Server, page: "Page") -> None:
    sign_in(page, url(console, "recycle-bin/images/ami-0123456789abcdef0/recover"))
    assert page.get_by_role("alert").inner_text().startswith("InvalidAMIID.NotFound: ")
    assert page.get_by_role("button", name="Recover").count() == 0
    answer = page.goto(url(console, "snapshots/snap-nonsense/delete"))
    assert answer is not None and answer.status == 400
    assert page.get_by_role("alert").inner_text().startswith("InvalidSnapshotID.Malformed: ")
    assert page.get_by_role("button", name="Delete snapshot").count() == 0
    page.goto(url(console, "volumes?token=not-a-token"))
    assert page.get_by_role("alert").inner_text().startswith("InvalidPaginationToken: ")
    assert "Traceback" not in page.content()
    answer = page.goto(url(console, "recycle-bin/volumes/action?resource_id=vol-1&action=recover"))
    assert answer is not None and answer.status == 404


def test_a_launch_template_page_shows_its_versions(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    ec2 = console.client("ec2")
    image = register(ec2, imported_snapshot(ec2, tmp_path / "root"), "templated-1")
    template = ec2.create_launch_template(
        LaunchTemplateName="web-servers",
        VersionDescription="first",
        LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro"},
    )["LaunchTemplate"]
    template_id = template["LaunchTemplateId"]
    ec2.create_launch_template_version(
        LaunchTemplateId=template_id,
        VersionDescription="bigger",
        LaunchTemplateData={"ImageId": image, "InstanceType": "t3.large"},
    )
    sign_in(page, url(console, "launch-templates"))
    assert page.get_by_role("link", name="Launch templates").get_attribute("aria-current") == (
        "page"
    )
    row = page.get_by_role("row").filter(has_text=template_id).locator("td").all_inner_texts()
    created = template["CreateTime"].strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert row == [template_id, "web-servers", "1", "2", created, f"arn:aws:iam::{DEFAULT}:root"]
    page.get_by_role("link", name=template_id).click()
    assert page.get_by_role("heading", level=1).inner_text() == f"web-servers ({template_id})"
    versions = page.get_by_role("region", name="Versions").locator("tbody tr")
    assert [v.locator("td").all_inner_texts()[:4] for v in versions.all()] == [
        ["1 (Default)", "first", image, "t3.micro"],
        ["2", "bigger", image, "t3.large"],
    ]
    versions.first.get_by_role("link", name=image).click()
    assert page.url == url(console, f"images/{image}")
    page.goto(url(console, "launch-templates/lt-0123456789abcdef0"))
    assert page.get_by_role("alert").inner_text().startswith("InvalidLaunchTemplateId.NotFound: ")


def test_hostile_names_render_as_text(console: Server, page: "Page", tmp_path: Path) -> None:
    ec2 = console.client("ec2")
    snap = imported_snapshot(ec2, tmp_path / "root")
    ec2.create_tags(Resources=[snap], Tags=[{"Key": "Name", "Value": XSS}])
    volume = ec2.create_volume(
        AvailabilityZone=ZONE, Size=1, TagSpecifications=named(XSS, "volume")
    )
    sign_in(page, url(console, "snapshots"))
    assert cells(page, snap)["Name"] == XSS
    assert page.locator("img").count() == 0
    assert XSS not in page.content()  # only escaped
    page.goto(url(console, "volumes"))
    assert cells(page, volume["VolumeId"])["Name"] == XSS
    assert page.locator("img").count() == 0


def test_posts_without_the_csrf_token_are_refused(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    ec2 = console.client("ec2")
    snap = imported_snapshot(ec2, tmp_path / "root")
    volume = ec2.create_volume(AvailabilityZone=ZONE, Size=1)["VolumeId"]
    sign_in(page, url(console, "snapshots"))
    cookie = session_cookie(page)
    for target in (f"snapshots/{snap}/delete", f"volumes/{volume}/delete"):
        assert post(url(console, target), cookie, {}).status == 403
        assert post(url(console, target), cookie, {"csrf_token": "forged"}).status == 403
    assert snapshot_ids(ec2) == [snap]
    assert [v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]] == [volume]
    page.reload()
    assert ids_listed(page) == [snap]  # still signed in
