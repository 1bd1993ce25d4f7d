"""`ami bootstrap busybox|debian`: base images owned by the system account
with the owner alias `amazon`, public, so `Owners=["amazon"]` finds them.

The name is checked before anything is built; the import shows its progress
and is waited for as long as it takes; a failure or Ctrl-C leaves nothing
(`tools.base_images`)."""

import secrets
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .context import Settings, settings

if TYPE_CHECKING:
    from amiable.session import Session

SYSTEM_ACCOUNT = "137112412989"  # the owner id of Amazon's public images
SYSTEM_ALIAS = "amazon"


def _system_session(s: Settings) -> "Session":
    if not s.in_process:
        raise click.UsageError("ami bootstrap works on a data home (--home), not over the API")
    from amiable.session import Session

    cloud = s.cloud()
    cloud.accounts.ensure(
        SYSTEM_ACCOUNT, SYSTEM_ALIAS, "AKIA" + secrets.token_hex(8).upper(), secrets.token_hex(20)
    )
    return Session(cloud=cloud, account=SYSTEM_ACCOUNT, region=s.region)


def _build_and_publish(
    s: Settings, name: str, description: str, build: Callable[[Path], Path]
) -> None:
    """Check the name, build the root file system, publish it; prints the image id."""
    from amiable.tools import base_images
    from amiable.tools.image_import import check_name, check_name_rules
    from amiable.tools.rootfs import RootfsError

    from .progress import Display, long_work

    check_name_rules(name)  # before the system account is made, if it is not yet
    ec2: Any = _system_session(s).client("ec2")
    with long_work():
        check_name(ec2, name)
        with tempfile.TemporaryDirectory(prefix="ami-bootstrap-") as scratch:
            try:
                root = build(Path(scratch) / "root")
            except RootfsError as exc:
                raise click.ClickException(str(exc)) from exc
            with Display(f"publishing {name}") as display:
                image = base_images.publish(ec2, root, name, description, display)
    click.echo(image)


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
    from amiable.tools import rootfs

    _build_and_publish(
        s,
        name or f"amiable-busybox-{_stamp()}",
        "BusyBox base image built by ami bootstrap",
        rootfs.busybox,
    )


@bootstrap.command()
@click.option("--suite", default="bookworm", show_default=True)
@click.option("--variant", default="minbase", show_default=True)
@click.option("--name", help="Image name; debian-<suite>-<date> when omitted.")
@settings
def debian(s: Settings, suite: str, variant: str, name: str | None) -> None:
    """A Debian image with debootstrap (takes minutes)."""
    from amiable.tools import rootfs

    _build_and_publish(
        s,
        name or f"debian-{suite}-{_stamp()}",
        f"Debian {suite} ({variant}) built by ami bootstrap",
        lambda root: rootfs.debian(root, suite, variant),
    )
