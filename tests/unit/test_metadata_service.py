"""The instance metadata service, over real HTTP on a loopback port: urllib and
http.client, botocore's own IMDS fetchers, cloud-init's EC2 helper (under the
system Python), and, as root, the token's hop limit across network namespaces."""

import base64
import ctypes
import http.client
import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.utils import (
    IMDSFetcher,
    IMDSRegionProvider,
    InstanceMetadataFetcher,
    InstanceMetadataRegionFetcher,
)

from amiable.cloud.instances.metadata_service import serve, serve_file
from helpers import require_root

MAC = "0e:12:34:56:78:9a"
NIC = f"/latest/meta-data/network/interfaces/macs/{MAC}"
USER_DATA = b"#!/bin/sh\necho hello\n\xff\x00 not utf-8"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH3vQ2mKp8rLxT9wYc4dNb1sZgViJu6Oa5TkE0NrXwPv my-key"
TTL = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN = "X-aws-ec2-metadata-token"
# `GET /` on an EC2 instance, 2024.
AWS_VERSIONS = [
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
]


def document(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "instance-id": "i-0123456789abcdef0",
        "ami-id": "ami-0fedcba9876543210",
        "ami-launch-index": 2,
        "instance-type": "t3.micro",
        "architecture": "x86_64",
        "account-id": "111122223333",
        "reservation-id": "r-0a1b2c3d4e5f60718",
        "pending-time": "2024-05-01T12:00:00Z",
        "region": "eu-west-1",
        "availability-zone": "eu-west-1b",
        "availability-zone-id": "euw1-az2",
        "network-interfaces": [
            {
                "device-number": 0,
                "interface-id": "eni-0aaaabbbbccccdddd",
                "mac": MAC,
                "owner-id": "111122223333",
                "local-hostname": "ip-172-31-5-10.eu-west-1.compute.internal",
                "local-ipv4s": ["172.31.5.10", "172.31.5.11"],
                "subnet-id": "subnet-0123abcd",
                "subnet-ipv4-cidr-block": "172.31.0.0/20",
                "vpc-id": "vpc-0123abcd",
                "vpc-ipv4-cidr-blocks": ["172.31.0.0/16", "10.1.0.0/16"],
                "security-group-ids": ["sg-0aaa", "sg-0bbb"],
                "security-groups": ["default", "web"],
            }
        ],
        "block-device-mapping": {"ami": "/dev/xvda", "root": "/dev/xvda", "ebs1": "sdb"},
        "public-keys": [{"name": "my-key", "openssh-key": KEY}],
        "user-data": base64.b64encode(USER_DATA).decode(),
        "tags": [{"Key": "Name", "Value": "web-1"}, {"Key": "Env", "Value": "prod"}],
        "metadata-options": {
            "State": "applied",
            "HttpTokens": "optional",
            "HttpPutResponseHopLimit": 1,
            "HttpEndpoint": "enabled",
            "HttpProtocolIpv6": "disabled",
            "InstanceMetadataTags": "disabled",
        },
    }
    doc.update(changes)
    return doc


def options(**changes: Any) -> dict[str, Any]:
    return {**document()["metadata-options"], **changes}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class Imds:
    """A running service: `doc` is what it reads for every request."""

    port: int
    doc: dict[str, Any] | None
    host: str = "127.0.0.1"
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Answer:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
        try:
            conn.request(method, path, body=body or None, headers=headers or {})
            response = conn.getresponse()
            return Answer(response.status, response.msg, response.read())
        finally:
            conn.close()

    def get(self, path: str, token: str | None = None) -> Answer:
        return self.request("GET", path, {TOKEN: token} if token is not None else {})

    def token(self, ttl: str = "21600") -> str:
        answer = self.request("PUT", "/latest/api/token", {TTL: ttl})
        assert answer.status == 200, answer
        return answer.text


@pytest.fixture
def start() -> Iterator[Callable[[dict[str, Any] | None], Imds]]:
    """Starts services on loopback ports; all are told to stop at the end (each
    closes its listener once it has)."""
    running: list[Imds] = []

    def start_one(doc: dict[str, Any] | None) -> Imds:
        listener = socket.create_server(("127.0.0.1", 0))
        imds = Imds(listener.getsockname()[1], doc)

        def run() -> None:
            with listener:
                serve(listener, lambda: imds.doc, imds.stop)

        threading.Thread(target=run, daemon=True).start()
        running.append(imds)
        return imds

    yield start_one
    for imds in running:
        imds.stop.set()


