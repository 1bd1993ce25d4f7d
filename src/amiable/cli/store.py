"""`ami store ...`: the snapshot store's command line (docs/store-api.md)."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from amiable.store import Store, load_key

from .output import emit_json, human_bytes, table

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
store_option = click.option(
    "--store", "store_dir", required=True, type=click.Path(path_type=Path), help="Store directory."
)
key_option = click.option(
    "--key-file",
    type=click.Path(path_type=Path),
    help="File with the 256-bit key (32 bytes or 64 hex digits).",
)


def _key(key_file: Path | None) -> bytes | None:
    return load_key(key_file) if key_file is not None else None


def _show(as_json: bool, value: Any, human: Callable[[], None]) -> None:
    if as_json:
        emit_json(value)
    else:
        human()


def _skipped(messages: list[str]) -> None:
    for message in messages:
        click.echo(message, err=True)


@click.group()
def store() -> None:
    """Content-addressed snapshot store: snapshot, restore, copy, verify."""


@store.command()
@store_option
@json_option
def init(store_dir: Path, as_json: bool) -> None:
    """Create an empty store."""
    created = Store.init(store_dir)
    _show(
        as_json, {"store": str(created.path)}, lambda: click.echo(f"created store {created.path}")
    )


@store.command()
@store_option
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--parent", help="Snapshot to compare against: unchanged files are not read.")
@key_option
@json_option
def snapshot(
    store_dir: Path, source: Path, parent: str | None, key_file: Path | None, as_json: bool
) -> None:
    """Snapshot the directory SOURCE; prints the snapshot id."""
    result = Store.open(store_dir).snapshot(source, parent=parent, key=_key(key_file))
    _skipped(result.skipped)
    _show(as_json, result, lambda: click.echo(result.id))


@store.command()
@store_option
@click.argument("snap")
@click.argument("dest", type=click.Path(path_type=Path))
@key_option
@click.option("--force", is_flag=True, help="Restore into a non-empty directory.")
@json_option
def restore(
    store_dir: Path, snap: str, dest: Path, key_file: Path | None, force: bool, as_json: bool
) -> None:
    """Restore snapshot SNAP into DEST."""
    result = Store.open(store_dir).restore(snap, dest, key=_key(key_file), force=force)
    _skipped(result.skipped)
    _show(
        as_json,
        result,
        lambda: click.echo(
            f"restored {result.files} files, {human_bytes(result.bytes_written)} "
            f"in {result.seconds:.2f} s"
        ),
    )


@store.command(name="ls")
@store_option
@json_option
def list_snapshots(store_dir: Path, as_json: bool) -> None:
    """List the snapshots, oldest first."""
    records = Store.open(store_dir).snapshots()
    rows = [
        (
            r.id[:12],
            r.time[:19].replace("T", " "),
            (r.parent or "")[:12],
            r.files,
            human_bytes(r.logical_bytes),
            "yes" if r.encrypted else "",
            r.source,
        )
        for r in records
    ]
    columns = ("id", "time (UTC)", "parent", "files", "size", "encrypted", "source")
    _show(as_json, records, lambda: table("snapshots", columns, rows))


@store.command()
@store_option
@click.argument("snap_a")
@click.argument("snap_b")
@key_option
@json_option
def diff(store_dir: Path, snap_a: str, snap_b: str, key_file: Path | None, as_json: bool) -> None:
    """Paths added, removed and changed from SNAP_A to SNAP_B."""
    result = Store.open(store_dir).diff(snap_a, snap_b, key=_key(key_file))

    def human() -> None:
        for sign, paths in (("+", result.added), ("-", result.removed), ("M", result.changed)):
            for path in paths:
                click.echo(f"{sign} {path}")

    _show(as_json, result, human)


@store.command()
@click.option("--from", "source_dir", required=True, type=click.Path(path_type=Path))
@click.option("--to", "dest_dir", required=True, type=click.Path(path_type=Path))
@click.argument("snap")
@json_option
def copy(source_dir: Path, dest_dir: Path, snap: str, as_json: bool) -> None:
    """Copy snapshot SNAP to another store, sending only what it lacks."""
    result = Store.open(source_dir).copy(snap, Store.open(dest_dir))
    _show(
        as_json,
        result,
        lambda: click.echo(
            f"copied {result.id[:12]}: {result.objects_sent} objects, "
            f"{human_bytes(result.bytes_sent)} sent"
        ),
    )


@store.command()
@store_option
@click.argument("snap")
@json_option
def delete(store_dir: Path, snap: str, as_json: bool) -> None:
    """Delete snapshot SNAP (its data goes at the next gc)."""
    snap_id = Store.open(store_dir).delete(snap)
    _show(as_json, {"id": snap_id}, lambda: click.echo(f"deleted {snap_id}"))


@store.command()
@store_option
@json_option
def gc(store_dir: Path, as_json: bool) -> None:
    """Remove data that no snapshot references."""
    result = Store.open(store_dir).gc()
    _show(
        as_json,
        result,
        lambda: click.echo(
            f"removed {result.objects_removed} objects, {result.packs_removed} packs; "
            f"rewrote {result.packs_rewritten} packs; freed {human_bytes(result.bytes_freed)}"
        ),
    )


@store.command()
@store_option
@click.option("--read-data", is_flag=True, help="Also read, decompress and re-hash every object.")
@key_option
@json_option
def fsck(store_dir: Path, read_data: bool, key_file: Path | None, as_json: bool) -> None:
    """Check the store; exits 1 when anything is damaged (data no snapshot
    needs is not damage: it is reported as reclaimable by gc)."""
    report = Store.open(store_dir).fsck(read_data=read_data, key=_key(key_file))

    def human() -> None:
        for message in report.errors:
            click.echo(message)
        for blob_id, snaps in report.damaged.items():
            click.echo(f"damaged {blob_id}: needed by {', '.join(s[:12] for s in snaps)}")
        if report.ok:
            how = "read" if read_data else "checked"
            click.echo(f"no errors ({report.objects_checked} objects {how})")
        click.echo(_reclaimable(report.reclaimable_objects, report.reclaimable_bytes))

    _show(as_json, report, human)
    if not report.ok:
        raise SystemExit(1)


def _reclaimable(objects: int | None, size: int | None) -> str:
    if objects is None or size is None:
        return "reclaimable data not counted: another process is using the store"
    if not size:
        return "nothing to reclaim"
    return (
        f"{human_bytes(size)} reclaimable ({objects} objects no snapshot needs): "
        "'ami store gc' frees it"
    )


@store.command()
@store_option
@json_option
def stats(store_dir: Path, as_json: bool) -> None:
    """Logical size, stored size and deduplication."""
    s = Store.open(store_dir).stats()
    rows = [
        ("snapshots", s.snapshots),
        ("logical", human_bytes(s.logical_bytes)),
        ("stored", human_bytes(s.stored_bytes)),
        ("dedup ratio", f"{s.dedup_ratio:.2f}"),
        ("objects", s.objects),
        ("packs", s.packs),
    ]
    _show(as_json, s, lambda: table("store", ("", ""), rows))
