"""`ami serve` as a process: when it says it serves, what it logs, how it fails and stops."""

import os
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from serving import Server, start_server

from amiable.server.runner import beyond_loopback
from helpers import ami_command

REQUEST_LINE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) INFO (?P<account>\S+) (?P<region>\S+) "
    r"(?P<service>[a-z0-9]+|-):(?P<action>[A-Za-z]+|-) (?P<status>\d{3}) (?P<ms>\d+\.\d) ms"
    r"(?: (?P<error>\S+))?$"
)


def request_lines(server: Server) -> list[dict[str, str | None]]:
    return [
        found.groupdict()
        for line in server.output().splitlines()
        if (found := REQUEST_LINE.match(line))
    ]


@pytest.fixture
def quiet_server(tmp_path: Path) -> Iterator[Server]:
    started = start_server(tmp_path / "home", "--log-level", "warning")
    try:
        yield started
    finally:
        started.stop()


def test_it_says_serving_only_once_the_port_accepts_connections(server: Server) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    socket.create_connection(("127.0.0.1", port), timeout=5).close()  # no retry: already up
    (line,) = [line for line in server.output().splitlines() if "serving" in line]
    assert line == (
        f"serving on {server.url} (data home {server.home}; "
        "built-in credentials: account 000000000000, key 'test', secret 'test')"
    )
    assert "WARNING" not in server.output()  # 127.0.0.1 is loopback


def test_one_line_per_request_with_who_where_what_status_and_time(server: Server) -> None:
    client = server.client("ec2", region="eu-west-1")
    client.describe_regions()
    with pytest.raises(ClientError):
        client.describe_images(ImageIds=["ami-00000000000000000"])
    with pytest.raises(ClientError):
        server.client("ec2", secret="wrong").describe_availability_zones()

    assert [
        tuple(line[k] for k in ("account", "region", "service", "action", "status", "error"))
        for line in request_lines(server)
    ] == [
        ("000000000000", "eu-west-1", "ec2", "DescribeRegions", "200", None),
        ("000000000000", "eu-west-1", "ec2", "DescribeImages", "400", "InvalidAMIID.NotFound"),
        ("-", "-", "ec2", "-", "403", "SignatureDoesNotMatch"),
    ]


def test_the_log_holds_no_secret(server: Server) -> None:
    server.ami(
        "accounts",
        "create",
        "--account-id",
        "123456789012",
        "--access-key-id",
        "AKIALOGGED",
        "--secret-access-key",
        "not-for-the-log",
    )
    kms = server.client("kms", key="AKIALOGGED", secret="not-for-the-log")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.encrypt(KeyId=key, Plaintext=b"plain secret text")
    log = server.output()
    assert "123456789012 us-east-1 kms:Encrypt 200" in log
    for secret in ("not-for-the-log", "plain secret text", "cGxhaW4gc2VjcmV0", "Signature"):
        assert secret not in log


def test_ami_talks_to_it_with_endpoint_url_after_the_command(server: Server) -> None:
    done = subprocess.run(
        ami_command("images", "--endpoint-url", server.url, "--region", "eu-west-1", "--json"),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"},
    )
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "[]", "")
    (line,) = request_lines(server)
    assert (line["region"], line["action"], line["status"]) == (
        "eu-west-1",
        "DescribeImages",
        "200",
    )


def test_log_level_warning_hides_request_lines(quiet_server: Server) -> None:
    quiet_server.client("ec2").describe_regions()
    assert request_lines(quiet_server) == []
    assert "serving on" in quiet_server.output()


def test_log_level_debug_says_more_and_still_no_secret(tmp_path: Path) -> None:
    home = tmp_path / "home"
    created = subprocess.run(
        ami_command(
            "--home",
            home,
            "accounts",
            "create",
            "--access-key-id",
            "AKIADEBUG",
            "--secret-access-key",
            "debug-secret",
        ),
        capture_output=True,
        text=True,
    )
    assert created.returncode == 0, created.stderr
    server = start_server(home, "--log-level", "debug")
    try:
        server.client("ec2", key="AKIADEBUG", secret="debug-secret").describe_regions()
    finally:
        server.stop()
    log = server.output()
    (line,) = [line for line in log.splitlines() if "ec2:DescribeRegions" in line]
    assert re.search(
        r"ec2:DescribeRegions 200 \S+ ms \(request [0-9a-f-]{36}, key AKIADEBUG,", line
    )
    assert "debug-secret" not in log and "Signature" not in log


def test_ctrl_c_stops_it_saying_interrupted(server: Server) -> None:
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(timeout=30) == 130
    assert server.output().splitlines()[-1] == "error: interrupted"


def _fails_changing_nothing(home: Path, *args: str) -> str:
    done = subprocess.run(
        ami_command("serve", "--home", home, *args), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert not home.exists()
    return done.stderr


def test_a_port_out_of_range_is_one_line(tmp_path: Path) -> None:
    stderr = _fails_changing_nothing(tmp_path / "home", "--port", "99999")
    assert stderr == "error: cannot listen on 127.0.0.1:99999: the port must be 0-65535\n"


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        stderr = _fails_changing_nothing(tmp_path / "home", "--port", str(port))
    assert stderr == f"error: cannot listen on 127.0.0.1:{port}: Address already in use\n"


def test_an_unknown_host_is_one_line(tmp_path: Path) -> None:
    stderr = _fails_changing_nothing(tmp_path / "home", "--host", "no such host", "--port", "0")
    assert stderr.startswith("error: cannot listen on no such host:0: ")


@pytest.mark.parametrize(
    ("host", "beyond"),
    [
        ("127.0.0.1", False),
        ("127.10.20.30", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("localhost", False),
        ("LOCALHOST", False),
        ("0.0.0.0", True),
        ("::", True),
        ("192.168.1.10", True),
        ("10.0.0.1", True),
        ("fe80::1", True),
        ("myhost.example", True),
    ],
)
def test_what_counts_as_beyond_loopback(host: str, beyond: bool) -> None:
    assert beyond_loopback(host) is beyond


def test_serving_beyond_loopback_with_the_built_in_key_warns_loudly(tmp_path: Path) -> None:
    server = start_server(tmp_path / "home", "--host", "0.0.0.0")
    try:
        port = server.url.rsplit(":", 1)[1]
        (warning,) = [line for line in server.output().splitlines() if "WARNING" in line]
        assert warning == (
            f"WARNING: http://0.0.0.0:{port} is reachable beyond this machine's loopback, and "
            "the built-in credentials (account 000000000000, key 'test', secret 'test') let "
            f"anyone in, to the API and to the console at http://0.0.0.0:{port}/console; "
            "serve on 127.0.0.1 unless every machine that can reach this port is trusted"
        )
    finally:
        server.stop()