@pytest.fixture
def imds(start: Callable[[dict[str, Any] | None], Imds]) -> Imds:
    return start(document())


def with_options(imds: Imds, **changes: Any) -> None:
    assert imds.doc is not None
    imds.doc["metadata-options"] = options(**changes)


# --------------------------------------------------------------------------- reading


def test_root_lists_every_version_aws_lists(imds: Imds) -> None:
    answer = imds.get("/")
    assert answer.status == 200
    assert answer.text.split("\n") == AWS_VERSIONS
    assert answer.headers["Content-Type"] == "text/plain"
    assert answer.headers["Server"] == "EC2ws"


@pytest.mark.parametrize("path", ["/latest", "/latest/", "/2021-03-23/", "/2009-04-04"])
def test_a_version_holds_dynamic_meta_data_and_user_data(imds: Imds, path: str) -> None:
    assert imds.get(path).text == "dynamic\nmeta-data\nuser-data"


def test_dynamic_data_came_with_2009_04_04(imds: Imds) -> None:
    assert imds.get("/2008-09-01/").text == "meta-data\nuser-data"
    assert imds.get("/2008-09-01/dynamic/instance-identity/document").status == 404


def test_meta_data_lists_its_categories_directories_with_a_slash(imds: Imds) -> None:
    assert imds.get("/latest/meta-data/").text.split("\n") == [
        "ami-id",
        "ami-launch-index",
        "ami-manifest-path",
        "block-device-mapping/",
        "hostname",
        "instance-id",
        "instance-type",
        "local-hostname",
        "local-ipv4",
        "mac",
        "network/",
        "placement/",
        "public-keys/",
        "reservation-id",
        "security-groups",
        "services/",
    ]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("ami-id", "ami-0fedcba9876543210"),
        ("ami-launch-index", "2"),
        ("ami-manifest-path", "(unknown)"),
        ("instance-id", "i-0123456789abcdef0"),
        ("instance-type", "t3.micro"),
        ("hostname", "ip-172-31-5-10.eu-west-1.compute.internal"),
        ("local-hostname", "ip-172-31-5-10.eu-west-1.compute.internal"),
        ("local-ipv4", "172.31.5.10"),
        ("mac", MAC),
        ("reservation-id", "r-0a1b2c3d4e5f60718"),
        ("security-groups", "default\nweb"),
        ("placement/availability-zone", "eu-west-1b"),
        ("placement/availability-zone-id", "euw1-az2"),
        ("placement/region", "eu-west-1"),
        ("services/domain", "amazonaws.com"),
        ("services/partition", "aws"),
        ("block-device-mapping/ami", "/dev/xvda"),
        ("block-device-mapping/root", "/dev/xvda"),
        ("block-device-mapping/ebs1", "sdb"),
        ("public-keys/0/openssh-key", KEY),
        (f"network/interfaces/macs/{MAC}/device-number", "0"),
        (f"network/interfaces/macs/{MAC}/interface-id", "eni-0aaaabbbbccccdddd"),
        (f"network/interfaces/macs/{MAC}/mac", MAC),
        (f"network/interfaces/macs/{MAC}/owner-id", "111122223333"),
        (
            f"network/interfaces/macs/{MAC}/local-hostname",
            "ip-172-31-5-10.eu-west-1.compute.internal",
        ),
        (f"network/interfaces/macs/{MAC}/local-ipv4s", "172.31.5.10\n172.31.5.11"),
        (f"network/interfaces/macs/{MAC}/subnet-id", "subnet-0123abcd"),
        (f"network/interfaces/macs/{MAC}/subnet-ipv4-cidr-block", "172.31.0.0/20"),
        (f"network/interfaces/macs/{MAC}/vpc-id", "vpc-0123abcd"),
        (f"network/interfaces/macs/{MAC}/vpc-ipv4-cidr-block", "172.31.0.0/16"),
        (f"network/interfaces/macs/{MAC}/vpc-ipv4-cidr-blocks", "172.31.0.0/16\n10.1.0.0/16"),
        (f"network/interfaces/macs/{MAC}/security-group-ids", "sg-0aaa\nsg-0bbb"),
        (f"network/interfaces/macs/{MAC}/security-groups", "default\nweb"),
    ],
)
def test_each_value(imds: Imds, path: str, value: str) -> None:
    answer = imds.get(f"/latest/meta-data/{path}")
    assert (answer.status, answer.text) == (200, value)
    assert answer.headers["Content-Type"] == "text/plain"
    assert imds.get(f"/latest/meta-data/{path}/").text == value  # a slash changes nothing


