"""The web console of `ami serve`, at `/console`: server-rendered pages that act
as the signed-in account through the same handlers as the API (docs/console.md)."""

from .app import make_console

__all__ = ["make_console"]
