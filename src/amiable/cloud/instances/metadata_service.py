"""The instance metadata service (IMDS): what an instance reads at
http://169.254.169.254/, IMDSv1 and IMDSv2, answered on a listening socket
the host routes the instance's requests to.

`serve(listener, document, stop)` answers until `stop` is set; it reads the
instance's metadata document afresh for every request, so changes (tags,
security groups, metadata options) show at once. It knows nothing else of the
cloud: the cloud layer writes the document, the host wires the socket.
`serve_file(listener, path, stop)` is the same with the document a JSON file
(the form a sandbox's host service takes).

The document (JSON; names are the categories IMDS serves, the last two are as
DescribeInstances shows them)::

    {
      "instance-id": "i-0123456789abcdef0",
      "ami-id": "ami-0123456789abcdef0",
      "ami-launch-index": 0,
      "instance-type": "t3.micro",
      "architecture": "x86_64",                     # identity document
      "account-id": "000000000000",                 # identity document
      "reservation-id": "r-0123456789abcdef0",
      "pending-time": "2024-05-01T12:00:00Z",       # identity document
      "region": "eu-west-1",
      "availability-zone": "eu-west-1a",
      "availability-zone-id": "euw1-az1",
      "network-interfaces": [{                      # device-number 0 is the instance's own:
        "device-number": 0,                         # mac, local-ipv4 (its first address),
        "interface-id": "eni-0123456789abcdef0",    # hostname, local-hostname and
        "mac": "0e:12:34:56:78:9a",                 # security-groups come from it
        "owner-id": "000000000000",
        "local-hostname": "ip-172-31-5-10.eu-west-1.compute.internal",
        "local-ipv4s": ["172.31.5.10"],
        "subnet-id": "subnet-...", "subnet-ipv4-cidr-block": "172.31.0.0/20",
        "vpc-id": "vpc-...", "vpc-ipv4-cidr-blocks": ["172.31.0.0/16"],
        "security-group-ids": ["sg-..."], "security-groups": ["default"]
      }],
      "block-device-mapping": {"ami": "/dev/xvda", "root": "/dev/xvda", "ebs1": "sdb"},
      "public-keys": [{"name": "my-key", "openssh-key": "ssh-ed25519 AAAA... my-key"}],
      "user-data": "IyEvYmluL3NoCg==",              # base64, served raw; absent: none
      "tags": [{"Key": "Name", "Value": "web"}],    # served when InstanceMetadataTags is enabled
      "metadata-options": {"HttpTokens": "optional", "HttpPutResponseHopLimit": 1,
                           "HttpEndpoint": "enabled", "InstanceMetadataTags": "disabled"}
    }

`public-keys`, `user-data`, `tags` and `metadata-options` (AWS's defaults)
may be left out. An interface's entries are served as they are (a list one
value a line), with `vpc-ipv4-cidr-block` its VPC's first block.

As AWS does:

* `GET /` lists the versions; every path works under each of them, showing
  only the categories released by that version (`latest`: all). A directory
  lists its entries one a line, subdirectories ending with `/`; a directory
  answers with or without its trailing slash, a value too. Values and
  listings are `text/plain`, the identity document included; user data is
  `application/octet-stream`. Unknown paths get IMDS's XHTML 404 page.
* IMDSv2: `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds`
  (1 to 21600, else 400) returns a token, an HMAC under a secret of this
  `serve` call, so it is worth nothing elsewhere; a PUT carrying
  `X-Forwarded-For` is refused (403), as is one to a dated version's
  `api/token`. A request carrying `X-aws-ec2-metadata-token` needs a valid,
  unexpired one (else 401), and so does every request once `HttpTokens` is
  `required`. The token's response leaves with an IP TTL of
  `HttpPutResponseHopLimit`, so one hop further (a container behind the
  instance) it is dropped.
* `HttpEndpoint` disabled: every request gets 403, what AWS answers then
  (the socket is the host's; refusing the connection is not this module's).
* GET, HEAD and the token PUT only: other methods get 405. Like the real
  service, every answer closes its connection, so the TTL of a token's
  answer never touches another one.

Not served: IAM (`iam/`, there are no instance profiles), the identity
document's signatures (`pkcs7`, `signature`, `rsa2048`: no key to sign
with), public addresses, `events/`, spot and IPv6 categories. Nothing is
logged but the method and path: never a token, never user data.
"""

