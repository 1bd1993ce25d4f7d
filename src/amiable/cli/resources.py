"""`ami images`, `ami snapshots`, `ami volumes`: readable tables of the
region's resources, and `ami import`; through the EC2 API like any other
client (`--json` for scripts)."""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from .context import Settings, settings
from .output import emit_json, table

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def filter_option(examples: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--filter",
        "filters",
        multiple=True,
        metavar="NAME=VALUE[,VALUE]",
        help=f"An EC2 filter, e.g. {examples} (repeatable).",
    )


def parse_filters(filters: tuple[str, ...]) -> list[dict[str, Any]]:
    parsed = []
    for text in filters:
        name, sep, values = text.partition("=")
        if not sep or not name:
            raise click.UsageError(f"--filter {text!r}: expected NAME=VALUE[,VALUE]")
        parsed.append({"Name": name, "Values": values.split(",")})
    return parsed


def _tag(resource: dict[str, Any], key: str) -> str:
    return next((t["Value"] for t in resource.get("Tags", []) if t["Key"] == key), "")


@click.command()
@click.option(
    "--owner",
    "owners",
    multiple=True,
    default=("self",),
    show_default=True,
    help="self, an account id or an alias such as amazon (base images); repeatable.",
)
@filter_option("name=golden-* or tag:Env=prod")
@json_option
@settings
def images(s: Settings, owners: tuple[str, ...], filters: tuple[str, ...], as_json: bool) -> None:
    """List images (AMIs) in the region, disabled and deprecated ones included,
    with who they are shared with."""
    ec2 = s.client("ec2")
    pages = ec2.get_paginator("describe_images").paginate(
        Owners=list(owners),
        Filters=parse_filters(filters),
        IncludeDeprecated=True,
        IncludeDisabled=True,
    )
    found = sorted((i for p in pages for i in p["Images"]), key=lambda i: i.get("CreationDate", ""))
    if as_json:
        emit_json(found)
        return
    if not found and owners == ("self",):
        click.echo(
            f"no images of yours in {s.region}; base images (ami bootstrap) belong to "
            "amazon: ami images --owner amazon",
            err=True,
        )
    rows = [
        (
            i["ImageId"],
            i.get("Name", ""),
            i.get("State", ""),
            i.get("CreationDate", "")[:16].replace("T", " "),
            _sharing(ec2, i),
            _deprecation(i),
            i.get("DeregistrationProtection", "disabled").replace("disabled-until ", "until ")[:22],
        )
        for i in found
    ]
    columns = ("image", "name", "state", "created (UTC)", "sharing", "deprecation", "protection")
    table(f"images in {s.region}", columns, rows)


def _sharing(ec2: Any, image: dict[str, Any]) -> str:
    """public, private, or whom the owner shares it with (read for the caller's own images)."""
    from botocore.exceptions import ClientError  # boto3 stays out of `ami store`'s start-up

    if image.get("Public"):
        return "public"
    try:
        granted = ec2.describe_image_attribute(
            ImageId=image["ImageId"], Attribute="launchPermission"
        )["LaunchPermissions"]
    except ClientError:  # another account's image, shared with the caller
        return "shared with you"
    if not granted:
        return "private"
    return ", ".join(str(next(iter(g.values()))).rsplit("/", 1)[-1] for g in granted)


def _deprecation(image: dict[str, Any]) -> str:
    when = image.get("DeprecationTime")
    if not when:
        return ""
    passed = str(when) <= datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ("deprecated " if passed else "from ") + str(when)[:16].replace("T", " ")


