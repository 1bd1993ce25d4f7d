"""Imports from tar archives (plain, gzip, zstd): full fidelity, nothing
written outside the import's scratch directory."""

import io
import os
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
import zstandard
from sqlalchemy import select

import amiable
from amiable.catalog.regional import snapshots
from amiable.cloud.core.home import Cloud
from helpers import assert_same_tree


def make_tree(root: Path) -> Path:
    (root / "usr" / "bin").mkdir(parents=True)
    tool = root / "usr" / "bin" / "tool"
    tool.write_bytes(os.urandom(30_000))
    os.chmod(tool, 0o4755)
    os.link(tool, root / "usr" / "bin" / "tool-link")
    os.symlink("usr/bin/tool", root / "tool")
    (root / "etc").mkdir()
    (root / "etc" / "motd").write_text("from a tarball\n")
    os.utime(root / "etc" / "motd", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    return root


def tar_of(tree: Path, archive: Path) -> Path:
    """GNU tar in POSIX (pax) format keeps nanosecond mtimes; Python's tarfile does not."""
    data = subprocess.run(
        ["tar", "-C", str(tree), "--format=posix", "--xattrs", "-cf", "-", "."],
        capture_output=True,
        check=True,
    ).stdout
    if archive.name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    elif archive.name.endswith(".gz"):
        import gzip

        data = gzip.compress(data)
    archive.write_bytes(data)
    return archive


def imported(ec2: Any, url: str) -> dict[str, Any]:
    task = ec2.import_snapshot(DiskContainer={"Url": url})["ImportTaskId"]
    for _ in range(300):
        (found,) = ec2.describe_import_snapshot_tasks(ImportTaskIds=[task])["ImportSnapshotTasks"]
        if found["SnapshotTaskDetail"]["Status"] != "active":
            return dict(found["SnapshotTaskDetail"])
        time.sleep(0.1)
    raise AssertionError("import still active")


@pytest.mark.parametrize("name", ["root.tar", "root.tar.gz", "root.tar.zst"])
def test_archives_import_with_full_fidelity(tmp_path: Path, name: str) -> None:
    tree = make_tree(tmp_path / "tree")
    archive = tar_of(tree, tmp_path / name)
    cloud = Cloud(tmp_path / "home")
    ec2 = amiable.Session(cloud=cloud, region="eu-west-1").client("ec2")
    detail = imported(ec2, f"file://{archive}")
    assert detail["Status"] == "completed", detail
    with cloud.region("eu-west-1").catalog.connect() as conn:
        store_snapshot = conn.execute(
            select(snapshots.c.store_snapshot).where(
                snapshots.c.snapshot_id == detail["SnapshotId"]
            )
        ).scalar()
    cloud.region("eu-west-1").store.restore(store_snapshot, tmp_path / "out")
    assert_same_tree(tree, tmp_path / "out")
    assert not any((cloud.region("eu-west-1").root / "tmp").iterdir())  # scratch removed


def test_a_hostile_archive_writes_nothing_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in ("../outside/evil", f"{outside}/evil2"):
            member = tarfile.TarInfo(name)
            member.size = 5
            tar.addfile(member, io.BytesIO(b"pwned"))
    archive = tmp_path / "evil.tar"
    archive.write_bytes(buffer.getvalue())
    ec2 = amiable.Session(home=tmp_path / "home").client("ec2")
    imported(ec2, f"file://{archive}")
    assert list(outside.iterdir()) == []


def test_an_unreadable_archive_fails_the_task_with_a_reason(tmp_path: Path) -> None:
    archive = tmp_path / "broken.tar.zst"
    archive.write_bytes(b"this is not zstd")
    ec2 = amiable.Session(home=tmp_path / "home").client("ec2")
    detail = imported(ec2, f"file://{archive}")
    assert detail["Status"] == "deleted"
    assert "broken.tar.zst" in detail["StatusMessage"]
    assert ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] == []
