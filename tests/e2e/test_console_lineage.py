"""An image's page on a real `ami serve`, in Debian's Chromium: the Lineage
graph (inline SVG) of a family of images copied across regions with boto3's
CopyImage, its links, the image marked, a parent no longer visible greyed,
hostile names shown as text; and *Used by* (DescribeImageReferences): a
launch template and a Parameter Store parameter naming the image."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from console_setup import XSS, loaded
from serving import Server, start_server

from amiable.console.lineage import DEEPER, MAX_GENERATIONS
from api_helpers import cloud_with_other_account, imported_snapshot, register
from console_browser import browser_tab, require_chromium, screenshot, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

HOME_REGION, COPY_REGION, OTHER_REGION = "us-east-1", "eu-west-1", "us-west-2"
LIST = "The images of the lineage, root first"


def copied(server: Server, source: str, source_region: str, region: str, name: str) -> str:
    """A copy of `source` made in `region` (CopyImage there), once available."""
    ec2 = server.client("ec2", region=region)
    image_id = ec2.copy_image(SourceImageId=source, SourceRegion=source_region, Name=name)
    ec2.get_waiter("image_available").wait(
        ImageIds=[image_id["ImageId"]], WaiterConfig={"Delay": 0.2}
    )
    return str(image_id["ImageId"])


@dataclass
class Family:
    """root (us-east-1) -> child (its copy in eu-west-1) -> west (a copy of the
    child in us-west-2) -> grandchild (a copy of west, in us-west-2); and
    back (the child copied back to us-east-1). `west` is named with markup."""

    server: Server
    root: str
    child: str
    west: str
    back: str
    grandchild: str

    def url(self, region: str, image_id: str) -> str:
        return f"{self.server.url}/console/{region}/images/{image_id}"


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Family]:
    require_chromium()
    home = tmp_path_factory.mktemp("lineage") / "home"
    cloud_with_other_account(home).close()
    server = start_server(home)
    try:
        ec2 = server.client("ec2")
        snapshot = imported_snapshot(ec2, home.parent / "root")
        root = register(ec2, snapshot, "golden-root")
        child = copied(server, root, HOME_REGION, COPY_REGION, "golden-eu")
        west = copied(server, child, COPY_REGION, OTHER_REGION, "golden-west")
        back = copied(server, child, COPY_REGION, HOME_REGION, "golden-back")
        grandchild = copied(server, west, OTHER_REGION, OTHER_REGION, "golden-west-2")
        server.client("ec2", region=OTHER_REGION).create_tags(
            Resources=[west], Tags=[{"Key": "Name", "Value": XSS}]
        )
        yield Family(server, root, child, west, back, grandchild)
    finally:
        server.stop()


@pytest.fixture
def tab(family: Family, browser: "Browser") -> Iterator["Page"]:
    with browser_tab(browser) as page:
        yield page


def listed(page: "Page") -> list[Any]:
    """The items of the list of the lineage's images, root first."""
    return loaded(page).get_by_role("list", name=LIST).get_by_role("listitem").all()


def created(family: Family, region: str, image_id: str) -> str:
    """The image's creation date as the console shows it (to the minute, UTC)."""
    ec2 = family.server.client("ec2", region=region)
    date = ec2.describe_images(ImageIds=[image_id])["Images"][0]["CreationDate"]
    return f"{date[:10]} {date[11:16]} UTC"


def graph_links(page: "Page") -> dict[str, str]:
    """The graph's nodes that are links: image id -> href."""
    return {
        str(link.get_attribute("data-image-id")): str(link.get_attribute("href"))
        for link in loaded(page).locator("svg.lineage a.lineage-node").all()
    }


def graph_edges(page: "Page") -> set[tuple[str, str]]:
    return {
        (str(edge.get_attribute("data-from")), str(edge.get_attribute("data-to")))
        for edge in loaded(page).locator("svg.lineage path.lineage-edge").all()
    }


def boxes(page: "Page") -> dict[str, Any]:
    """Where each node's box is drawn on the screen, by image id."""
    return {
        str(node.get_attribute("data-image-id")): node.locator("rect").bounding_box()
        for node in loaded(page).locator("svg.lineage .lineage-node").all()
    }


