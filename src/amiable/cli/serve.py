"""`ami serve`: the EC2 API over HTTP for the AWS CLI, SDKs and Terraform.

Stopped (Ctrl-C, SIGTERM), it stops serving, cancels its running imports and
waits for its other background work, then exits with status 0."""

import signal
from types import FrameType

import click

from .context import Settings, settings


class _Stopped(Exception):
    """SIGTERM, once uvicorn has shut down and passed the signal on."""


def _stopped(signum: int, frame: FrameType | None) -> None:
    raise _Stopped


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=4566, show_default=True, type=int, help="Port to listen on.")
@settings
def serve(s: Settings, host: str, port: int) -> None:
    """Serve the EC2 API (all regions) on HOST:PORT."""
    import uvicorn

    from amiable.server.app import make_app

    click.echo(
        f"amiable serving {s.cloud().home} on http://{host}:{port} "
        "(default credentials: key 'test', secret 'test')",
        err=True,
    )
    previous = signal.signal(signal.SIGTERM, _stopped)
    try:
        uvicorn.run(make_app(s.cloud()), host=host, port=port, log_level="warning")
    except (KeyboardInterrupt, _Stopped):
        pass  # uvicorn stopped serving, then passed the signal on
    finally:
        signal.signal(signal.SIGTERM, previous)
        s.cloud().close(cancel="the server stopped")  # imports cancelled, other work finished
