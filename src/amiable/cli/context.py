"""Global options of `ami` (`--home`, `--region`, `--endpoint-url`,
`--profile`), before or after the command's name, and the cloud they select."""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

if TYPE_CHECKING:
    from amiable.cloud.core.home import Cloud

DEFAULT_REGION = "us-east-1"


@dataclass
class Settings:
    home: Path | None = None
    region: str = DEFAULT_REGION
    endpoint_url: str | None = None
    profile: str | None = None
    _cloud: "Cloud | None" = field(default=None, repr=False)

    def client(self, service: str, region: str | None = None, profile: str | None = None) -> Any:
        """A boto3 client for the chosen region (or `region`): in-process on the
        data home by default, over HTTP with --endpoint-url, or a named AWS
        profile (real AWS) with --profile. `profile` names the credentials
        instead of --profile (on the data home: the account with its key)."""
        region = region or self.region
        if self.endpoint_url or self.profile:
            from amiable.session import boto_session

            session = boto_session(profile_name=profile or self.profile, region_name=region)
            if self.endpoint_url and session.get_credentials() is None:
                session = boto_session(
                    aws_access_key_id="test", aws_secret_access_key="test", region_name=region
                )
            return session.client(service, endpoint_url=self.endpoint_url)
        from amiable.session import Session

        return Session(cloud=self.cloud(), region=region, profile=profile).client(service)

    @property
    def in_process(self) -> bool:
        """Whether the API runs in this process (on the data home)."""
        return not (self.endpoint_url or self.profile)

    @property
    def target(self) -> str:
        """The cloud chosen, as journals and records name it (`endpoint:URL`,
        `profile:NAME`, `home:PATH`)."""
        from amiable.tools.journal import target

        home = self.cloud().home if self.in_process else None
        return target(self.endpoint_url, self.profile, home)

    def close(self) -> None:
        """At the command's end: the in-process cloud's background work ends
        first (`Cloud.close`), so nothing is left half done."""
        if self._cloud is not None:
            self._cloud.close()

    def cloud(self) -> "Cloud":
        """The data home's cloud, opened on first use (`ami store` never needs it)."""
        if self._cloud is None:
            if self.endpoint_url or self.profile:
                command = click.get_current_context().command_path
                raise click.UsageError(
                    f"{command} works on a data home (--home), not over the API "
                    "(--endpoint-url, --profile)"
                )
            self._cloud = _open_cloud(self.home)
        return self._cloud


def _open_cloud(home: Path | None) -> "Cloud":
    """The cloud of `home`, or one line saying why it cannot be opened."""
    from sqlalchemy.exc import DBAPIError

    from amiable.cloud.core.home import Cloud, default_home

    from .errors import one_line

    where = (home or default_home()).absolute()
    if where.exists() and not where.is_dir():
        raise click.ClickException(f"the data home {where} is not a directory")
    try:
        return Cloud(where)
    except (OSError, DBAPIError) as exc:
        raise click.ClickException(f"cannot open the data home {where}: {one_line(exc)}") from exc


def settings(command: Callable[..., Any]) -> Callable[..., Any]:
    """Pass the global Settings as the command's first argument."""
    return click.pass_obj(command)


def _endpoint_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.netloc:
        return value
    example = f"http://{value}" if "://" not in value else "http://127.0.0.1:4566"
    # exit status 1 as for any other unusable value, not click's 2 of BadParameter
    raise click.ClickException(
        f"--endpoint-url {value}: not an http:// or https:// URL (such as {example})"
    )


GLOBAL_OPTIONS = ("home", "region", "endpoint_url", "profile")
_DECLARATIONS: dict[str, dict[str, Any]] = {
    "home": {
        "type": click.Path(path_type=Path),
        "help": "Data home (default $AMI_HOME, else ~/.local/share/amiable).",
    },
    "region": {"help": f"Region to act in (default {DEFAULT_REGION})."},
    "endpoint_url": {
        "help": "Talk over HTTP to ami serve (or any endpoint of the AWS APIs), e.g. "
        "http://127.0.0.1:4566.",
        "metavar": "URL",
    },
    "profile": {"help": "Use this AWS profile's credentials (real AWS unless --endpoint-url)."},
}
_CHECKS: dict[str, Callable[[str], str]] = {"endpoint_url": _endpoint_url}


def _as_given(value: str) -> str:
    return value


def global_options(
    names: tuple[str, ...] = GLOBAL_OPTIONS, top_level: bool = False
) -> list[click.Option]:
    """The global options `names`, for the `ami` group (`top_level`: $AMI_HOME
    too) or for a command, after its name: each, when given, sets its
    Settings field, so the later one wins."""
    return [_option(name, top_level) for name in names]


def _option(name: str, top_level: bool) -> click.Option:
    check = _CHECKS.get(name, _as_given)

    def store(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is not None:
            setattr(ctx.ensure_object(Settings), name, check(value))

    return click.Option(
        [f"--{name.replace('_', '-')}"],
        expose_value=False,
        callback=store,
        envvar="AMI_HOME" if top_level and name == "home" else None,
        **_DECLARATIONS[name],
    )
