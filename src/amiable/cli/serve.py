"""`ami serve`: the EC2 API over HTTP for the AWS CLI, SDKs and Terraform."""

import click

from .context import Settings, settings


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
    uvicorn.run(make_app(s.cloud()), host=host, port=port, log_level="warning")
    s.cloud().close(cancel="the server stopped")  # imports cancelled, other work finished
