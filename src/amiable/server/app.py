"""The ASGI app behind `ami serve`: the console under /console (made on its
first request), every other request to the gateway.

One endpoint serves every service and region (the SigV4 scope says which).
The gateway is synchronous (SQLite, the store), so each request runs in a
worker thread and concurrent clients are served in parallel.
"""

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from amiable.cloud.core.home import Cloud
from amiable.protocol.http import HttpRequest

from .gateway import Gateway

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def make_app(cloud: Cloud) -> ASGIApp:
    gateway = Gateway(cloud)
    console: ASGIApp | None = None  # made on its first request: `ami serve` starts sooner

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if _for_console(scope["path"]):
            nonlocal console
            if console is None:
                from amiable.console import make_console

                console = make_console(cloud)
            await console(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = HttpRequest(
            method=scope["method"],
            path=(scope.get("raw_path") or scope["path"].encode()).decode("latin-1"),
            query=scope.get("query_string", b"").decode("latin-1"),
            headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
            body=bytes(body),
        )
        response = await asyncio.to_thread(gateway.handle, request)
        headers = [(k.encode(), v.encode()) for k, v in response.headers.items()]
        headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    return app


def _for_console(path: str) -> bool:
    return path == "/console" or path.startswith("/console/")


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
