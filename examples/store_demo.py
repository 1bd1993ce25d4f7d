"""The snapshot store, end to end, on a real directory tree.

Copies Python's standard library (a real tree of a few thousand files that
every machine running this has), snapshots it, changes it, snapshots again
incrementally, shows the diff, restores and verifies every file, copies the
new snapshot to a second store ("another region"), checks both stores and
prints the figures. Run it with `make demo`.
"""

import filecmp
import os
import shutil
import sysconfig
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from amiable.store import Store

console = Console()


def step(text: str) -> None:
    console.print(f"\n[bold cyan]==>[/] {text}")


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def change_some_files(tree: Path) -> None:
    """Edit ten files, add one, remove one: a small configuration change."""
    files = sorted(p for p in tree.rglob("*.py") if p.is_file() and not p.is_symlink())
    for path in files[:: max(1, len(files) // 10)][:10]:
        with path.open("a") as f:
            f.write("\n# changed by the amiable demo\n")
    (tree / "etc-motd").write_text("Welcome to a golden image.\n")
    files[-1].unlink()


def same_tree(a: Path, b: Path) -> bool:
    compared = filecmp.dircmp(a, b)
    if compared.left_only or compared.right_only or compared.diff_files or compared.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, compared.common_files, shallow=False)
    if mismatch or errors:
        return False
    return all(same_tree(a / d, b / d) for d in compared.common_dirs)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="amiable-demo-"))
    try:
        source = work / "tree"
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        step(f"Copying a real tree to snapshot: {stdlib}")
        shutil.copytree(
            stdlib, source, symlinks=True, ignore=shutil.ignore_patterns("site-packages")
        )

        store = Store.init(work / "store-us-east-1")
        step("Cold snapshot")
        first = store.snapshot(source)
        console.print(
            f"snapshot [green]{first.id[:12]}[/]: {first.files} files in {first.dirs} directories, "
            f"read {mib(first.bytes_read)}, stored {mib(first.bytes_new_stored)} "
            f"in {first.seconds:.2f} s"
        )

        step("Snapshot again, unchanged, with the first as parent")
        again = store.snapshot(source, parent=first.id)
        console.print(
            f"read {again.bytes_read} bytes, stored {again.bytes_new_stored} new bytes "
            f"in {again.seconds:.2f} s"
        )

        step("Change ten files, add one, remove one; snapshot incrementally")
        change_some_files(source)
        second = store.snapshot(source, parent=first.id)
        console.print(
            f"snapshot [green]{second.id[:12]}[/]: read {mib(second.bytes_read)}, "
            f"stored {second.bytes_new_stored} new bytes in {second.seconds:.2f} s"
        )
        diff = store.diff(first.id, second.id)
        for sign, paths in (("+", diff.added), ("-", diff.removed), ("M", diff.changed)):
            for path in paths[:6]:
                console.print(f"  {sign} {path}")

        step("Restore the new snapshot and verify every file")
        restored = store.restore(second.id, work / "restored")
        identical = same_tree(source, work / "restored")
        console.print(
            f"restored {restored.files} files in {restored.seconds:.2f} s; "
            f"identical to the source: [bold]{'yes' if identical else 'NO'}[/]"
        )

        step("Copy both snapshots to a second store; the child sends only what changed")
        other = Store.init(work / "store-eu-west-1")
        full = store.copy(first.id, other)
        child = store.copy(second.id, other)
        console.print(
            f"parent: {full.objects_sent} objects, {mib(full.bytes_sent)}; "
            f"child: {child.objects_sent} objects, {child.bytes_sent} bytes"
        )

        step("Check both stores, reading every byte")
        for s in (store, other):
            report = s.fsck(read_data=True)
            status = "[green]ok[/]" if report.ok else f"[red]{report.errors}[/]"
            console.print(f"{s.path.name}: {report.objects_checked} objects read, {status}")

        stats = store.stats()
        table = Table(title="store-us-east-1", title_justify="left")
        for column in ("snapshots", "logical", "stored", "dedup ratio"):
            table.add_column(column)
        table.add_row(
            str(stats.snapshots),
            mib(stats.logical_bytes),
            mib(stats.stored_bytes),
            f"{stats.dedup_ratio:.2f}x",
        )
        console.print(table)
        if not identical:
            raise SystemExit("restored tree differs from the source")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    os.umask(0o022)
    main()
