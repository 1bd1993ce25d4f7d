"""The `ami` group, its global options, and how it ends: one line on stderr.

Exit statuses: 0 done, 1 an error (one line, `error: ...`), 2 a usage
error, 130 interrupted (Ctrl-C); `ami exec` and `ami store fsck` exit with
statuses of their own.
"""

import errno
import logging
import os
import sys
import traceback
from collections.abc import Iterator
from typing import Any, NoReturn

import click

from amiable import __version__

from . import errors
from .accounts import accounts
from .audit import audit
from .bake import bake
from .bootstrap import bootstrap
from .context import GLOBAL_OPTIONS, Settings, global_options
from .instances import COMMANDS as INSTANCE_COMMANDS
from .lifecycle import lifecycle
from .lineage import lineage
from .resources import images, import_image, snapshots, volumes
from .serve import serve
from .store import store

INTERRUPTED = 130  # 128 + SIGINT, as shells report it


class Ami(click.Group):
    """Turns whatever a command raises into one line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own, ended by main()
        except KeyboardInterrupt:
            interrupted()
        except Exception as exc:
            if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
                output_closed()
            if errors.debugging():
                traceback.print_exc()
            fail(errors.one_line(exc))


def fail(message: str) -> NoReturn:
    click.echo(f"error: {errors.flatten(message)}", err=True)
    sys.exit(1)


def interrupted() -> NoReturn:
    click.echo("error: interrupted", err=True)
    sys.exit(INTERRUPTED)


def output_closed() -> NoReturn:
    """The reader of our output went away (`ami images | head -1`): stop quietly."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush
    sys.exit(1)


@click.group(cls=Ami)
@click.version_option(__version__, prog_name="ami")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """amiable: machine images on one Linux host, through the EC2 API.

    The global options may also follow the command's name (`ami images
    --region eu-west-1`); the later one wins.
    """
    ctx.call_on_close(ctx.ensure_object(Settings).close)


cli.params.extend(global_options(top_level=True))
cli.add_command(store)
cli.add_command(serve)
cli.add_command(accounts)
cli.add_command(images)
cli.add_command(snapshots)
cli.add_command(import_image)
cli.add_command(volumes)
cli.add_command(lineage)
cli.add_command(bootstrap)
cli.add_command(bake)
cli.add_command(audit)
cli.add_command(lifecycle)
for command in INSTANCE_COMMANDS:
    cli.add_command(command)

# The global options each command also takes after its name: all of them, but
# for the store (it works on --store, not on a data home) and the commands
# that work on a data home only.
GLOBAL_OPTIONS_OF = {
    "store": (),
    "serve": ("home",),
    "accounts": ("home",),
    "bootstrap": ("home", "region"),
}


def _with_subcommands(command: click.Command) -> Iterator[click.Command]:
    yield command
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            yield from _with_subcommands(sub)


for name, command in cli.commands.items():
    for each in _with_subcommands(command):
        each.params.extend(global_options(GLOBAL_OPTIONS_OF.get(name, GLOBAL_OPTIONS)))


def main() -> None:
    if errors.debugging():
        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("amiable").setLevel(logging.DEBUG)
    else:  # the API's answer is the message; the engine's logs are for AMI_DEBUG and ami serve
        logging.getLogger("amiable").addHandler(logging.NullHandler())
    try:
        code = cli.main(prog_name="ami", standalone_mode=False)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        click.echo(f"error: {errors.flatten(exc.format_message())}{hint}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        fail(exc.format_message())
    except click.Abort:  # Ctrl-C before a command ran
        interrupted()
    sys.exit(code if isinstance(code, int) else 0)