import base64
import binascii
import functools
import hashlib
import hmac
import json
import logging
import os
import re
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, TypeAlias

log = logging.getLogger(__name__)

VERSIONS = (
    "1.0",
    "2007-01-19",
    "2007-03-01",
    "2007-08-29",
    "2007-10-10",
    "2007-12-15",
    "2008-02-01",
    "2008-09-01",
    "2009-04-04",
    "2011-01-01",
    "2011-05-01",
    "2012-01-12",
    "2014-02-25",
    "2014-11-05",
    "2015-10-20",
    "2016-04-19",
    "2016-06-30",
    "2016-09-02",
    "2018-03-28",
    "2018-08-17",
    "2018-09-24",
    "2019-10-01",
    "2020-10-27",
    "2021-01-03",
    "2021-03-23",
    "2021-07-15",
    "2022-07-09",
    "2022-09-24",
    "2024-04-11",
    "latest",
)
# The version that brought each category (AWS's "Instance metadata categories";
# the rest came with 1.0), a MAC address written `mac`. Versions compare as
# strings: "1.0" < "2007-..." < "latest".
_RELEASED = {
    "local-hostname": "2007-01-19",
    "instance-type": "2007-08-29",
    "block-device-mapping": "2007-12-15",
    "placement": "2008-02-01",
    "placement/availability-zone-id": "2020-08-24",
    "placement/region": "2020-08-24",
    "mac": "2011-01-01",
    "network": "2011-01-01",
    "network/interfaces/macs/mac/vpc-ipv4-cidr-blocks": "2016-06-30",
    "services": "2014-02-25",
    "services/partition": "2015-10-20",
    "tags": "2021-03-23",
}
_DYNAMIC_RELEASED = "2009-04-04"
IDENTITY_DOCUMENT_VERSION = "2017-09-30"

TOKEN_PATH = "/latest/api/token"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
MAX_TOKEN_TTL = 21600
_DEFAULT_OPTIONS = {
    "HttpTokens": "optional",
    "HttpPutResponseHopLimit": 1,
    "HttpEndpoint": "enabled",
    "InstanceMetadataTags": "disabled",
}
# Tag keys IMDS can show (AWS refuses others on instances that allow tags in metadata).
_TAG_KEY = re.compile(r"[A-Za-z0-9+\-=.,_:@]+")
_UNSHOWN_TAG_KEYS = frozenset({".", "..", "_index"})
_DIGITS = re.compile(r"[0-9]+")

_POLL_SECONDS = 0.1  # how often the loop looks at `stop`
_CLIENT_TIMEOUT = 5.0  # a client that sends nothing for this long is dropped
_MAX_BODY = 65536  # request bodies are read and thrown away, up to this

# IMDS's error pages (what the real service sends, XHTML).
_ERROR_PAGE = """<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>{status}</title>
 </head>
 <body>
  <h1>{status}</h1>
 </body>
</html>
"""
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
}


@dataclass(frozen=True)
class _Listing:
    """A directory listed with other lines than its entries' names: `0=my-key`
    for `public-keys/`, the tags in their own order, a version's three parts."""

    entries: dict[str, "Node"]
    lines: list[str]


Node: TypeAlias = str | bytes | dict[str, "Node"] | _Listing


# --------------------------------------------------------------------------- the tree


def _text(value: Any) -> str:
    """A value as IMDS writes it: a list one item a line."""
    if isinstance(value, list):
        return "\n".join(str(item) for item in value)
    return str(value)