def text_outside_its_node(page: "Page") -> list[str]:
    """The texts of the graph's nodes drawn past their node's box."""
    outside = []
    for node in loaded(page).locator("svg.lineage .lineage-node").all():
        box = node.locator("rect").bounding_box()
        assert box is not None
        for text in node.locator("text").all():
            line = text.bounding_box()
            assert line is not None
            if line["x"] + line["width"] > box["x"] + box["width"] or line["x"] < box["x"]:
                outside.append(str(text.text_content()))
    return outside


def overlap(a: Any, b: Any) -> bool:
    return bool(
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def test_the_graph_shows_ancestors_and_descendants_across_regions_with_their_links(
    family: Family, tab: "Page"
) -> None:
    refused: list[str] = []  # what the CSP refused, as Chromium reports it
    tab.on("console", lambda message: refused.append(message.text))
    sign_in(tab, family.url(COPY_REGION, family.child))
    graph = tab.get_by_role("img", name=f"Lineage of {family.child}: 1 ancestor, 3 descendants")
    assert graph.is_visible()
    assert graph_links(tab) == {
        family.root: f"/console/{HOME_REGION}/images/{family.root}",
        family.child: f"/console/{COPY_REGION}/images/{family.child}",
        family.west: f"/console/{OTHER_REGION}/images/{family.west}",
        family.back: f"/console/{HOME_REGION}/images/{family.back}",
        family.grandchild: f"/console/{OTHER_REGION}/images/{family.grandchild}",
    }
    assert graph_edges(tab) == {
        (family.root, family.child),
        (family.child, family.west),
        (family.child, family.back),
        (family.west, family.grandchild),
    }
    current = tab.locator("svg.lineage a[aria-current=page]")
    assert current.get_attribute("data-image-id") == family.child
    assert "current" in str(current.get_attribute("class"))
    assert (current.locator(".lineage-where").text_content() or "").startswith(COPY_REGION)
    placed = boxes(tab)
    ids = list(placed)
    assert not [(a, b) for a in ids for b in ids if a < b and overlap(placed[a], placed[b])]
    assert text_outside_its_node(tab) == []
    x = {image_id: box["x"] for image_id, box in placed.items()}
    assert x[family.root] < x[family.child] < x[family.west] == x[family.back]
    assert x[family.back] < x[family.grandchild]
    items = listed(tab)
    assert [item.get_by_role("link").inner_text() for item in items] == [
        family.root,
        family.child,
        family.west,
        family.back,
        family.grandchild,
    ]
    assert items[1].get_by_role("link").get_attribute("aria-current") == "page"
    assert (
        items[4]
        .inner_text()
        .endswith(
            f"Descendant · golden-west-2 · {OTHER_REGION} · "
            f"{created(family, OTHER_REGION, family.grandchild)} · from {family.west}"
        )
    )
    assert [text for text in refused if "Content Security Policy" in text] == []
    tab.goto(family.url(COPY_REGION, family.child) + "#lineage-heading")
    screenshot(tab, "console-lineage.png")


def test_clicking_a_node_opens_that_image_in_its_region(family: Family, tab: "Page") -> None:
    sign_in(tab, family.url(COPY_REGION, family.child))
    tab.locator(f'svg.lineage a[data-image-id="{family.root}"]').click()
    tab.wait_for_url(family.url(HOME_REGION, family.root))
    assert family.root in tab.get_by_role("heading", level=1).inner_text()
    label = f"Lineage of {family.root}: 0 ancestors, 4 descendants"
    assert tab.get_by_role("img", name=label).is_visible()
    current = tab.locator("svg.lineage a[aria-current=page]")
    assert current.get_attribute("data-image-id") == family.root
    tab.locator(f'svg.lineage a[data-image-id="{family.grandchild}"]').click()
    tab.wait_for_url(family.url(OTHER_REGION, family.grandchild))
    label = f"Lineage of {family.grandchild}: 3 ancestors, 0 descendants"
    assert tab.get_by_role("img", name=label).is_visible()
    tab.get_by_role("list", name=LIST).get_by_role("link", name=family.child).click()
    tab.wait_for_url(family.url(COPY_REGION, family.child))


def test_a_parent_no_longer_visible_is_greyed_with_its_id_only(family: Family, tab: "Page") -> None:
    server = family.server
    ec2 = server.client("ec2")
    gone = register(ec2, imported_snapshot(ec2, family.server.home.parent / "gone"), "gone")
    kept = copied(server, gone, HOME_REGION, "us-east-2", "kept")
    ec2.deregister_image(ImageId=gone)
    sign_in(tab, family.url("us-east-2", kept))
    label = f"Lineage of {kept}: 1 ancestor, 0 descendants"
    assert tab.get_by_role("img", name=label).is_visible()
    assert set(graph_links(tab)) == {kept}
    parent = tab.locator(f'svg.lineage g.lineage-node.unseen[data-image-id="{gone}"]')
    assert [t.text_content() for t in parent.locator("text").all()] == [gone]
    assert parent.locator("rect").evaluate("r => getComputedStyle(r).strokeDasharray") != "none"
    assert graph_edges(tab) == {(gone, kept)}
    first = listed(tab)[0]
    assert first.get_by_role("link").count() == 0
    assert first.inner_text() == (
        f"{gone} Ancestor, not visible to you (deregistered, or not shared with you)"
        f" · {HOME_REGION}"
    )


def test_descendants_are_followed_five_generations_down_and_the_cut_is_said(
    family: Family, tab: "Page"
) -> None:
    server, region = family.server, "ca-central-1"
    ec2 = server.client("ec2", region=region)
    line = [register(ec2, imported_snapshot(ec2, server.home.parent / "deep"), "deep-0")]
    for generation in range(1, MAX_GENERATIONS + 2):
        line.append(copied(server, line[-1], region, region, f"deep-{generation}"))
    sign_in(tab, family.url(region, line[0]))
    label = f"Lineage of {line[0]}: 0 ancestors, {MAX_GENERATIONS} descendants ({DEEPER})"
    assert tab.get_by_role("img", name=label).is_visible()
    assert list(graph_links(tab)) == line[: MAX_GENERATIONS + 1]
    assert DEEPER in tab.locator("section", has=tab.locator("#lineage-heading")).inner_text()
    tab.goto(family.url(region, line[1]))
    label = f"Lineage of {line[1]}: 1 ancestor, {MAX_GENERATIONS} descendants"
    assert tab.get_by_role("img", name=label).is_visible()


def test_a_name_with_markup_is_text_inside_the_graph(family: Family, tab: "Page") -> None:
    sign_in(tab, family.url(COPY_REGION, family.child))
    node = tab.locator(f'svg.lineage a[data-image-id="{family.west}"]')
    assert node.locator(".lineage-name").text_content() == XSS
    assert XSS in str(node.locator("title").text_content())
    assert tab.locator("svg img, svg foreignObject").count() == 0
    assert tab.locator("img").count() == 0
    assert XSS not in tab.content()  # only escaped


def test_used_by_lists_launch_templates_and_parameters_naming_the_image(
    family: Family, tab: "Page"
) -> None:
    ec2 = family.server.client("ec2", region=COPY_REGION)
    made = ec2.create_launch_template(
        LaunchTemplateName="golden-web", LaunchTemplateData={"ImageId": family.child}
    )["LaunchTemplate"]
    for image_id in (family.child, family.root):  # version 3 names another image
        ec2.create_launch_template_version(
            LaunchTemplateId=made["LaunchTemplateId"], LaunchTemplateData={"ImageId": image_id}
        )
    ssm = family.server.client("ssm", region=COPY_REGION)
    ssm.put_parameter(
        Name="/golden/latest", Value=family.child, Type="String", DataType="aws:ec2:image"
    )
    sign_in(tab, family.url(COPY_REGION, family.child))
    templates = tab.get_by_role("table", name="Launch templates")
    row = templates.get_by_role("row", name=made["LaunchTemplateId"])
    assert [c.inner_text() for c in row.get_by_role("cell").all()] == [
        made["LaunchTemplateId"],
        "golden-web",
        "1, 2",
    ]
    link = row.get_by_role("link", name=made["LaunchTemplateId"])
    assert link.get_attribute("href") == (
        f"/console/{COPY_REGION}/launch-templates/{made['LaunchTemplateId']}"
    )
    parameters = tab.get_by_role("list", name="Parameters")
    assert [item.inner_text() for item in parameters.get_by_role("listitem").all()] == [
        "/golden/latest"
    ]
    tab.goto(family.url(HOME_REGION, family.back))
    assert tab.get_by_text("Nothing in this region uses this image.").is_visible()
