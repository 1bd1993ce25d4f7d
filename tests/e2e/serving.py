"""A real `ami serve` and the real AWS CLI against it."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Server:
    url: str
    home: Path
    process: "subprocess.Popen[bytes]"

    def stop(self) -> None:
        """Stop `ami serve` (what it started keeps running)."""
        self.process.terminate()
        self.process.wait(timeout=10)

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
