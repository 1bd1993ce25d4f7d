"""Long operations in the console of a real `ami serve`, in Debian's Chromium:
the Import tasks page shows an import at work (fed through a named pipe, so
it lasts as long as the test wants) and reloads itself until it is done.
(A pending AMI's page following it until available is in
test_console_images and test_console_instances.)"""

from pathlib import Path
from typing import TYPE_CHECKING

from console_setup import REGION
from serving import Server

from console_browser import sign_in
from import_helpers import Feed, small_tree, tar_bytes, wait_for_message

if TYPE_CHECKING:
    from playwright.sync_api import Page

PATIENCE = 60_000  # ms


def test_the_import_tasks_page_follows_an_import_until_it_is_done(
    console: Server, page: "Page", tmp_path: Path
) -> None:
    archive = tar_bytes(small_tree(tmp_path / "tree"))
    feed = Feed(tmp_path / "root.tar")
    ec2 = console.client("ec2")
    started = ec2.import_snapshot(
        Description="nightly <b>root</b>", DiskContainer={"Url": f"file://{feed.path}"}
    )
    task_id = started["ImportTaskId"]
    try:
        feed.write(archive[: len(archive) // 2])
        wait_for_message(ec2, task_id, "unpacking root.tar")
        sign_in(page, f"{console.url}/console/{REGION}/imports")
        row = page.locator("table.imports tbody tr", has_text=task_id)
        assert "active" in row.inner_text()
        assert "nightly <b>root</b>" in row.inner_text()  # as text
        assert page.locator("meta[http-equiv=refresh]").count() == 1
        feed.write(archive[len(archive) // 2 :])
    finally:
        feed.close()
    page.locator("table.imports tbody tr", has_text="completed").wait_for(timeout=PATIENCE)
    snapshot = ec2.describe_import_snapshot_tasks(ImportTaskIds=[task_id])["ImportSnapshotTasks"]
    made = snapshot[0]["SnapshotTaskDetail"]["SnapshotId"]
    assert made in page.locator("table.imports tbody tr", has_text=task_id).inner_text()
    assert "100%" in page.locator("table.imports tbody tr", has_text=task_id).inner_text()
    assert page.locator("meta[http-equiv=refresh]").count() == 0  # nothing at work
