"""A real `ami serve` and the real AWS CLI against it."""

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path) -> "Server":
    """`ami serve` on `home` and a free loopback port, once it accepts connections.
    Its output goes to a file beside the home (a pipe nobody reads would fill)."""
    port, log = free_port(), home.parent / f"serve-{home.name}.log"
    home.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "amiable.cli",
                "--home",
                str(home),
                "serve",
                "--port",
                str(port),
            ],
            stdout=output,
            stderr=output,
        )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return Server(f"http://127.0.0.1:{port}", home, process, log)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"ami serve did not start: {log.read_text()!r}") from None
            time.sleep(0.1)


@dataclass
class Server:
    url: str
    home: Path
    process: "subprocess.Popen[bytes]"
    log: Path

    def stop(self) -> None:
        """Stop `ami serve` (what it started keeps running)."""
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

    def ami(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`ami` on the server's data home (accounts are made this way)."""
        command = [sys.executable, "-m", "amiable.cli", "--home", str(self.home), *args]
        return subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)

    def aws_json(self, *args: str, **kwargs: Any) -> Any:
        done = self.aws(*args, **kwargs)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)
