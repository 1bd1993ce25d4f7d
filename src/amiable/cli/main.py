"""The `ami` group and its error handling: one line on stderr, exit status 1."""

import os
import sys
from pathlib import Path
from typing import Any

import click

from amiable import __version__
from amiable.catalog.errors import CatalogError
from amiable.store.errors import StoreError

from .accounts import accounts
from .context import Settings
from .serve import serve
from .store import store


class Ami(click.Group):
    """Turns expected failures into one readable line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (StoreError, CatalogError) as exc:
            fail(str(exc))
        except OSError as exc:
            where = (
                f": {os.fsdecode(exc.filename)}" if isinstance(exc.filename, str | bytes) else ""
            )
            fail(f"{exc.strerror or exc}{where}")
        except KeyboardInterrupt:
            fail("interrupted")


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.group(cls=Ami)
@click.version_option(__version__, prog_name="ami")
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    envvar="AMI_HOME",
    help="Data home (default $AMI_HOME, else ~/.local/share/amiable).",
)
@click.option("--region", default="us-east-1", show_default=True, help="Region to act in.")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, region: str) -> None:
    """amiable: machine images on one Linux host, through the EC2 API."""
    ctx.obj = Settings(home=home, region=region)


cli.add_command(store)
cli.add_command(serve)
cli.add_command(accounts)


def main() -> None:
    try:
        cli(standalone_mode=False)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        click.echo(f"error: {exc.format_message()}{hint}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        fail(exc.format_message())
    except click.Abort:
        fail("interrupted")