def _interface(nic: dict[str, Any]) -> dict[str, Node]:
    shown: dict[str, Node] = {key: _text(value) for key, value in nic.items()}
    if blocks := nic.get("vpc-ipv4-cidr-blocks"):
        shown["vpc-ipv4-cidr-block"] = blocks[0]
    return shown


def _primary(doc: dict[str, Any]) -> dict[str, Any]:
    nics: list[dict[str, Any]] = doc["network-interfaces"]
    return next(nic for nic in nics if nic["device-number"] == 0)


def _public_keys(keys: list[dict[str, str]]) -> _Listing:
    entries: dict[str, Node] = {
        str(n): {"openssh-key": key["openssh-key"]} for n, key in enumerate(keys)
    }
    return _Listing(entries, [f"{n}={key['name']}" for n, key in enumerate(keys)])


def _tags(tags: list[dict[str, str]]) -> dict[str, Node]:
    shown: dict[str, Node] = {
        tag["Key"]: tag.get("Value", "")
        for tag in tags
        if _TAG_KEY.fullmatch(tag["Key"]) and tag["Key"] not in _UNSHOWN_TAG_KEYS
    }
    return {"instance": _Listing(shown, list(shown))}


def _meta_data(doc: dict[str, Any], options: dict[str, Any]) -> dict[str, Node]:
    nic = _primary(doc)
    tree: dict[str, Node] = {
        "ami-id": doc["ami-id"],
        "ami-launch-index": str(doc["ami-launch-index"]),
        "ami-manifest-path": "(unknown)",
        "block-device-mapping": {k: str(v) for k, v in doc["block-device-mapping"].items()},
        "hostname": nic["local-hostname"],
        "instance-id": doc["instance-id"],
        "instance-type": doc["instance-type"],
        "local-hostname": nic["local-hostname"],
        "local-ipv4": nic["local-ipv4s"][0],
        "mac": nic["mac"],
        "network": {
            "interfaces": {"macs": {n["mac"]: _interface(n) for n in doc["network-interfaces"]}}
        },
        "placement": {
            "availability-zone": doc["availability-zone"],
            "availability-zone-id": doc["availability-zone-id"],
            "region": doc["region"],
        },
        "reservation-id": doc["reservation-id"],
        "security-groups": _text(nic["security-groups"]),
        "services": {"domain": "amazonaws.com", "partition": "aws"},
    }
    if doc.get("public-keys"):
        tree["public-keys"] = _public_keys(doc["public-keys"])
    if options["InstanceMetadataTags"] == "enabled":
        tree["tags"] = _tags(doc.get("tags") or [])
    return tree


def _identity_document(doc: dict[str, Any]) -> str:
    """`dynamic/instance-identity/document`, laid out as EC2 writes it."""
    identity = {
        "accountId": doc["account-id"],
        "architecture": doc["architecture"],
        "availabilityZone": doc["availability-zone"],
        "billingProducts": None,
        "devpayProductCodes": None,
        "marketplaceProductCodes": None,
        "imageId": doc["ami-id"],
        "instanceId": doc["instance-id"],
        "instanceType": doc["instance-type"],
        "kernelId": None,
        "pendingTime": doc["pending-time"],
        "privateIp": _primary(doc)["local-ipv4s"][0],
        "ramdiskId": None,
        "region": doc["region"],
        "version": IDENTITY_DOCUMENT_VERSION,
    }
    return json.dumps(identity, indent=2, separators=(",", " : "))


def _released(tree: dict[str, Node], version: str, path: str = "") -> dict[str, Node]:
    """`tree` as `version` shows it: without the categories released after it."""
    kept: dict[str, Node] = {}
    for name, node in tree.items():
        category = path + ("mac" if path.endswith("macs/") else name)
        if _RELEASED.get(category, "1.0") > version:
            continue
        kept[name] = _released(node, version, category + "/") if isinstance(node, dict) else node
    return kept


