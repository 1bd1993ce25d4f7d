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
from importlib import import_module
from typing import Any, NoReturn

import click

from amiable import __version__

from . import errors
from .context import GLOBAL_OPTIONS, Settings, global_options

INTERRUPTED = 130  # 128 + SIGINT, as shells report it

# Each command, by name: (its module in amiable.cli, the command in it),
# imported only when it runs or --help lists it, so that `ami store ls`
# does not first load boto3, SQLAlchemy and every tool.
COMMANDS = {
    "store": ("store", "store"),
    "serve": ("serve", "serve"),
    "accounts": ("accounts", "accounts"),
    "images": ("resources", "images"),
    "snapshots": ("resources", "snapshots"),
    "import": ("resources", "import_image"),
    "volumes": ("resources", "volumes"),
    "lineage": ("lineage", "lineage"),
    "bootstrap": ("bootstrap", "bootstrap"),
    "bake": ("bake", "bake"),
    "audit": ("audit", "audit"),
    "lifecycle": ("lifecycle", "lifecycle"),
    "launch": ("instances", "launch"),
    "instances": ("instances", "list_instances"),
    "exec": ("instances", "exec_command"),
    "console": ("instances", "console"),
    "stop": ("instances", "stop"),
    "start": ("instances", "start"),
    "terminate": ("instances", "terminate"),
    "create-image": ("instances", "create_image"),
}

# The global options each command also takes after its name: all of them, but
# for the store (it works on --store, not on a data home) and the commands
# that work on a data home only.
GLOBAL_OPTIONS_OF = {
    "store": (),
    "serve": ("home",),
    "accounts": ("home",),
    "bootstrap": ("home", "region"),
}


class Ami(click.Group):
    """Loads the commands of `lazy` (name -> module and attribute) when they
    are used, and turns whatever a command raises into one line instead of a
    traceback."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, attribute = self.lazy[cmd_name]
            command: click.Command = getattr(import_module(f"amiable.cli.{module}"), attribute)
            for each in _with_subcommands(command):
                each.params.extend(global_options(GLOBAL_OPTIONS_OF.get(cmd_name, GLOBAL_OPTIONS)))
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

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


@click.group(cls=Ami, lazy=COMMANDS)
@click.version_option(__version__, prog_name="ami")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """amiable: machine images on one Linux host, through the EC2 API.

    The global options may also follow the command's name (`ami images
    --region eu-west-1`); the later one wins.
    """
    ctx.call_on_close(ctx.ensure_object(Settings).close)


cli.params.extend(global_options(top_level=True))


def _with_subcommands(command: click.Command) -> Iterator[click.Command]:
    yield command
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            yield from _with_subcommands(sub)


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
