"""`amiable.Session`: real boto3 clients wired to an amiable cloud in-process.

Requests are signed by botocore as usual; botocore's `before-send` event hands
each one to the same gateway the HTTP server uses, and its response goes back
through botocore's parsers, so paginators, waiters, validation and
`ClientError` behave exactly as against AWS. No socket is opened.
"""

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.loaders
import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ProfileNotFound

from amiable.cloud.core.home import DEFAULT_ACCOUNT, Cloud
from amiable.protocol.http import HttpRequest
from amiable.server.gateway import Gateway

IN_PROCESS_ENDPOINT = "https://amiable.in-process"
_LOADER = botocore.loaders.create_loader()  # service models, read once per process


def boto_session(**options: Any) -> boto3.session.Session:
    """A `boto3.session.Session(**options)` whose service models and
    endpoint data come from one loader shared by the whole process: making
    a client then takes milliseconds, not the quarter second of reading
    the EC2 model again."""
    core = botocore.session.Session(profile=options.pop("profile_name", None))
    core.register_component("data_loader", _LOADER)
    return boto3.session.Session(botocore_session=core, **options)


class _Body:
    """The raw body botocore reads a response from."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


class Session:
    """Like `boto3.Session`, for one account of an amiable data home.

    `home` defaults to `$AMI_HOME` (else `~/.local/share/amiable`); `account`
    to the built-in `000000000000` (access key `test`, secret `test`). With
    `profile`, the account is the one whose access key that AWS profile has
    (`default` when there is no such profile: the built-in account).
    """

    def __init__(
        self,
        home: str | os.PathLike[str] | None = None,
        region: str = "us-east-1",
        account: str = DEFAULT_ACCOUNT,
        cloud: Cloud | None = None,
        profile: str | None = None,
    ) -> None:
        self.cloud = cloud or Cloud(home)
        if profile is not None:
            account = self._account_of_profile(profile)
        key = self.cloud.accounts.key_of(account)
        if key is None:
            raise ValueError(f"no account {account} in {self.cloud.home}")
        self.account = account
        self.region = region
        self._boto = boto_session(
            aws_access_key_id=key[0], aws_secret_access_key=key[1], region_name=region
        )
        self._gateway = Gateway(self.cloud)

    def _account_of_profile(self, profile: str) -> str:
        try:
            credentials = boto_session(profile_name=profile).get_credentials()
        except ProfileNotFound:
            if profile == "default":
                return DEFAULT_ACCOUNT
            raise ValueError(f"there is no AWS profile {profile}") from None
        known = self.cloud.accounts.by_key(credentials.access_key) if credentials else None
        if known is None:
            raise ValueError(f"the access key of AWS profile {profile} is no account's here")
        return known[0]

    def client(self, service_name: str, region_name: str | None = None, **kwargs: Any) -> Any:
        client = self._boto.client(
            service_name,
            region_name=region_name or self.region,
            endpoint_url=IN_PROCESS_ENDPOINT,
            **kwargs,
        )
        client.meta.events.register("before-send", self._send)
        return client

    def _send(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        parts = urlsplit(request.url)
        headers = {k.lower(): _text(v) for k, v in request.headers.items()}
        headers.setdefault("host", parts.netloc)
        response = self._gateway.handle(
            HttpRequest(
                request.method, parts.path or "/", parts.query, headers, _bytes(request.body)
            )
        )
        return AWSResponse(request.url, response.status, response.headers, _Body(response.body))


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    data = body.read()
    body.seek(0)
    return data if isinstance(data, bytes) else data.encode("utf-8")
