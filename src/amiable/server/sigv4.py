"""Verifying AWS Signature Version 4 on incoming requests.

The signature is recomputed from what the client says it signed (the
`SignedHeaders` of its Authorization header), so any SDK's requests verify,
not only botocore's. Failures are EC2's: a missing or malformed signature and
an unknown key are `AuthFailure`, a wrong signature `SignatureDoesNotMatch`,
a clock more than five minutes off `RequestExpired`.
"""

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import quote

from amiable.cloud.core.errors import ApiError
from amiable.protocol.http import HttpRequest

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=5)
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class Signed:
    """Who signed a request, and for which region and service."""

    access_key: str
    region: str
    service: str


def claimed_service(request: HttpRequest) -> str:
    """The service a request's credential scope names, before any check ('' if none)."""
    match = _AUTH.match(request.headers.get("authorization", "").strip())
    parts = match["credential"].split("/") if match else []
    return parts[3] if len(parts) == 5 else ""


def verify(
    request: HttpRequest,
    secret_for: Callable[[str], str | None],
    now: datetime | None = None,
) -> Signed:
    """Check the request's signature; returns the signer or raises ApiError."""
    match = _AUTH.match(request.headers.get("authorization", "").strip())
    if match is None:
        raise _auth_failure()
    parts = match["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise _auth_failure()
    access_key, day, region, service, _ = parts
    secret = secret_for(access_key)
    if secret is None:
        raise _auth_failure()
    stamp = request.headers.get("x-amz-date", "")
    when = _parse_stamp(stamp)
    if when is None or not stamp.startswith(day):
        raise _auth_failure()
    if abs((now or datetime.now(UTC)) - when) > MAX_SKEW:
        raise ApiError("RequestExpired", "Request has expired.")
    signed_headers = match["signed"].split(";")
    if "host" not in signed_headers:
        raise _auth_failure()
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        [ALGORITHM, stamp, scope, _sha256(canonical_request(request, signed_headers).encode())]
    )
    key = _signing_key(secret, day, region, service)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match["signature"]):
        raise ApiError(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
            403,
        )
    return Signed(access_key, region, service)


def canonical_request(request: HttpRequest, signed_headers: list[str]) -> str:
    headers = "".join(
        f"{name}:{' '.join(request.headers.get(name, '').split())}\n" for name in signed_headers
    )
    payload = request.headers.get("x-amz-content-sha256") or _sha256(request.body)
    return "\n".join(
        [
            request.method.upper(),
            quote(request.path or "/", safe="/~"),  # encoded once more, as for non-S3
            _canonical_query(request.query),
            headers,
            ";".join(signed_headers),
            payload,
        ]
    )


def _canonical_query(query: str) -> str:
    """Pairs sorted by key, then value, as sent (already percent-encoded)."""
    if not query:
        return ""
    pairs = sorted(pair.partition("=")[::2] for pair in query.split("&"))
    return "&".join(f"{key}={value}" for key, value in pairs)


@lru_cache(maxsize=256)
def _signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _parse_stamp(stamp: str) -> datetime | None:
    """`20261127T015000Z` as a datetime (by hand: strptime costs more than the rest)."""
    if len(stamp) != 16 or stamp[8] != "T" or stamp[15] != "Z":
        return None
    digits = stamp[:8] + stamp[9:15]
    if not digits.isascii() or not digits.isdigit():
        return None
    try:
        return datetime(
            int(digits[:4]),
            int(digits[4:6]),
            int(digits[6:8]),
            int(digits[8:10]),
            int(digits[10:12]),
            int(digits[12:14]),
            tzinfo=UTC,
        )
    except ValueError:
        return None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _auth_failure() -> ApiError:
    return ApiError(
        "AuthFailure", "AWS was not able to validate the provided access credentials", 401
    )
