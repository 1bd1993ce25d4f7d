"""`ami bootstrap busybox|debian`: base images owned by the system account
with the owner alias `amazon`, public, so `Owners=["amazon"]` finds them."""

import secrets
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .context import Settings, settings

if TYPE_CHECKING:
    from amiable.session import Session

SYSTEM_ACCOUNT = "137112412989"  # the owner id of Amazon's public images
SYSTEM_ALIAS = "amazon"


def _system_session(s: Settings) -> "Session":
    if s.endpoint_url or s.profile:
        raise click.UsageError("ami bootstrap works on a data home (--home), not over the API")
    from amiable.session import Session

    cloud = s.cloud()
    cloud.accounts.ensure(
        SYSTEM_ACCOUNT, SYSTEM_ALIAS, "AKIA" + secrets.token_hex(8).upper(), secrets.token_hex(20)
    )
    return Session(cloud=cloud, account=SYSTEM_ACCOUNT, region=s.region)


def _built(build: Callable[[], Path]) -> Path:
    from amiable.tools.rootfs import RootfsError

    try:
        return build()
    except RootfsError as exc:
        raise click.ClickException(str(exc)) from exc


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M")


@click.group()
def bootstrap() -> None:
    """Build base images (owned by the `amazon` account, public)."""


@bootstrap.command()
@click.option("--name", help="Image name; amiable-busybox-<date> when omitted.")
@settings
def busybox(s: Settings, name: str | None) -> None:
    """A minimal image from the host's static busybox (installed if missing)."""
    from amiable.tools import base_images, rootfs

    session = _system_session(s)
    with tempfile.TemporaryDirectory(prefix="ami-bootstrap-") as scratch:
        root = _built(lambda: rootfs.busybox(Path(scratch) / "root"))
        image = base_images.publish(
            session.client("ec2"),
            root,
            name or f"amiable-busybox-{_stamp()}",
            "BusyBox base image built by ami bootstrap",
        )
    click.echo(image)


@bootstrap.command()
@click.option("--suite", default="bookworm", show_default=True)
@click.option("--variant", default="minbase", show_default=True)
@click.option("--name", help="Image name; debian-<suite>-<date> when omitted.")
@settings
def debian(s: Settings, suite: str, variant: str, name: str | None) -> None:
    """A Debian image with debootstrap (takes minutes)."""
    from amiable.tools import base_images, rootfs

    session = _system_session(s)
    with tempfile.TemporaryDirectory(prefix="ami-bootstrap-") as scratch:
        root = _built(lambda: rootfs.debian(Path(scratch) / "root", suite, variant))
        image = base_images.publish(
            session.client("ec2"),
            root,
            name or f"debian-{suite}-{_stamp()}",
            f"Debian {suite} ({variant}) built by ami bootstrap",
        )
    click.echo(image)
