"""What the console's end-to-end tests set up through boto3 and where their
pages are: images of the default account, and the URLs of the AMIs pages.
The `console` (a real `ami serve` with a second account) and `page` (a
browser tab) fixtures are in conftest.py."""

from pathlib import Path
from typing import TYPE_CHECKING

from serving import Server

from api_helpers import imported_snapshot, register

if TYPE_CHECKING:
    from playwright.sync_api import Page

DEFAULT = "000000000000"
REGION = "us-east-1"
XSS = "<img src=x onerror=alert(1)>"


def images_url(server: Server, region: str = REGION, query: str = "") -> str:
    return f"{server.url}/console/{region}/images{query}"


def images(server: Server, tmp_path: Path, *names: str, **tags: str) -> dict[str, str]:
    """Images of the default account named `names` (one snapshot), by name."""
    ec2 = server.client("ec2")
    snap = imported_snapshot(ec2, tmp_path / "root")
    made = {name: register(ec2, snap, name) for name in names}
    if tags:
        ec2.create_tags(
            Resources=list(made.values()), Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
        )
    return made


def loaded(page: "Page") -> "Page":
    """The page once the document it navigated to has loaded. A click that
    submits a form returns when the navigation is committed, before the new
    document is parsed, and `locator.all()` does not wait: read then, a table
    has no rows yet."""
    page.wait_for_load_state()
    return page