def _version_root(doc: dict[str, Any], options: dict[str, Any], version: str) -> _Listing:
    """What `/<version>/` holds: meta-data, dynamic, user-data (when there is some)."""
    entries: dict[str, Node] = {"meta-data": _released(_meta_data(doc, options), version)}
    if version >= _DYNAMIC_RELEASED:
        entries["dynamic"] = {"instance-identity": {"document": _identity_document(doc)}}
    if doc.get("user-data"):
        entries["user-data"] = base64.b64decode(doc["user-data"])
    return _Listing(entries, sorted(entries))


def _entries(node: Node) -> dict[str, Node] | None:
    if isinstance(node, _Listing):
        return node.entries
    return node if isinstance(node, dict) else None


def _listed(node: dict[str, Node] | _Listing) -> str:
    if isinstance(node, _Listing):
        return "\n".join(node.lines)
    return "\n".join(
        name + "/" if _entries(child) is not None else name for name, child in sorted(node.items())
    )


def _find(node: Node, segments: Iterable[str]) -> Node | None:
    for segment in segments:
        entries = _entries(node)
        if entries is None or segment not in entries:
            return None
        node = entries[segment]
    return node


def _found(doc: dict[str, Any], options: dict[str, Any], segments: list[str]) -> Node | None:
    """What a GET of the path made of `segments` reads, or None (404)."""
    if not segments:
        return _Listing({}, list(VERSIONS))
    version, rest = segments[0], segments[1:]
    if version not in VERSIONS:
        return None
    return _find(_version_root(doc, options, version), rest)


def _options(doc: dict[str, Any]) -> dict[str, Any]:
    return {**_DEFAULT_OPTIONS, **(doc.get("metadata-options") or {})}


def _segments(target: str) -> list[str]:
    return [part for part in urllib.parse.urlsplit(target).path.split("/") if part]


# --------------------------------------------------------------------------- tokens


class _Tokens:
    """IMDSv2 session tokens: the expiry and an HMAC of it under a secret of
    this service, so they need no table and die with it."""

    _PACKED = struct.Struct(">d8s")  # expiry (monotonic seconds), nonce
    _MAC_SIZE = 16

    def __init__(self) -> None:
        self._secret = os.urandom(32)

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[: self._MAC_SIZE]

    def issue(self, ttl: int) -> str:
        payload = self._PACKED.pack(time.monotonic() + ttl, os.urandom(8))
        return base64.urlsafe_b64encode(payload + self._mac(payload)).decode()

    def valid(self, token: str) -> bool:
        try:
            raw = base64.urlsafe_b64decode(token.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            return False
        if base64.urlsafe_b64encode(raw).decode() != token:  # junk the decoder skipped
            return False
        payload, mac = raw[: self._PACKED.size], raw[self._PACKED.size :]
        if len(payload) != self._PACKED.size or not hmac.compare_digest(mac, self._mac(payload)):
            return False
        expiry, _ = self._PACKED.unpack(payload)
        return bool(time.monotonic() < expiry)


def _ttl(value: str | None) -> int | None:
    """The token TTL a PUT asks for, if it is a whole number of seconds IMDS grants."""
    if value is None or not _DIGITS.fullmatch(value):
        return None
    seconds = int(value)
    return seconds if 1 <= seconds <= MAX_TOKEN_TTL else None


def _set_hop_limit(connection: socket.socket, hops: int) -> None:
    """What leaves on `connection` from now on dies at the `hops`-th router it meets."""
    connection.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, hops)  # IPv4, mapped ones too
    if connection.family == socket.AF_INET6:
        connection.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hops)


# --------------------------------------------------------------------------- HTTP