@pytest.mark.parametrize(
    ("path", "listing"),
    [
        ("block-device-mapping", "ami\nebs1\nroot"),
        ("placement", "availability-zone\navailability-zone-id\nregion"),
        ("services", "domain\npartition"),
        ("network", "interfaces/"),
        ("network/interfaces", "macs/"),
        ("network/interfaces/macs", f"{MAC}/"),
        (
            f"network/interfaces/macs/{MAC}",
            "device-number\ninterface-id\nlocal-hostname\nlocal-ipv4s\nmac\nowner-id\n"
            "security-group-ids\nsecurity-groups\nsubnet-id\nsubnet-ipv4-cidr-block\nvpc-id\n"
            "vpc-ipv4-cidr-block\nvpc-ipv4-cidr-blocks",
        ),
        ("public-keys", "0=my-key"),
        ("public-keys/0", "openssh-key"),
    ],
)
def test_each_listing(imds: Imds, path: str, listing: str) -> None:
    assert imds.get(f"/latest/meta-data/{path}/").text == listing
    assert imds.get(f"/latest/meta-data/{path}").text == listing


def test_dated_versions_show_what_they_had(imds: Imds) -> None:
    assert imds.get("/2021-03-23/meta-data/instance-id").text == "i-0123456789abcdef0"
    assert imds.get("/1.0/meta-data/instance-type").status == 404
    assert imds.get("/2007-08-29/meta-data/instance-type").text == "t3.micro"
    assert imds.get("/2016-09-02/meta-data/placement/").text == "availability-zone"
    assert imds.get("/2009-04-04/meta-data/mac").status == 404
    assert imds.get("/2011-01-01/meta-data/mac").text == MAC
    nic = f"/2016-04-19/meta-data/network/interfaces/macs/{MAC}"
    assert imds.get(f"{nic}/vpc-ipv4-cidr-block").text == "172.31.0.0/16"
    assert imds.get(f"{nic}/vpc-ipv4-cidr-blocks").status == 404
    assert imds.get("/2014-11-05/meta-data/services/").text == "domain"


def test_an_unknown_version_or_path_is_imds_404_page(imds: Imds) -> None:
    for path in ["/2000-01-01/meta-data/", "/latest/meta-data/nope", "/latest/meta-data/ami-id/x"]:
        answer = imds.get(path)
        assert answer.status == 404
        assert answer.headers["Content-Type"] == "text/html"
        assert "<title>404 - Not Found</title>" in answer.text


def test_no_public_keys_no_public_keys_category(start: Callable[..., Imds]) -> None:
    imds = start(document(**{"public-keys": []}))
    assert "public-keys/" not in imds.get("/latest/meta-data/").text
    assert imds.get("/latest/meta-data/public-keys/").status == 404


def test_user_data_is_served_raw(imds: Imds) -> None:
    answer = imds.get("/latest/user-data")
    assert (answer.status, answer.body) == (200, USER_DATA)
    assert answer.headers["Content-Type"] == "application/octet-stream"


def test_no_user_data_is_404(start: Callable[..., Imds]) -> None:
    imds = start(document(**{"user-data": None}))
    assert imds.get("/latest/user-data").status == 404
    assert imds.get("/latest/").text == "dynamic\nmeta-data"


def test_instance_identity_document(imds: Imds) -> None:
    assert imds.get("/latest/dynamic/").text == "instance-identity/"
    assert imds.get("/latest/dynamic/instance-identity/").text == "document"
    answer = imds.get("/latest/dynamic/instance-identity/document")
    assert answer.headers["Content-Type"] == "text/plain"
    assert '  "accountId" : "111122223333",\n' in answer.text  # EC2's layout
    assert json.loads(answer.text) == {
        "accountId": "111122223333",
        "architecture": "x86_64",
        "availabilityZone": "eu-west-1b",
        "billingProducts": None,
        "devpayProductCodes": None,
        "marketplaceProductCodes": None,
        "imageId": "ami-0fedcba9876543210",
        "instanceId": "i-0123456789abcdef0",
        "instanceType": "t3.micro",
        "kernelId": None,
        "pendingTime": "2024-05-01T12:00:00Z",
        "privateIp": "172.31.5.10",
        "ramdiskId": None,
        "region": "eu-west-1",
        "version": "2017-09-30",
    }


