"""A bake's journals (amiable.tools.journal): where they are, the statuses
the same command continues, and those that ended the build."""

from pathlib import Path

from amiable.tools.journal import state_home

RESUMABLE = ("running", "interrupted", "distribution-failed")
ENDED = ("published", "failed", "abandoned")


def folder(state: Path | None = None) -> Path:
    """Where the journals of bakes are: `bakes/` in the state directory."""
    return (state or state_home()) / "bakes"
