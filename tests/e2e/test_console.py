"""The web console of a real `ami serve`, driven in Debian's Chromium through
Playwright: signing in and out, the AMIs page (tabs, filters, paging), the
image actions seen through boto3, and its safety (escaping, CSRF, CSP, the
session cookie, no secret shown or logged)."""

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from console_setup import DEFAULT, REGION, XSS, images, images_url, loaded
from serving import Server

from api_helpers import OTHER, imported_snapshot, register
from console_browser import (
    get,
    post,
    screenshot,
    session_cookie,
    sign_in,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def listed(page: "Page") -> list[str]:
    """The AMI IDs of the AMIs table, in order."""
    return [
        link.inner_text()
        for link in loaded(page).locator("table.images tbody a").all()
        if link.inner_text().startswith("ami-")
    ]


def test_sign_in_with_the_default_key_shows_the_images_page_and_sign_out_ends_it(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    made = images(console, tmp_path, "web-1")
    page.goto(f"{console.url}/console")
    assert "/console/signin" in page.url
    sign_in(page, page.url)
    assert page.url == images_url(console)
    assert page.get_by_role("heading", name="Amazon Machine Images (AMIs)").is_visible()
    assert listed(page) == [made["web-1"]]
    assert page.get_by_label("Region").input_value() == REGION
    assert page.get_by_text(f"Account {DEFAULT}").is_visible()
    page.get_by_role("button", name="Sign out").click()
    assert "/console/signin" in page.url
    page.goto(images_url(console))
    assert "/console/signin" in page.url
    assert page.get_by_role("button", name="Sign in").is_visible()


def test_a_wrong_secret_is_refused_and_no_secret_is_shown_or_logged(
    console: Server, page: "Page"
) -> None:
    sign_in(page, images_url(console), key="AKIAOTHER", secret="not-the-secret")
    assert "/console/signin" in page.url
    assert "not valid" in page.get_by_role("alert").inner_text()
    sign_in(page, images_url(console), key="AKIAOTHER", secret="other-secret")
    assert page.url == images_url(console)
    assert page.get_by_text(f"Account {OTHER}").is_visible()
    page.goto(images_url(console, query="?tab=public"))
    cookie = json.loads(base64.b64decode(session_cookie(page).split(".")[0]))
    assert set(cookie) == {"account", "key", "csrf"}
    assert cookie["account"] == OTHER
    for seen in (page.content(), json.dumps(cookie), console.output()):
        assert "other-secret" not in seen
        assert "not-the-secret" not in seen


def test_a_signed_out_request_is_redirected_to_sign_in_and_back_never_elsewhere(
    console: Server, page: "Page"
) -> None:
    answer = get(images_url(console, query="?tab=public"))
    assert answer.status == 303
    assert answer.getheader("Location") == (
        "/console/signin?next=%2Fconsole%2Fus-east-1%2Fimages%3Ftab%3Dpublic"
    )
    sign_in(page, images_url(console, query="?tab=public"))
    assert page.url == images_url(console, query="?tab=public")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, f"{console.url}/console/signin?next=//evil.example/console")
    assert page.url == images_url(console)
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, f"{console.url}/console/signin?next=https://evil.example/")
    assert page.url == images_url(console)


def test_filters_by_name_tag_and_state(console: Server, page: "Page", tmp_path: Path) -> None:
    made = images(console, tmp_path, "web-1", "web-2", "db-1")
    console.client("ec2").create_tags(
        Resources=[made["db-1"]], Tags=[{"Key": "role", "Value": "database"}]
    )
    sign_in(page, images_url(console))
    assert sorted(listed(page)) == sorted(made.values())
    screenshot(page, "console-images.png")
    page.get_by_label("AMI name").fill("web")
    page.get_by_role("button", name="Search").click()
    assert sorted(listed(page)) == sorted([made["web-1"], made["web-2"]])
    page.get_by_label("AMI name").fill("")
    page.get_by_label("Tag (key=value)").fill("role=database")
    page.get_by_role("button", name="Search").click()
    assert listed(page) == [made["db-1"]]
    page.get_by_label("Tag (key=value)").fill("")
    page.get_by_label("State").select_option("pending")
    page.get_by_role("button", name="Search").click()
    assert listed(page) == []
    assert page.get_by_text("No AMIs found.").is_visible()


