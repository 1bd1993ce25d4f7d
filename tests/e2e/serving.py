"""A real `ami serve` and the real AWS CLI against it."""

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from helpers import ami_command

SERVING = re.compile(r"^serving on (http://[0-9.]+:\d+) ", re.MULTILINE)


def start_server(home: Path, *args: str) -> "Server":
    """`ami serve --home HOME --port 0 ARGS` on loopback, once it says it is
    serving. Its output goes to a file beside the home (a pipe nobody reads
    would fill)."""
    log = home.parent / f"serve-{home.name}.log"
    home.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        process = subprocess.Popen(
            ami_command("serve", "--home", home, "--port", "0", *args),
            stdout=output,
            stderr=output,
        )
    deadline = time.monotonic() + 30
    while (found := SERVING.search(log.read_text())) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError(f"ami serve did not start: {log.read_text()!r}")
        time.sleep(0.05)
    return Server(found[1], home, process, log)


@dataclass
class Server:
    url: str
    home: Path
    process: "subprocess.Popen[bytes]"
    log: Path

    def stop(self) -> None:
        """Stop `ami serve` (what it started keeps running)."""
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=10)

    def kill(self) -> None:
        """kill -9: no chance to finish anything."""
        self.process.kill()
        self.process.wait(timeout=10)

    def output(self) -> str:
        """What it printed (stdout and stderr), so far."""
        return self.log.read_text(errors="replace")

    def aws(
        self, *args: str, key: str = "test", secret: str = "test", region: str = "us-east-1"
    ) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.home),
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_CONFIG_FILE": str(self.home / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.home / "no-aws-credentials"),
        }
        aws = Path(sys.executable).parent / "aws"
        command = [str(aws), *args, "--endpoint-url", self.url, "--region", region]
        return subprocess.run(
            [*command, "--output", "json"], capture_output=True, text=True, env=env, timeout=60
        )

    def client(
        self, service: str, key: str = "test", secret: str = "test", region: str = "us-east-1"
    ) -> Any:
        """A boto3 client of `service` talking to this server."""
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )

    def ami(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`ami` on the server's data home (accounts are made this way)."""
        command = ami_command("--home", self.home, *args)
        return subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)

    def aws_json(self, *args: str, **kwargs: Any) -> Any:
        done = self.aws(*args, **kwargs)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)
