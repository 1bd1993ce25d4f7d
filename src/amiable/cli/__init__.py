"""The `ami` command: thin, readable output for people, `--json` for scripts."""

from .main import main

__all__ = ["main"]
