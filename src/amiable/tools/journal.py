"""Journals of long work (a bake, a lifecycle apply): what each finished
step found and made, written whole after every change (temp file, fsync,
rename), so that the same command run again after Ctrl-C, kill -9 or a
reboot continues where the work stopped. They live in the user's state
directory (`$AMI_STATE_DIR`, else `$XDG_STATE_HOME/amiable`, else
`~/.local/state/amiable`), one folder per tool, as `<id>.json` beside a
lock file that the running command holds.

A piece of work is found again by its identity (for a bake: the recipe file
and the cloud it bakes on, its *target*) in one of the statuses its tool
resumes. A journal also says when the work started and last ended, and
when each stage begun with `begin` started and ended (UTC, ISO 8601), for
people (the console's Bakes pages).
"""

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HOME_TARGET, ENDPOINT_TARGET = "home:", "endpoint:"


def state_home() -> Path:
    given = os.environ.get("AMI_STATE_DIR")
    if given:
        return Path(given)
    xdg = os.environ.get("XDG_STATE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "state") / "amiable"


def stamp() -> str:
    """Now, in UTC, as journals and records write it (2026-12-06T10:11:12.345Z)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def target(endpoint_url: str | None, profile: str | None, home: Path | None) -> str:
    """How journals and records name the cloud a command works on: the
    endpoint it talks to, the AWS profile, or the data home in-process."""
    if endpoint_url:
        return f"{ENDPOINT_TARGET}{endpoint_url}"
    if profile:
        return f"profile:{profile}"
    return f"{HOME_TARGET}{home}"


def served_by(named: str, home: Path) -> bool:
    """Whether work on target `named` may have been done on `ami serve` of
    `home`: in-process on that data home, or over any endpoint (a server
    cannot know every URL it is reached by)."""
    return named == f"{HOME_TARGET}{home}" or named.startswith(ENDPOINT_TARGET)


class Busy(Exception):
    """Another process holds this journal."""


class Journal:
    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        self._lock: int | None = None
        self.writing = threading.RLock()  # stages work on regions in threads

    @property
    def build_id(self) -> str:
        return str(self.data["build_id"])

    @property
    def status(self) -> str:
        return str(self.data["status"])

    @classmethod
    def create(cls, folder: Path, build_id: str, **fields: Any) -> "Journal":
        folder.mkdir(parents=True, exist_ok=True)
        journal = cls(
            folder / f"{build_id}.json",
            {
                "build_id": build_id,
                "status": "running",
                "started": stamp(),
                "ended": None,
                "stages": {},
                "times": {},
                "resources": [],
                **fields,
            },
        )
        journal.hold()
        journal.save()
        return journal

    @classmethod
    def all_in(cls, folder: Path) -> Iterator["Journal"]:
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            with contextlib.suppress(OSError, ValueError):
                yield cls(path, json.loads(path.read_text()))

    @classmethod
    def resumable(cls, folder: Path, identity: str, statuses: tuple[str, ...]) -> "Journal | None":
        for journal in cls.all_in(folder):
            if journal.data.get("identity") == identity and journal.status in statuses:
                return journal
        return None

    def save(self) -> None:
        with self.writing:
            self._write()

    def _write(self) -> None:
        temp = self.path.with_suffix(".json.tmp")
        with open(temp, "w") as out:
            json.dump(self.data, out, indent=1, sort_keys=True, default=str)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, self.path)
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    # -- who runs it

    def hold(self) -> None:
        """Take the journal's lock; Busy if a live process has it."""
        fd = os.open(self.path.with_suffix(".lock"), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise Busy(f"{self.build_id} is running in another process") from exc
        self._lock = fd

    def release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def running_elsewhere(self) -> bool:
        """Whether a live process other than this one holds the journal."""
        if self._lock is not None:
            return False
        try:
            self.hold()
        except Busy:
            return True
        self.release()
        return False

    # -- what it did

    def finished(self, stage: str) -> dict[str, Any] | None:
        done: dict[str, Any] | None = self.data["stages"].get(stage)
        return done

    def begin(self, stage: str) -> None:
        """`stage` starts (again): when, for people."""
        with self.writing:
            self.data.setdefault("times", {})[stage] = {"started": stamp()}
            self.save()

    def finish(self, stage: str, **found: Any) -> None:
        self.data["stages"][stage] = found
        if stage in self.data.get("times", {}):
            self.data["times"][stage]["ended"] = stamp()
        self.save()

    def forget(self, *stages: str) -> None:
        for stage in stages:
            self.data["stages"].pop(stage, None)
            self.data.get("times", {}).pop(stage, None)
        self.save()

    def made(self, kind: str, region: str, resource_id: str, role: str) -> None:
        """Record a resource the build created (before anything else happens)."""
        entry = {"kind": kind, "region": region, "id": resource_id, "role": role}
        with self.writing:
            if entry not in self.data["resources"]:
                self.data["resources"].append(entry)
                self.save()

    def resources(self, kind: str, role: str | None = None) -> list[dict[str, str]]:
        return [
            r
            for r in self.data["resources"]
            if r["kind"] == kind and (role is None or r["role"] == role)
        ]

    def gone(self, resource_id: str) -> None:
        with self.writing:
            self.data["resources"] = [r for r in self.data["resources"] if r["id"] != resource_id]
            self.save()

    def end(self, status: str, **fields: Any) -> None:
        """The work's new status (`running` again when it is continued) and
        when it ended (None while it runs)."""
        self.data["status"] = status
        self.data["ended"] = None if status == "running" else stamp()
        self.data.update(fields)
        self.save()