class _Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    timeout = _POLL_SECONDS

    def __init__(
        self, listener: socket.socket, document: Callable[[], dict[str, Any] | None]
    ) -> None:
        super().__init__(listener.getsockname()[:2], _Handler, bind_and_activate=False)
        self.socket.close()  # the one TCPServer made: the host's listener serves instead
        self.socket = listener
        self.document = document
        self.tokens = _Tokens()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone before its answer is no error; anything else is logged
        with its traceback (which holds no token and no user data)."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            log.debug("%s went away: %s", client_address[0], error)
        else:
            log.exception("metadata request from %s failed", client_address[0])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = _CLIENT_TIMEOUT
    server: _Server

    def version_string(self) -> str:
        return "EC2ws"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s %s", self.command, urllib.parse.urlsplit(self.path).path, code)

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler looks for do_<METHOD>: whatever is not GET, HEAD
        # or PUT is not allowed (405), rather than unknown (501).
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def do_GET(self) -> None:
        self._read()

    def do_HEAD(self) -> None:
        self._read()

    def do_PUT(self) -> None:
        self._discard_body()
        live = self._live()
        if live is None:
            return
        segments = _segments(self.path)
        if segments != _segments(TOKEN_PATH):
            self._error(403 if segments[1:] == ["api", "token"] else 405)
        elif "X-Forwarded-For" in self.headers:
            self._error(403)
        elif (ttl := _ttl(self.headers.get(TTL_HEADER))) is None:
            self._error(400)
        else:
            _set_hop_limit(self.connection, int(live[1]["HttpPutResponseHopLimit"]))
            token = self.server.tokens.issue(ttl)
            self._send(200, "text/plain", token.encode(), {TTL_HEADER: str(ttl)})

    def _not_allowed(self) -> None:
        self._discard_body()
        self._error(405)

    def _read(self) -> None:
        self._discard_body()
        live = self._live()
        if live is None:
            return
        doc, options = live
        if not self._authorized(options):
            self._error(401)
            return
        found = _found(doc, options, _segments(self.path))
        if found is None:
            self._error(404)
        elif isinstance(found, bytes):
            self._send(200, "application/octet-stream", found)
        elif isinstance(found, str):
            self._send(200, "text/plain", found.encode())
        else:
            self._send(200, "text/plain", _listed(found).encode())

    def _live(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The document and its metadata options, or None once the answer is
        sent: 404 when the instance is gone, 403 when its metadata service is off."""
        doc = self.server.document()
        if doc is None:
            self._error(404)
            return None
        options = _options(doc)
        if options["HttpEndpoint"] != "enabled":
            self._error(403)
            return None
        return doc, options

    def _authorized(self, options: dict[str, Any]) -> bool:
        token = self.headers.get(TOKEN_HEADER)
        if token is None:
            return bool(options["HttpTokens"] != "required")
        return self.server.tokens.valid(token)

    def _discard_body(self) -> None:
        """Read what the client sent with its request: closing on unread data
        would reset the connection, and the answer with it."""
        length = self.headers.get("Content-Length", "0")
        if _DIGITS.fullmatch(length):
            self.rfile.read(min(int(length), _MAX_BODY))

    def _error(self, status: int) -> None:
        page = _ERROR_PAGE.format(status=f"{status} - {_REASONS[status]}").encode()
        self._send(status, "text/html", page, {"Allow": "GET, HEAD, PUT"} if status == 405 else {})

    def _send(
        self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status, _REASONS.get(status))
        self.send_header("Content-Type", content_type)
        self.send_header("Accept-Ranges", "none")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def serve(
    listener: socket.socket,
    document: Callable[[], dict[str, Any] | None],
    stop: threading.Event,
) -> None:
    """Answer IMDS requests on `listener` (already bound and listening) until `stop` is set.
    `document()` returns the instance's current metadata document (read fresh on every
    request; None when it is gone: answer 404s). The listener stays open: it is the caller's."""
    server = _Server(listener, document)
    while not stop.is_set():
        server.handle_request()


def serve_file(listener: socket.socket, path: str, stop: threading.Event) -> None:
    """`serve` with the document read from the JSON file at `path` (written
    whole, by rename); no file, no instance. A sandbox's host service."""
    serve(listener, functools.partial(_read_document, Path(path)), stop)


def _read_document(path: Path) -> dict[str, Any] | None:
    try:
        document: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return document
