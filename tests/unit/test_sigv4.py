"""SigV4 verification against requests signed by botocore itself."""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from amiable.cloud.core.errors import ApiError
from amiable.protocol.http import HttpRequest
from amiable.server.sigv4 import Signed, verify

SECRETS = {"test": "test", "AKIDOTHER": "other-secret"}


def signed(
    key: str = "test",
    secret: str = "test",
    region: str = "eu-west-1",
    url: str = "http://127.0.0.1:8080/",
    body: bytes = b"Action=DescribeRegions&Version=2016-11-15",
) -> HttpRequest:
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(key, secret), "ec2", region).add_auth(request)
    parts = urlsplit(url)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = parts.netloc  # added by the HTTP layer, signed by botocore
    return HttpRequest("POST", parts.path, parts.query, headers, body)


def test_botocore_signature_verifies_with_region_and_service() -> None:
    assert verify(signed(), SECRETS.get) == Signed("test", "eu-west-1", "ec2")


def test_query_string_and_path_are_part_of_the_signature() -> None:
    request = signed(url="http://localhost:4566/some%20path/x?b=2&a=1&a.b=3")
    assert verify(request, SECRETS.get).access_key == "test"


@pytest.mark.parametrize(
    ("key", "secret", "code"),
    [
        ("AKIDUNKNOWN", "whatever", "AuthFailure"),
        ("AKIDOTHER", "not-the-secret", "SignatureDoesNotMatch"),
    ],
)
def test_unknown_key_and_wrong_secret_are_refused(key: str, secret: str, code: str) -> None:
    # signed when the test runs: signed at collection, a long run would find it expired
    with pytest.raises(ApiError) as caught:
        verify(signed(key=key, secret=secret), SECRETS.get)
    assert caught.value.code == code


def test_a_tampered_body_does_not_verify() -> None:
    request = signed()
    tampered = HttpRequest(
        request.method, request.path, request.query, request.headers, request.body + b"&DryRun=true"
    )
    with pytest.raises(ApiError) as caught:
        verify(tampered, SECRETS.get)
    assert caught.value.code == "SignatureDoesNotMatch"
    assert caught.value.status == 403


def test_unsigned_request_is_an_auth_failure() -> None:
    request = HttpRequest("POST", "/", "", {"host": "localhost"}, b"Action=DescribeRegions")
    with pytest.raises(ApiError) as caught:
        verify(request, SECRETS.get)
    assert (caught.value.code, caught.value.status) == ("AuthFailure", 401)


@pytest.mark.parametrize("skew", [timedelta(minutes=6), -timedelta(minutes=6)])
def test_a_skewed_clock_gets_request_expired(skew: timedelta) -> None:
    request = signed()
    with pytest.raises(ApiError) as caught:
        verify(request, SECRETS.get, now=datetime.now(UTC) + skew)
    assert (caught.value.code, caught.value.message) == ("RequestExpired", "Request has expired.")


def test_a_small_skew_is_tolerated() -> None:
    assert verify(signed(), SECRETS.get, now=datetime.now(UTC) + timedelta(minutes=4))
