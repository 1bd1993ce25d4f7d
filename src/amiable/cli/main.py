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
from .bootstrap import bootstrap
from .context import Settings
from .instances import COMMANDS as INSTANCE_COMMANDS
from .lineage import lineage
from .resources import images, import_image, snapshots, volumes
from .serve import serve
from .store import store


class Ami(click.Group):
    """Turns expected failures into one readable line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (StoreError, CatalogError) as exc:
            fail(str(exc))
        except Exception as exc:
            api_error = _api_error(exc)
            if api_error is None:
                raise
            fail(api_error)
        except OSError as exc:
            where = (
                f": {os.fsdecode(exc.filename)}" if isinstance(exc.filename, str | bytes) else ""
            )
            fail(f"{exc.strerror or exc}{where}")
        except KeyboardInterrupt:
            fail("interrupted")


def _api_error(exc: Exception) -> str | None:
    """One line for botocore's errors (ClientError, connection failures...)."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        return None
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message')}"
    if isinstance(exc, BotoCoreError):
        return str(exc)
    return None


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
@click.option("--endpoint-url", help="Talk to an `ami serve` (or any EC2 endpoint) over HTTP.")
@click.option(
    "--profile", help="Use this AWS profile's credentials (real AWS unless --endpoint-url)."
)
@click.pass_context
def cli(
    ctx: click.Context,
    home: Path | None,
    region: str,
    endpoint_url: str | None,
    profile: str | None,
) -> None:
    """amiable: machine images on one Linux host, through the EC2 API."""
    ctx.obj = Settings(home=home, region=region, endpoint_url=endpoint_url, profile=profile)
    ctx.call_on_close(ctx.obj.close)


cli.add_command(store)
cli.add_command(serve)
cli.add_command(accounts)
cli.add_command(images)
cli.add_command(snapshots)
cli.add_command(import_image)
cli.add_command(volumes)
cli.add_command(lineage)
cli.add_command(bootstrap)
for command in INSTANCE_COMMANDS:
    cli.add_command(command)


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