def test_the_document_is_read_for_every_request(imds: Imds) -> None:
    assert imds.doc is not None
    assert imds.get("/latest/meta-data/security-groups").text == "default\nweb"
    imds.doc["network-interfaces"][0]["security-groups"] = ["locked-down"]
    assert imds.get("/latest/meta-data/security-groups").text == "locked-down"


def test_head_answers_like_get_without_a_body(imds: Imds) -> None:
    head = imds.request("HEAD", "/latest/meta-data/instance-id")
    assert (head.status, head.body) == (200, b"")
    assert head.headers["Content-Length"] == str(len("i-0123456789abcdef0"))
    assert imds.request("HEAD", "/latest/nope").status == 404


# --------------------------------------------------------------------------- tags


def test_tags_are_hidden_unless_allowed(imds: Imds) -> None:
    assert "tags/" not in imds.get("/latest/meta-data/").text
    assert imds.get("/latest/meta-data/tags/instance/Name").status == 404


def test_tags_when_allowed(imds: Imds) -> None:
    with_options(imds, InstanceMetadataTags="enabled")
    assert "tags/" in imds.get("/latest/meta-data/").text.split("\n")
    assert imds.get("/latest/meta-data/tags/").text == "instance/"
    assert imds.get("/latest/meta-data/tags/instance").text == "Name\nEnv"  # in their order
    assert imds.get("/latest/meta-data/tags/instance/Name").text == "web-1"
    assert imds.get("/latest/meta-data/tags/instance/Env").text == "prod"
    assert imds.get("/2021-01-03/meta-data/tags/instance/Name").status == 404  # came 2021-03-23


def test_tags_imds_cannot_name_are_left_out(imds: Imds) -> None:
    assert imds.doc is not None
    imds.doc["tags"] = [
        {"Key": k, "Value": "v"} for k in ["ok:1", "a/b", "with space", "..", "_index"]
    ]
    with_options(imds, InstanceMetadataTags="enabled")
    assert imds.get("/latest/meta-data/tags/instance/").text == "ok:1"


# --------------------------------------------------------------------------- IMDSv2


def test_a_token_opens_a_session(imds: Imds) -> None:
    answer = imds.request("PUT", "/latest/api/token", {TTL: "300"})
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "text/plain"
    assert answer.headers[TTL] == "300"
    assert imds.get("/latest/meta-data/instance-id", answer.text).text == "i-0123456789abcdef0"


@pytest.mark.parametrize("ttl", [None, "", "0", "21601", "-1", "1.5", "ten", "6e1", "\u00b2"])
def test_token_ttl_must_be_1_to_21600_seconds(imds: Imds, ttl: str | None) -> None:
    answer = imds.request("PUT", "/latest/api/token", {TTL: ttl} if ttl is not None else {})
    assert answer.status == 400
    assert "<title>400 - Bad Request</title>" in answer.text


@pytest.mark.parametrize("ttl", ["1", "21600"])
def test_token_ttl_limits_are_granted(imds: Imds, ttl: str) -> None:
    assert imds.request("PUT", "/latest/api/token", {TTL: ttl}).status == 200


def test_v1_is_allowed_while_tokens_are_optional(imds: Imds) -> None:
    assert imds.get("/latest/meta-data/instance-id").status == 200


def test_a_bad_token_is_refused_even_while_optional(imds: Imds) -> None:
    token = imds.token()
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for bad in ["", "not-a-token", flipped, token + "!!", token[:-4]]:
        answer = imds.get("/latest/meta-data/instance-id", bad)
        assert answer.status == 401, bad
        assert "<title>401 - Unauthorized</title>" in answer.text


def test_a_token_is_good_only_where_it_was_made(start: Callable[..., Imds]) -> None:
    one, other = start(document()), start(document())
    assert other.get("/latest/meta-data/instance-id", one.token()).status == 401


def test_required_tokens_refuse_v1(imds: Imds) -> None:
    with_options(imds, HttpTokens="required")
    for path in ["/", "/latest/meta-data/", "/latest/user-data", "/latest/nope"]:
        assert imds.get(path).status == 401, path
    head = imds.request("HEAD", "/latest/meta-data/instance-id")
    assert (head.status, head.body) == (401, b"")
    assert imds.get("/latest/meta-data/instance-id", imds.token()).status == 200


