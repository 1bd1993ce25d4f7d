"""The `ami` group and its error handling: one line on stderr, exit status 1."""

import os
import sys
from typing import Any

import click

from amiable import __version__
from amiable.store.errors import StoreError

from .store import store


class Ami(click.Group):
    """Turns expected failures into one readable line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StoreError as exc:
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
def cli() -> None:
    """amiable: machine images on one Linux host, through the EC2 API."""


cli.add_command(store)


def main() -> None:
    try:
        cli(standalone_mode=False)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        click.echo(f"error: {exc.format_message()}{hint}", err=True)
        sys.exit(2)
    except click.Abort:
        fail("interrupted")