def test_tabs_show_owned_shared_and_public_images(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    mine = images(console, tmp_path, "mine-1")["mine-1"]
    other = console.client("ec2", key="AKIAOTHER", secret="other-secret")
    snap = imported_snapshot(other, tmp_path / "other-root")
    shared, public = register(other, snap, "shared-1"), register(other, snap, "public-1")
    other.modify_image_attribute(ImageId=shared, LaunchPermission={"Add": [{"UserId": DEFAULT}]})
    other.disable_image_block_public_access()
    other.modify_image_attribute(ImageId=public, LaunchPermission={"Add": [{"Group": "all"}]})
    sign_in(page, images_url(console))
    assert listed(page) == [mine]
    page.get_by_role("link", name="Private images").click()
    assert listed(page) == [shared]
    assert page.get_by_role("link", name="Private images").get_attribute("aria-current") == "page"
    page.get_by_role("link", name="Public images").click()
    assert listed(page) == [public]
    assert "Public" in page.locator("table.images tbody tr").first.inner_text()
    page.get_by_role("link", name="Owned by me").click()
    assert listed(page) == [mine]


def test_deprecate_and_cancel_deprecation_through_the_page(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    image = images(console, tmp_path, "old-1")["old-1"]
    ec2 = console.client("ec2")
    day = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")
    sign_in(page, images_url(console))
    page.get_by_label(f"Select {image}").check()
    page.get_by_role("button", name="Deprecate").click()
    page.get_by_label("Deprecation date").fill(day)
    page.get_by_label("Deprecation time (UTC)").fill("12:30")
    page.get_by_role("button", name="Deprecate").click()
    assert page.url == f"{images_url(console)}/{image}"
    assert page.get_by_role("status").inner_text() == f"Deprecation time set for {image}."
    found = ec2.describe_images(ImageIds=[image])["Images"][0]
    assert found["DeprecationTime"].startswith(f"{day}T12:30:00")
    assert day in page.locator(".facts").inner_text()
    page.get_by_role("button", name="Cancel deprecation").click()
    page.get_by_role("button", name="Cancel deprecation").click()
    assert page.get_by_role("status").inner_text() == f"Deprecation cancelled for {image}."
    assert "DeprecationTime" not in ec2.describe_images(ImageIds=[image])["Images"][0]


def test_a_deprecation_in_the_past_shows_the_ec2_error(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    image = images(console, tmp_path, "old-1")["old-1"]
    sign_in(page, f"{images_url(console)}/{image}/deprecate")
    day = page.get_by_label("Deprecation date")
    day.evaluate("input => input.removeAttribute('min')")  # the browser would refuse it itself
    day.fill("2020-01-01")
    page.get_by_role("button", name="Deprecate").click()
    alert = page.get_by_role("alert").inner_text()
    assert alert.startswith("InvalidParameterValue: ")
    assert "it must be in the future" in alert
    assert "Traceback" not in page.content()


def test_deregister_through_the_confirmation_with_its_snapshots(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    ec2 = console.client("ec2")
    keep = images(console, tmp_path, "keep-1")["keep-1"]
    snap = imported_snapshot(ec2, tmp_path / "doomed-root")
    doomed = register(ec2, snap, "doomed-1")
    sign_in(page, images_url(console))
    page.get_by_label(f"Select {doomed}").check()
    page.get_by_role("button", name="Deregister AMI").click()
    assert page.get_by_role("heading", name="Deregister AMI").is_visible()
    page.get_by_label("Delete associated snapshots").check()
    page.get_by_role("button", name="Deregister AMI").click()
    assert page.url == images_url(console)
    assert page.get_by_role("status").inner_text() == f"Deregistered {doomed}."
    assert listed(page) == [keep]
    owned = [i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]]
    assert owned == [keep]
    left = [s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]]
    assert snap not in left


def test_an_action_without_a_selection_asks_for_one(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    images(console, tmp_path, "one-1")
    sign_in(page, images_url(console))
    page.get_by_role("button", name="Deregister AMI").click()
    assert page.url == images_url(console)
    assert page.get_by_role("status").inner_text() == "Select an AMI first."


def test_a_hostile_name_renders_as_text(console: Server, page: "Page", tmp_path: Path) -> None:
    image = images(console, tmp_path, "xss-1", Name=XSS)["xss-1"]
    console.client("ec2").create_tags(Resources=[image], Tags=[{"Key": XSS, "Value": XSS}])
    sign_in(page, images_url(console))
    row = page.locator("table.images tbody tr").first
    assert row.locator("td").nth(1).inner_text() == XSS
    assert page.locator("img").count() == 0
    page.get_by_role("link", name=image).click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("xss-1")
    assert page.get_by_role("cell", name=XSS, exact=True).count() == 3  # Name=XSS, XSS=XSS
    assert page.locator("img").count() == 0
    assert XSS not in page.content()  # only escaped


def test_image_detail_shows_devices_permissions_and_edits_tags(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    image = images(console, tmp_path, "detail-1")["detail-1"]
    ec2 = console.client("ec2")
    ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"UserId": OTHER}]})
    sign_in(page, f"{images_url(console)}/{image}")
    assert page.get_by_role("cell", name="/dev/xvda").is_visible()
    assert page.get_by_text(f"Account {OTHER}").is_visible()
    assert "available" in page.locator(".facts").inner_text()
    page.get_by_label("Key", exact=True).fill("team")
    page.get_by_label("Value", exact=True).fill("images")
    page.get_by_role("button", name="Add tag").click()
    assert page.get_by_role("status").inner_text() == "Tag team saved."
    tags = ec2.describe_images(ImageIds=[image])["Images"][0]["Tags"]
    assert tags == [{"Key": "team", "Value": "images"}]
    page.get_by_role("button", name="Remove tag team").click()
    assert page.get_by_role("status").inner_text() == "Tag team removed."
    assert ec2.describe_images(ImageIds=[image])["Images"][0].get("Tags", []) == []