def test_a_token_expires(imds: Imds) -> None:
    token = imds.token(ttl="1")
    assert imds.get("/latest/meta-data/instance-id", token).status == 200
    time.sleep(1.1)
    assert imds.get("/latest/meta-data/instance-id", token).status == 401


def test_a_forwarded_put_gets_no_token(imds: Imds) -> None:
    answer = imds.request("PUT", "/latest/api/token", {TTL: "60", "X-Forwarded-For": "10.0.0.9"})
    assert answer.status == 403
    assert "<title>403 - Forbidden</title>" in answer.text


def test_tokens_come_from_latest_only(imds: Imds) -> None:
    assert imds.request("PUT", "/2021-03-23/api/token", {TTL: "60"}).status == 403
    assert imds.request("PUT", "/latest/meta-data/", {TTL: "60"}).status == 405


def test_a_put_with_a_body_still_gets_its_token(imds: Imds) -> None:
    answer = imds.request("PUT", "/latest/api/token", {TTL: "60"}, body=b"x" * 10000)
    assert answer.status == 200


@pytest.mark.parametrize("method", ["POST", "DELETE", "PATCH", "OPTIONS", "FROB"])
def test_other_methods_are_not_allowed(imds: Imds, method: str) -> None:
    answer = imds.request(method, "/latest/meta-data/")
    assert answer.status == 405
    assert answer.headers["Allow"] == "GET, HEAD, PUT"


# --------------------------------------------------------------------------- the endpoint


def test_a_disabled_endpoint_forbids_everything(imds: Imds) -> None:
    with_options(imds, HttpEndpoint="disabled")
    assert imds.get("/latest/meta-data/instance-id").status == 403
    assert imds.request("PUT", "/latest/api/token", {TTL: "60"}).status == 403


def test_a_gone_instance_is_404(imds: Imds) -> None:
    imds.doc = None
    assert imds.get("/latest/meta-data/instance-id").status == 404
    assert imds.request("PUT", "/latest/api/token", {TTL: "60"}).status == 404


def test_every_answer_closes_its_connection(imds: Imds) -> None:
    assert imds.get("/latest/meta-data/").headers["Connection"] == "close"
    assert imds.request("PUT", "/latest/api/token", {TTL: "60"}).headers["Connection"] == "close"


def test_a_silent_client_does_not_hold_up_others(imds: Imds) -> None:
    with socket.create_connection(("127.0.0.1", imds.port)) as silent:
        silent.sendall(b"GET /latest/meta-data/ HTTP/1.1\r\n")  # and no more
        assert imds.get("/latest/meta-data/instance-id").status == 200


def test_stop_is_honoured() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(listener, document, stop), daemon=True)
    thread.start()
    stop.set()
    thread.join(timeout=1)
    assert not thread.is_alive()
    listener.close()


def test_the_document_may_be_a_file(tmp_path: Path) -> None:
    path = tmp_path / "metadata.json"
    path.write_text(json.dumps(document()))
    listener = socket.create_server(("127.0.0.1", 0))
    imds = Imds(listener.getsockname()[1], None)
    thread = threading.Thread(target=serve_file, args=(listener, str(path), imds.stop))
    thread.start()
    try:
        assert imds.get("/latest/meta-data/instance-id").text == "i-0123456789abcdef0"
        path.write_text(json.dumps(document(**{"instance-id": "i-0fedcba9876543210"})))
        assert imds.get("/latest/meta-data/instance-id").text == "i-0fedcba9876543210"
        path.unlink()
        assert imds.get("/latest/meta-data/instance-id").status == 404
    finally:
        imds.stop.set()
        thread.join(timeout=2)
        listener.close()


