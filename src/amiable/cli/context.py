"""Global options of `ami` (`--home`, `--region`) and the cloud they select."""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from amiable.cloud.home import Cloud


@dataclass
class Settings:
    home: Path | None = None
    region: str = "us-east-1"
    _cloud: "Cloud | None" = field(default=None, repr=False)

    def cloud(self) -> "Cloud":
        """The data home's cloud, opened on first use (`ami store` never needs it)."""
        if self._cloud is None:
            from amiable.cloud.home import Cloud

            self._cloud = Cloud(self.home)
        return self._cloud


def settings(command: Callable[..., Any]) -> Callable[..., Any]:
    """Pass the global Settings as the command's first argument."""
    return click.pass_obj(command)
