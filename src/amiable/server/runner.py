"""Running the ASGI app of `ami serve`: the listening socket, the log, uvicorn.

The socket is bound here, before anything else happens, so a port that is
taken or out of range is one error and changes nothing; the caller hears
(`on_ready`) only once uvicorn accepts connections on it. Logs go to stderr:
the request lines of `amiable.requests` at INFO, uvicorn's own at WARNING
unless debugging.
"""

import ipaddress
import logging
import socket
import sys
import time
from collections.abc import Callable

import uvicorn

from .app import ASGIApp

LOOPBACK_NAMES = ("localhost",)


class ListenError(Exception):
    """The address cannot be listened on (one line)."""


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port (port 0: any free one)."""
    where = f"{host}:{port}"
    if not 0 <= port <= 65535:
        raise ListenError(f"cannot listen on {where}: the port must be 0-65535")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {where}: {exc.strerror}") from exc
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot listen on {where}: {exc.strerror}") from exc
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def beyond_loopback(host: str) -> bool:
    """Whether listening on `host` lets other machines in: anything but
    127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) and localhost."""
    if host.lower() in LOOPBACK_NAMES:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True  # a name: it resolves to whatever the network says
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_loopback


def configure_logging(level: str) -> None:
    """One handler on stderr: `level` for amiable (INFO shows every request),
    WARNING for everything else unless debugging."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter(
        "%(asctime)s %(levelname)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%SZ"
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
    logging.getLogger("amiable").setLevel(level.upper())


def run(app: ASGIApp, sock: socket.socket, log_level: str, on_ready: Callable[[], None]) -> None:
    """Serve `app` on `sock` until a signal stops it."""
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_config=None,  # configure_logging's handler, not uvicorn's
        log_level="debug" if log_level == "debug" else "warning",
        access_log=False,  # the gateway's request lines say more
    )
    _Server(config, on_ready).run(sockets=[sock])


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_ready()