def test_neither_token_nor_user_data_is_logged(
    imds: Imds, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = imds.token()
    assert imds.get("/latest/user-data", token).body == USER_DATA
    assert "/latest/user-data" in caplog.text
    assert token not in caplog.text
    assert "echo hello" not in caplog.text


def test_urllib_reads_it_as_curl_would(imds: Imds) -> None:
    put = urllib.request.Request(f"{imds.url}/latest/api/token", method="PUT", headers={TTL: "60"})
    with urllib.request.urlopen(put, timeout=5) as response:
        token = response.read().decode()
    get = urllib.request.Request(f"{imds.url}/latest/meta-data/local-ipv4", headers={TOKEN: token})
    with urllib.request.urlopen(get, timeout=5) as response:
        assert response.read() == b"172.31.5.10"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{imds.url}/latest/meta-data/iam/", timeout=5)
    assert refused.value.code == 404


# --------------------------------------------------------------------------- botocore


def test_botocore_finds_the_region(imds: Imds) -> None:
    fetcher = InstanceMetadataRegionFetcher(base_url=imds.url, num_attempts=1, env={})
    assert fetcher.retrieve_region() == "eu-west-1"


def test_botocore_finds_the_region_with_tokens_required_and_v1_disabled(imds: Imds) -> None:
    with_options(imds, HttpTokens="required")
    fetcher = InstanceMetadataRegionFetcher(
        base_url=imds.url, num_attempts=1, env={}, config={"ec2_metadata_v1_disabled": True}
    )
    assert fetcher.retrieve_region() == "eu-west-1"


def test_botocore_session_follows_the_endpoint_variable(
    imds: Imds, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url)
    assert IMDSRegionProvider(botocore.session.Session(), environ={}).provide() == "eu-west-1"


def test_botocore_reads_the_identity_document(imds: Imds) -> None:
    fetcher = IMDSFetcher(base_url=imds.url, num_attempts=1, env={})
    token = fetcher._fetch_metadata_token()  # botocore's own IMDSv2 steps
    response = fetcher._get_request("latest/dynamic/instance-identity/document", None, token)
    assert json.loads(response.text)["instanceId"] == "i-0123456789abcdef0"


def test_botocore_finds_no_role_credentials(imds: Imds) -> None:
    fetcher = InstanceMetadataFetcher(base_url=imds.url, num_attempts=1, env={})
    assert fetcher.retrieve_iam_role_credentials() == {}


# --------------------------------------------------------------------------- cloud-init

CLOUD_INIT_PYTHON = "/usr/bin/python3"
CLOUD_INIT_CRAWL = """
import base64, json, sys, urllib.request
from cloudinit.sources.helpers import ec2

base, version = sys.argv[1], sys.argv[2]
put = urllib.request.Request(
    base + "/latest/api/token", method="PUT",
    headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
token = urllib.request.urlopen(put, timeout=5).read().decode()
common = dict(api_version=version, metadata_address=base, timeout=5, retries=0,
              headers_cb=lambda url="": {"X-aws-ec2-metadata-token": token})
print(json.dumps({
    "meta-data": ec2.get_instance_metadata(**common),
    "user-data": base64.b64encode(ec2.get_instance_userdata(**common)).decode(),
    "identity": ec2.get_instance_identity(**common),
}))
"""


def cloud_init_crawl(imds: Imds, version: str) -> dict[str, Any]:
    usable = subprocess.run(
        [CLOUD_INIT_PYTHON, "-c", "import cloudinit.sources.helpers.ec2"], capture_output=True
    )
    if not os.path.exists(CLOUD_INIT_PYTHON) or usable.returncode != 0:
        pytest.skip(f"cloud-init is not importable by {CLOUD_INIT_PYTHON}")
    done = subprocess.run(
        [CLOUD_INIT_PYTHON, "-c", CLOUD_INIT_CRAWL, imds.url, version],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    crawled: dict[str, Any] = json.loads(done.stdout)
    return crawled


def test_cloud_init_crawls_it_with_a_token(imds: Imds) -> None:
    with_options(imds, HttpTokens="required", InstanceMetadataTags="enabled")
    crawled = cloud_init_crawl(imds, "2021-03-23")  # the newest version cloud-init asks for
    md = crawled["meta-data"]
    assert md["instance-id"] == "i-0123456789abcdef0"
    assert md["local-hostname"] == "ip-172-31-5-10.eu-west-1.compute.internal"
    assert md["placement"] == {
        "availability-zone": "eu-west-1b",
        "availability-zone-id": "euw1-az2",
        "region": "eu-west-1",
    }
    assert md["public-keys"] == {"my-key": KEY}
    assert md["security-groups"] == ["default", "web"]
    assert md["block-device-mapping"] == {"ami": "/dev/xvda", "root": "/dev/xvda", "ebs1": "sdb"}
    assert md["network"]["interfaces"]["macs"][MAC]["local-ipv4s"] == [
        "172.31.5.10",
        "172.31.5.11",
    ]
    assert md["tags"] == {"instance": {"Name": "web-1", "Env": "prod"}}
    assert base64.b64decode(crawled["user-data"]) == USER_DATA
    assert crawled["identity"]["document"]["region"] == "eu-west-1"


def test_cloud_init_crawls_its_oldest_version(imds: Imds) -> None:
    md = cloud_init_crawl(imds, "2009-04-04")["meta-data"]
    assert md["instance-id"] == "i-0123456789abcdef0"
    assert "network" not in md and "tags" not in md


# --------------------------------------------------------------------------- hop limit

CLONE_NEWNET = 0x40000000


def _enter(netns: str) -> None:
    """Move the calling thread (only) into the named network namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {netns}")
    finally:
        os.close(fd)


def in_netns(netns: str, work: Callable[[], Any]) -> Any:
    """`work()` run by a thread inside `netns`: the sockets it makes live there."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        _enter(netns)
        try:
            outcome["value"] = work()
        except Exception as error:
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.fixture
def routed() -> Iterator[dict[str, str]]:
    """Three network namespaces in a row, `service` - `router` - `container`:
    the router forwards (one hop, TTL less one) between the other two."""
    require_root("network namespaces and veth pairs")
    if shutil.which("ip") is None:
        pytest.skip("needs iproute2's ip")
    tag = secrets.token_hex(3)
    names = {role: f"imds-{tag}-{role}" for role in ("service", "router", "container")}
    s, r, c = names["service"], names["router"], names["container"]
    commands = [
        *(f"ip netns add {name}" for name in names.values()),
        f"ip link add s0 netns {s} type veth peer name r0 netns {r}",
        f"ip link add r1 netns {r} type veth peer name c0 netns {c}",
        f"ip -n {s} addr add 10.77.1.1/24 dev s0",
        f"ip -n {r} addr add 10.77.1.2/24 dev r0",
        f"ip -n {r} addr add 10.77.2.1/24 dev r1",
        f"ip -n {c} addr add 10.77.2.2/24 dev c0",
        *(f"ip -n {ns} link set {dev} up" for ns, dev in [(s, "s0"), (r, "r0"), (r, "r1")]),
        f"ip -n {c} link set c0 up",
        f"ip -n {s} route add default via 10.77.1.2",
        f"ip -n {c} route add default via 10.77.2.1",
        f"ip netns exec {r} sysctl -qw net.ipv4.ip_forward=1",
    ]
    try:
        for command in commands:
            subprocess.run(command.split(), check=True, capture_output=True)
        yield names
    finally:
        for name in names.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


def put_token_from(netns: str, port: int, wait: float = 5.0) -> int | None:
    """The status of a token PUT sent from `netns`, or None if no answer came in `wait` s."""

    def put() -> int | None:
        conn = http.client.HTTPConnection("10.77.1.1", port, timeout=wait)
        try:
            conn.request("PUT", "/latest/api/token", headers={TTL: "60"})
            return conn.getresponse().status
        except TimeoutError:
            return None
        finally:
            conn.close()

    result: int | None = in_netns(netns, put)
    return result


def expired_in(netns: str) -> int:
    """How many packets `netns` has dropped for their TTL (ICMP time exceeded sent)."""
    snmp = subprocess.run(
        ["ip", "netns", "exec", netns, "cat", "/proc/net/snmp"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    names, values = (line.split()[1:] for line in snmp.splitlines() if line.startswith("Icmp:"))
    return int(dict(zip(names, values, strict=True))["OutTimeExcds"])


@pytest.mark.root
def test_the_token_goes_no_further_than_its_hop_limit(routed: dict[str, str]) -> None:
    listener = in_netns(routed["service"], lambda: socket.create_server(("10.77.1.1", 0)))
    port = listener.getsockname()[1]
    imds = Imds(port, document(), host="10.77.1.1")
    thread = threading.Thread(target=serve, args=(listener, lambda: imds.doc, imds.stop))
    thread.start()
    try:
        assert put_token_from(routed["router"], port) == 200  # the instance itself
        assert put_token_from(routed["container"], port, wait=1.0) is None  # one hop further:
        assert expired_in(routed["router"]) > 0  # the answer died at the router
        assert in_netns(routed["container"], lambda: imds.get("/latest/meta-data/").status) == 200
        with_options(imds, HttpPutResponseHopLimit=2)
        assert put_token_from(routed["container"], port) == 200
    finally:
        imds.stop.set()
        thread.join(timeout=2)
        listener.close()