@click.command()
@click.option("--owner", "owners", multiple=True, default=("self",), show_default=True)
@filter_option("status=completed or tag:Env=prod")
@json_option
@settings
def snapshots(
    s: Settings, owners: tuple[str, ...], filters: tuple[str, ...], as_json: bool
) -> None:
    """List snapshots in the region."""
    pages = (
        s.client("ec2")
        .get_paginator("describe_snapshots")
        .paginate(OwnerIds=list(owners), Filters=parse_filters(filters))
    )
    found = sorted((x for p in pages for x in p["Snapshots"]), key=lambda x: x["StartTime"])
    if as_json:
        emit_json(found)
        return
    rows = [
        (
            x["SnapshotId"],
            x["State"],
            x.get("Progress", ""),
            f"{x.get('VolumeSize', 0)} GiB",
            x["StartTime"].strftime("%Y-%m-%d %H:%M:%S"),
            _tag(x, "Name") or x.get("Description", ""),
        )
        for x in found
    ]
    columns = ("snapshot", "state", "progress", "size", "started", "name / description")
    table(f"snapshots in {s.region}", columns, rows)


@click.command(name="import")
@click.argument("path", type=click.Path(exists=True, resolve_path=True))
@click.option("--name", help="Name of the new image (required unless --no-wait).")
@click.option("--description", default="", help="Description of the new image.")
@click.option("--architecture", default="x86_64", show_default=True)
@click.option("--no-wait", is_flag=True, help="Start an ImportImage task, print its id and return.")
@json_option
@settings
def import_image(
    s: Settings,
    path: str,
    name: str | None,
    description: str,
    architecture: str,
    no_wait: bool,
    as_json: bool,
) -> None:
    """Import PATH (a directory, or a .tar, .tar.gz or .tar.zst archive) as an
    image; prints the image id.

    The name is checked first; then ImportSnapshot, waited for as long as it
    takes while its progress shows on stderr, then RegisterImage with it as
    the root volume. Ctrl-C cancels the task (CancelImportTask) and leaves
    nothing. Public API calls only, so it works against any amiable endpoint.
    With --no-wait, an ImportImage task makes the image (named after the
    task, as EC2 names imported images) and its id is printed at once.
    """
    from amiable.tools.image_import import import_image as imported_as

    from .progress import Display, long_work

    ec2 = s.client("ec2")
    url = f"file://{path}"
    if no_wait:
        _start_image_import(s, ec2, url, name, description, architecture, as_json)
        return
    if not name:
        raise click.UsageError("--name is required (unless --no-wait)")
    with long_work(), Display(f"importing {Path(path).name}") as display:
        done = imported_as(ec2, url, name, description, display, Architecture=architecture)
    if as_json:
        emit_json(
            {"ImageId": done.image_id, "SnapshotId": done.snapshot_id, "ImportTaskId": done.task_id}
        )
    else:
        click.echo(done.image_id)


def _start_image_import(
    s: Settings,
    ec2: Any,
    url: str,
    name: str | None,
    description: str,
    architecture: str,
    as_json: bool,
) -> None:
    if name:
        raise click.UsageError(
            "--no-wait imports with ImportImage, which names the image after its task: "
            "leave out --name"
        )
    task = ec2.import_image(
        DiskContainers=[{"Url": url}], Description=description, Architecture=architecture
    )["ImportTaskId"]
    if as_json:
        emit_json({"ImportTaskId": task})
    else:
        click.echo(task)
    if s.in_process:
        click.echo(
            f"{task} runs in this process: it ends when the import does (Ctrl-C cancels it)",
            err=True,
        )


@click.command()
@filter_option("status=available or tag:Env=prod")
@json_option
@settings
def volumes(s: Settings, filters: tuple[str, ...], as_json: bool) -> None:
    """List volumes in the region."""
    pages = (
        s.client("ec2").get_paginator("describe_volumes").paginate(Filters=parse_filters(filters))
    )
    found = sorted((v for p in pages for v in p["Volumes"]), key=lambda v: v["CreateTime"])
    if as_json:
        emit_json(found)
        return
    rows = [
        (
            v["VolumeId"],
            v["State"],
            f"{v['Size']} GiB",
            v.get("VolumeType", ""),
            v["AvailabilityZone"],
            v.get("SnapshotId", ""),
            _tag(v, "Name"),
        )
        for v in found
    ]
    columns = ("volume", "state", "size", "type", "zone", "from snapshot", "name")
    table(f"volumes in {s.region}", columns, rows)
