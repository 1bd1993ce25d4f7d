"""The transport-neutral HTTP request and response every protocol reads and writes."""

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str  # as sent, percent-encoded
    query: str  # as sent, without '?'
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