def test_errors_are_shown_as_ec2_says_them(console: Server, page: "Page") -> None:
    sign_in(page, f"{images_url(console)}/ami-0123456789abcdef0")
    alert = page.get_by_role("alert").inner_text()
    assert alert.startswith("InvalidAMIID.NotFound: ")
    answer = page.goto(f"{console.url}/console/nowhere-1/images")
    assert answer is not None and answer.status == 404


def test_the_region_is_in_the_url_and_chosen_with_the_selector(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    images(console, tmp_path, "east-1")
    sign_in(page, images_url(console))
    assert len(listed(page)) == 1
    page.get_by_label("Region").select_option("eu-west-1")
    page.get_by_role("button", name="Switch region").click()
    assert page.url == images_url(console, region="eu-west-1")
    assert listed(page) == []


def test_a_long_list_is_paged_on_the_server(console: Server, page: "Page", tmp_path: Path) -> None:
    names = [f"many-{n:03}" for n in range(57)]
    made = images(console, tmp_path, *names)
    sign_in(page, images_url(console))
    first = listed(page)
    assert len(first) == 50
    assert page.get_by_role("link", name="Previous page").count() == 0
    page.get_by_role("link", name="Next page").click()
    second = listed(page)
    assert len(second) == 7
    assert sorted(first + second) == sorted(made.values())
    assert page.get_by_role("link", name="Next page").count() == 0
    page.get_by_role("link", name="Previous page").click()
    assert listed(page) == first


def test_a_post_without_the_csrf_token_is_refused(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    image = images(console, tmp_path, "guarded-1")["guarded-1"]
    sign_in(page, images_url(console))
    cookie = session_cookie(page)
    target = f"{images_url(console)}/{image}/deregister"
    assert post(target, cookie, {"delete_snapshots": "on"}).status == 403
    assert post(target, cookie, {"csrf_token": "forged"}).status == 403
    assert post(target, None, {"csrf_token": "forged"}).status == 403
    assert post(f"{console.url}/console/signout", cookie, {}).status == 403
    assert post(f"{console.url}/console/signin", None, {"access_key_id": "test"}).status == 403
    assert console.client("ec2").describe_images(ImageIds=[image])["Images"]
    page.reload()
    assert listed(page) == [image]  # still signed in


def test_every_response_carries_the_security_headers_and_a_strict_cookie(
    console: Server, page: "Page"
) -> None:
    signin = page.goto(f"{console.url}/console/signin")
    assert signin is not None
    sign_in(page, images_url(console))
    answer = page.reload()
    assert answer is not None
    static = get(f"{console.url}/console/static/console.js")
    redirect = get(images_url(console))
    for headers in (
        signin.headers,
        answer.headers,
        dict(static.getheaders()),
        dict(redirect.getheaders()),
    ):
        lowered = {k.lower(): v for k, v in headers.items()}
        assert lowered["content-security-policy"] == CSP
        assert lowered["x-content-type-options"] == "nosniff"
        assert lowered["referrer-policy"] == "same-origin"
    (cookie,) = [c for c in page.context.cookies() if c.get("name") == "amiable-console"]
    assert cookie.get("httpOnly") is True
    assert cookie.get("sameSite") == "Strict"
    assert cookie.get("path") == "/console"
    html = page.content()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert " style=" not in html


def tab_to(page: "Page", name: str, limit: int = 60) -> None:
    """Press Tab until the focused control's accessible text (its label, or
    its own text) is `name`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => {
                const e = document.activeElement;
                const label = e.labels && e.labels.length ? e.labels[0].innerText : "";
                return (label || e.getAttribute("aria-label") || e.innerText || "").trim();
            }"""
        )
        if focused == name:
            return
    raise AssertionError(f"{name!r} never got the focus by Tab")


def test_the_keyboard_alone_signs_in_selects_an_image_and_deprecates_it(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    image = images(console, tmp_path, "kb-1")["kb-1"]
    page.goto(images_url(console))
    tab_to(page, "Access key ID")
    page.keyboard.type("test")
    tab_to(page, "Secret access key")
    page.keyboard.type("test")
    page.keyboard.press("Enter")
    page.wait_for_url(images_url(console))
    tab_to(page, f"Select {image}")
    page.keyboard.press("Space")
    assert page.get_by_label(f"Select {image}").is_checked()
    tab_to(page, "Deprecate")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{images_url(console)}/{image}/deprecate")
    day = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%d")
    tab_to(page, "Deprecation date")
    page.get_by_label("Deprecation date").fill(day)  # a date picker's segments, typed at once
    tab_to(page, "Deprecate")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{images_url(console)}/{image}")
    found = console.client("ec2").describe_images(ImageIds=[image])["Images"][0]
    assert found["DeprecationTime"].startswith(day)
