"""`ami serve [--host] [--port] [--home DIR]`: the AWS APIs over HTTP for the
AWS CLI, SDKs and Terraform.

The port is bound before the data home is opened (a bad port changes
nothing), and "serving on URL" is printed only once connections are served.
Stopped (Ctrl-C, SIGTERM), it stops serving, cancels its running imports and
waits for its other background work before it exits.
"""

import signal
from types import FrameType
from typing import TYPE_CHECKING

import click

from .context import Settings, settings

if TYPE_CHECKING:
    from amiable.cloud.core.home import Cloud

LOG_LEVELS = ("debug", "info", "warning", "error")


class _Stopped(Exception):
    """SIGTERM, once uvicorn has shut down and passed the signal on."""


def _stopped(signum: int, frame: FrameType | None) -> None:
    raise _Stopped


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=4566, show_default=True, type=int, help="Port to listen on (0: any free one)."
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS),
    default="info",
    show_default=True,
    help="info: one line per request; warning: problems only; debug: more.",
)
@settings
def serve(s: Settings, host: str, port: int, log_level: str) -> None:
    """Serve EC2, KMS, SSM and Recycle Bin (all regions) on HOST:PORT.

    Credentials are the data home's accounts: the built-in key `test`,
    secret `test` (account 000000000000) and those of `ami accounts create`.
    """
    from amiable.server import runner
    from amiable.server.app import make_app

    try:
        sock = runner.listen(host, port)
    except runner.ListenError as exc:
        raise click.ClickException(str(exc)) from exc
    with sock:
        cloud = s.cloud()
        url = runner.url_of(sock)
        default_key = _default_key(cloud)
        if default_key and runner.beyond_loopback(sock.getsockname()[0]):
            click.echo(
                f"WARNING: {url} is reachable beyond this machine's loopback, and the "
                f"built-in credentials ({default_key}) let anyone in, to the API and to "
                f"the console at {url}/console; serve on 127.0.0.1 unless every "
                "machine that can reach this port is trusted",
                err=True,
            )
        also = f"; built-in credentials: {default_key}" if default_key else ""
        runner.configure_logging(log_level)
        previous = signal.signal(signal.SIGTERM, _stopped)
        try:
            runner.run(
                make_app(cloud),
                sock,
                log_level,
                on_ready=lambda: click.echo(
                    f"serving on {url} (data home {cloud.home}{also})", err=True
                ),
            )
        except _Stopped:
            pass  # uvicorn stopped serving, then passed SIGTERM on: a clean stop
        finally:
            signal.signal(signal.SIGTERM, previous)
            cloud.close(cancel="the server stopped")  # imports cancelled, other work finished


def _default_key(cloud: "Cloud") -> str:
    """The built-in credentials in words, if they still sign requests in ('' if not)."""
    from amiable.cloud.core.home import DEFAULT_ACCOUNT, DEFAULT_KEY

    key, secret = DEFAULT_KEY
    if cloud.accounts.by_key(key) != (DEFAULT_ACCOUNT, secret):
        return ""
    return f"account {DEFAULT_ACCOUNT}, key '{key}', secret '{secret}'"
