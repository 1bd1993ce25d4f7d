"""Global options of `ami` (`--home`, `--region`) and the cloud they select."""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from amiable.cloud.home import Cloud


@dataclass
class Settings:
    home: Path | None = None
    region: str = "us-east-1"
    _cloud: Cloud | None = field(default=None, repr=False)

    def cloud(self) -> Cloud:
        if self._cloud is None:
            self._cloud = Cloud(self.home)
        return self._cloud


def settings(command: Callable[..., Any]) -> Callable[..., Any]:
    """Pass the global Settings as the command's first argument."""
    return click.pass_obj(command)
