"""Global options of `ami` (`--home`, `--region`) and the cloud they select."""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from amiable.cloud.core.home import Cloud


@dataclass
class Settings:
    home: Path | None = None
    region: str = "us-east-1"
    endpoint_url: str | None = None
    profile: str | None = None
    _cloud: "Cloud | None" = field(default=None, repr=False)

    def client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client for the chosen region (or `region`): in-process on the
        data home by default, over HTTP with --endpoint-url, or a named AWS
        profile (real AWS) with --profile."""
        region = region or self.region
        if self.endpoint_url or self.profile:
            import boto3

            session = boto3.session.Session(profile_name=self.profile, region_name=region)
            if self.endpoint_url and session.get_credentials() is None:
                session = boto3.session.Session(
                    aws_access_key_id="test", aws_secret_access_key="test", region_name=region
                )
            return session.client(service, endpoint_url=self.endpoint_url)
        from amiable.session import Session

        return Session(cloud=self.cloud(), region=region).client(service)

    @property
    def in_process(self) -> bool:
        """Whether the API runs in this process (on the data home)."""
        return not (self.endpoint_url or self.profile)

    def close(self) -> None:
        """At the command's end: the in-process cloud's background work ends
        first (`Cloud.close`), so nothing is left half done."""
        if self._cloud is not None:
            self._cloud.close()

    def cloud(self) -> "Cloud":
        """The data home's cloud, opened on first use (`ami store` never needs it)."""
        if self._cloud is None:
            from amiable.cloud.core.home import Cloud

            self._cloud = Cloud(self.home)
        return self._cloud


def settings(command: Callable[..., Any]) -> Callable[..., Any]:
    """Pass the global Settings as the command's first argument."""
    return click.pass_obj(command)
