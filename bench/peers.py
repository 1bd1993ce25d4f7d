"""The peer tools the store is measured against: installing them and timing them.

Peers: `tar | zstd -3 -T0` (archive to a file), `zstd -d | tar -x` (restore), `cp -a`,
restic (backup cold, backup unchanged, restore) and borg (create cold, create unchanged,
extract). Each timing is the best of N runs, each from a fresh repository or an empty target.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import runner

PACKAGES = {"zstd": "zstd", "restic": "restic", "borg": "borgbackup", "debootstrap": "debootstrap"}
VERSION_ARGV = {
    "tar": ["tar", "--version"],
    "zstd": ["zstd", "--version"],
    "cp": ["cp", "--version"],
    "restic": ["restic", "version"],
    "borg": ["borg", "--version"],
    "debootstrap": ["debootstrap", "--version"],
}
RESTIC_PASSWORD = "amiable-bench"  # a throwaway repository that is deleted after the run


@dataclass
class Timings:
    """Runs per measurement name, in seconds, plus the peak memory of each measurement."""

    runs: dict[str, list[float]] = field(default_factory=dict)
    max_rss_mb: dict[str, float] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)

    def add(self, name: str, result: runner.Run) -> None:
        self.runs.setdefault(name, []).append(result.seconds)
        self.max_rss_mb[name] = max(self.max_rss_mb.get(name, 0.0), result.max_rss_mb)


Step = Callable[[Path, runner.Scratch, int, Timings], None]


class Installer:
    """Installs missing tools with apt-get when running as root (`apt-get update` once)."""

    def __init__(self, allowed: bool) -> None:
        self.refusal = _install_refusal(allowed)
        self.updated = False

    def ensure(self, tool: str) -> str | None:
        """None when the tool is there (now); otherwise why it is unavailable."""
        if shutil.which(tool):
            return None
        if self.refusal:
            return f"{tool} is not installed ({self.refusal})"
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        if not self.updated:
            runner.run(["apt-get", "update", "-q"], env=env, check=False, settle=False)
            self.updated = True
        argv = ["apt-get", "install", "-y", "-q", PACKAGES.get(tool, tool)]
        done = runner.run(argv, env=env, check=False, settle=False)
        if shutil.which(tool):
            return None
        return f"apt-get install {PACKAGES.get(tool, tool)} failed: {done.stderr.strip()[-200:]}"


def _install_refusal(allowed: bool) -> str | None:
    if not allowed:
        return "--no-install was given"
    if os.geteuid() != 0:
        return "installing needs root"
    if shutil.which("apt-get") is None:
        return "installing needs apt-get"
    return None


def versions() -> dict[str, str | None]:
    """First line of each tool's version output (None when missing)."""
    return {tool: runner.output(argv) for tool, argv in VERSION_ARGV.items()}


def measure_all(
    source: Path,
    scratch: runner.Scratch,
    repeat: int,
    unavailable: dict[str, str],
    log: Callable[[str], None],
) -> Timings:
    """Time every available peer on source; scratch holds their repositories and targets."""
    timings = Timings()
    steps: list[tuple[str, tuple[str, ...], Step]] = [
        ("tar | zstd", ("tar", "zstd"), _tar_zstd),
        ("cp -a", ("cp",), _cp),
        ("restic", ("restic",), _restic),
        ("borg", ("borg",), _borg),
    ]
    for label, tools, step in steps:
        missing = [tool for tool in tools if tool in unavailable]
        if missing:
            log(f"{label}: skipped, unavailable: {', '.join(missing)}")
            continue
        log(f"{label}: {repeat} run(s)")
        try:
            step(source, scratch, repeat, timings)
        except runner.CommandFailed as exc:
            unavailable[label] = f"failed: {exc}"
            log(f"{label}: failed: {exc}")
        scratch.clear()
    return timings


def tar_zstd_commands(source: Path, archive: Path, target: Path) -> tuple[str, str]:
    """The anchor's two shell commands: pack source into archive, unpack it into target."""
    pack = f"tar -C {_q(source)} -cf - . | zstd -3 -T0 -q -c > {_q(archive)}"
    unpack = f"zstd -d -q -c {_q(archive)} | tar -C {_q(target)} -xf -"
    return pack, unpack


def _tar_zstd(source: Path, scratch: runner.Scratch, repeat: int, timings: Timings) -> None:
    archive, target = scratch / "tree.tar.zst", scratch / "tar-restore"
    pack, unpack = tar_zstd_commands(source, archive, target)
    for _ in range(repeat):
        runner.remove(archive)
        timings.add("tar_zstd", runner.shell(pack))
        scratch.fresh_dir(target)
        timings.add("tar_restore", runner.shell(unpack))
    timings.extra["tar_zstd_archive_bytes"] = archive.stat().st_size


def _cp(source: Path, scratch: runner.Scratch, repeat: int, timings: Timings) -> None:
    target = scratch / "cp-copy"
    for _ in range(repeat):
        scratch.discard(target)
        timings.add("cp_a", runner.run(["cp", "-a", str(source), str(target)]))


def _restic(source: Path, scratch: runner.Scratch, repeat: int, timings: Timings) -> None:
    repo, target, cache = scratch / "restic-repo", scratch / "restic-restore", scratch / "rc"
    env = {
        "RESTIC_PASSWORD": RESTIC_PASSWORD,
        "RESTIC_REPOSITORY": str(repo),
        "RESTIC_CACHE_DIR": str(cache),
    }
    backup = ["restic", "backup", "-q", "--host", "amiable-bench", str(source)]
    restore = ["restic", "restore", "-q", "latest", "--target", str(target)]
    for _ in range(repeat):
        scratch.discard(repo, cache)
        runner.run(["restic", "init", "-q"], env=env)
        timings.add("restic_backup_cold", runner.run(backup, env=env))
        timings.add("restic_backup_unchanged", runner.run(backup, env=env))
        scratch.fresh_dir(target)
        timings.add("restic_restore", runner.run(restore, env=env))
        timings.extra["restic_repo_bytes"] = _du(repo)


def _borg(source: Path, scratch: runner.Scratch, repeat: int, timings: Timings) -> None:
    repo, target, home = scratch / "borg-repo", scratch / "borg-extract", scratch / "borg-home"
    env = {
        "BORG_BASE_DIR": str(home),
        "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes",
        "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes",
    }
    for _ in range(repeat):
        scratch.discard(repo, home)
        runner.run(["borg", "init", "-e", "none", str(repo)], env=env)
        timings.add("borg_create_cold", runner.run(_borg_create(repo, "cold", source), env=env))
        unchanged = _borg_create(repo, "unchanged", source)
        timings.add("borg_create_unchanged", runner.run(unchanged, env=env))
        scratch.fresh_dir(target)
        extract = ["borg", "extract", f"{repo}::cold"]
        timings.add("borg_extract", runner.run(extract, env=env, cwd=target))
        timings.extra["borg_repo_bytes"] = _du(repo)


def _borg_create(repo: Path, name: str, source: Path) -> list[str]:
    return ["borg", "create", f"{repo}::{name}", str(source)]


def _du(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        total += sum(os.lstat(os.path.join(dirpath, name)).st_size for name in files)
    return total


def _q(path: Path) -> str:
    return shlex.quote(str(path))
