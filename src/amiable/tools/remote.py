"""Working inside an instance through SSM Run Command only (no SSH, no
side door): running a script with its output streamed and its exit status
checked, putting files in, reading a file out, and rebooting.

Files travel as a tar archive in base64, CHUNK characters per command (SSM
commands are documents of limited size); a file is read out in pieces
because GetCommandInvocation shows at most 24,000 characters of output.
"""

import base64
import io
import shlex
import tarfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from amiable.tools.waiting import Backoff

DOCUMENT = "AWS-RunShellScript"
CHUNK = 32 * 1024
READ_PIECE = 12 * 1024  # bytes per read; base64 keeps it under SSM's 24,000 shown
OUTPUT_SHOWN = 24000
RUNNING = ("Pending", "InProgress", "Delayed")
SLOWEST_LOOK = 0.5  # seconds between two looks at a command, at most
ONLINE_TIMEOUT = 300.0
BOOT_MARK = "cat /proc/sys/kernel/random/boot_id; cut -d' ' -f22 /proc/1/stat"

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    status: str  # Success | Failed | TimedOut | Cancelled
    exit_code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status == "Success"

    def tail(self, lines: int = 20) -> str:
        text = (self.stdout + ("\n" + self.stderr if self.stderr else "")).rstrip()
        return "\n".join(text.splitlines()[-lines:])


class RemoteError(Exception):
    """The instance could not be reached or did not answer as SSM should."""


class Remote:
    """One instance, reached through an SSM client."""

    def __init__(self, ssm: Any, instance_id: str) -> None:
        self.ssm = ssm
        self.instance_id = instance_id

    def wait_online(self, timeout: float = ONLINE_TIMEOUT) -> None:
        """Until SSM reports the instance Online."""
        deadline, backoff = time.monotonic() + timeout, Backoff(slowest=SLOWEST_LOOK)
        while True:
            found = self.ssm.describe_instance_information(
                Filters=[{"Key": "InstanceIds", "Values": [self.instance_id]}]
            )["InstanceInformationList"]
            if found and found[0].get("PingStatus") == "Online":
                return
            if time.monotonic() > deadline:
                raise RemoteError(f"{self.instance_id} did not come online in SSM")
            backoff.sleep()

    def run(self, script: str, timeout: timedelta, echo: Echo | None = None) -> Outcome:
        """Run `script` with sh; its output goes to `echo` as it comes."""
        started = time.monotonic()
        command_id = self._send(script, timeout)
        shown, backoff = 0, Backoff(slowest=SLOWEST_LOOK)
        while True:
            found = self._invocation(command_id)
            if found is not None:
                out = str(found.get("StandardOutputContent", ""))
                if echo and len(out) > shown:
                    echo(out[shown:])
                    shown = len(out)
                if found["Status"] not in RUNNING:
                    if echo and shown >= OUTPUT_SHOWN:
                        echo("\n[output beyond SSM's first 24,000 characters not shown]\n")
                    return Outcome(
                        found["Status"],
                        int(found.get("ResponseCode", -1)),
                        out,
                        str(found.get("StandardErrorContent", "")),
                        time.monotonic() - started,
                    )
            backoff.sleep()

    def check(self, script: str, what: str, timeout: timedelta = timedelta(minutes=10)) -> str:
        """Run a script of ours; its output, or RemoteError with its end."""
        outcome = self.run(script, timeout)
        if not outcome.ok:
            raise RemoteError(f"{what} failed on {self.instance_id}: {outcome.tail(5)}")
        return outcome.stdout

    def _send(self, script: str, timeout: timedelta) -> str:
        seconds = max(1, min(172800, int(timeout.total_seconds())))
        backoff = Backoff(slowest=SLOWEST_LOOK)
        deadline = time.monotonic() + ONLINE_TIMEOUT
        while True:
            try:
                sent = self.ssm.send_command(
                    InstanceIds=[self.instance_id],
                    DocumentName=DOCUMENT,
                    Parameters={"commands": [script], "executionTimeout": [str(seconds)]},
                )
                return str(sent["Command"]["CommandId"])
            except ClientError as exc:  # not (yet) reachable: booting, rebooting
                code = exc.response.get("Error", {}).get("Code")
                if code != "InvalidInstanceId" or time.monotonic() > deadline:
                    raise
            backoff.sleep()

    def _invocation(self, command_id: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.ssm.get_command_invocation(
                CommandId=command_id, InstanceId=self.instance_id
            )
            return found
        except ClientError as exc:  # SSM may not know of it for a moment
            if exc.response.get("Error", {}).get("Code") == "InvocationDoesNotExist":
                return None
            raise

    def put(self, source: Path, dest: str, contents: bool = False) -> None:
        """Copy a file or folder in, as root: a folder's `contents` only, or
        the folder itself, into `dest`; a file to `dest` (into it if it ends
        with `/`)."""
        archive, target = _archive(source, dest, contents)
        data = base64.b64encode(archive).decode()
        spool = f"/tmp/.amiable-bake-{uuid.uuid4().hex}.b64"
        for at in range(0, len(data), CHUNK):
            self.check(f"printf %s '{data[at : at + CHUNK]}' >> {spool}", "copying a file")
        self.check(
            f"set -e; mkdir -p {shlex.quote(target)}; "
            f"base64 -d {spool} | tar -xf - -C {shlex.quote(target)}; rm -f {spool}",
            "unpacking a copy",
        )

    def read(self, path: str) -> bytes:
        """A file's bytes (empty if it does not exist)."""
        data, offset = b"", 0
        while True:
            piece = self.check(
                f"[ -f {shlex.quote(path)} ] && tail -c +{offset + 1} {shlex.quote(path)} "
                f"| head -c {READ_PIECE} | base64 || true",
                "reading a file",
            )
            chunk = base64.b64decode("".join(piece.split()))
            data += chunk
            offset += len(chunk)
            if len(chunk) < READ_PIECE:
                return data

    def boot_mark(self) -> str:
        """What changes when the instance boots again."""
        return self.check(BOOT_MARK, "reading the boot id")

    def reboot(self, ec2: Any, timeout: float = ONLINE_TIMEOUT) -> None:
        """RebootInstances, then wait until it has booted again and answers."""
        before = self.boot_mark()
        ec2.reboot_instances(InstanceIds=[self.instance_id])
        deadline, backoff = time.monotonic() + timeout, Backoff(slowest=SLOWEST_LOOK)
        while self._boot_mark_after_reboot() in (before, None):
            if time.monotonic() > deadline:
                raise RemoteError(f"{self.instance_id} did not reboot")
            backoff.sleep()

    def _boot_mark_after_reboot(self) -> str | None:
        """The boot mark, or None while a command sent mid-reboot fails
        (the instance went down under it)."""
        try:
            return self.boot_mark()
        except RemoteError:
            return None


def _archive(source: Path, dest: str, contents: bool) -> tuple[bytes, str]:
    """A tar of `source` laid out for `dest`, and the folder to unpack it in."""
    buffer = io.BytesIO()
    target = dest
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if source.is_dir() and contents:
            for child in sorted(source.iterdir()):
                tar.add(child, child.name, filter=_as_root)
        elif source.is_dir() or dest.endswith("/"):
            tar.add(source, source.name, filter=_as_root)
        else:
            tar.add(source, Path(dest).name, filter=_as_root)
            target = str(Path(dest).parent)
    return buffer.getvalue(), target


def _as_root(member: tarfile.TarInfo) -> tarfile.TarInfo:
    member.uid = member.gid = 0
    member.uname = member.gname = "root"
    return member
