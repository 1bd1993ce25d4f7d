"""`ami lifecycle plan POLICY` and `ami lifecycle apply POLICY`: retention
that never removes an image in use (amiable.tools.lifecycle), on the data
home (the policy's profiles name its accounts by their keys), over
`--endpoint-url`, or on AWS with `--profile`.

Exit statuses: 0 done, 1 an error in the policy (or its accounts), 2 some
actions failed, 130 interrupted (the same command continues).
"""

import hashlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import click
from botocore.exceptions import BotoCoreError, ClientError

from amiable.tools.journal import Busy, Journal, state_home
from amiable.tools.lifecycle.apply import RESUMABLE, apply
from amiable.tools.lifecycle.plan import Decision, Plan, Target, plan
from amiable.tools.lifecycle.policy import Policy, load_policy
from amiable.tools.lifecycle.targets import targets
from amiable.tools.user_files import UserFileError
from amiable.units import human_bytes

from .context import Settings, settings
from .output import emit_json, table

ACTIONS_FAILED = 2
JOURNALS = "lifecycle"


@click.group()
def lifecycle() -> None:
    """Deprecate, disable and deregister old images by a policy file, never
    one in use; see docs/lifecycle.md."""


def _stop(message: str, status: int = 1) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(status)


@contextmanager
def _policy_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except UserFileError as exc:
        _stop(str(exc))
    except Busy as exc:
        _stop(f"{path}: an apply of this policy is running ({exc})")


def _now(s: Settings) -> Callable[[], datetime]:
    """The cloud's clock on the data home; this machine's otherwise."""
    return s.cloud().clock.now if s.in_process else lambda: datetime.now(UTC)


def _targets(s: Settings, path: Path, policy: Policy) -> list[Target]:
    if s.in_process and any(a.role_arn for a in policy.accounts):
        raise UserFileError(f"{path}: accounts: role_arn works on AWS only (amiable has no IAM)")
    try:
        return targets(policy, s.client, s.endpoint_url)
    except (ClientError, BotoCoreError, ValueError) as exc:
        raise UserFileError(f"{path}: accounts: {exc}") from exc


@lifecycle.command("plan")
@click.argument("policy_file", metavar="POLICY", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@settings
def plan_command(s: Settings, policy_file: Path, as_json: bool) -> None:
    """Show what apply would do now, and why; change nothing."""
    with _policy_errors(policy_file):
        policy = load_policy(policy_file)
        found = plan(policy, _targets(s, policy_file, policy), _now(s)())
    _show(found, as_json)


@lifecycle.command("apply")
@click.argument("policy_file", metavar="POLICY", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@settings
def apply_command(s: Settings, policy_file: Path, as_json: bool) -> None:
    """Take the plan's steps, journaled; run again after an interruption."""
    with _policy_errors(policy_file):
        policy = load_policy(policy_file)
        chosen = _targets(s, policy_file, policy)
        journal = _journal(s, policy_file)
        now = _now(s)
        try:
            found = plan(policy, chosen, now())
            echo = (lambda line: None) if as_json else (lambda line: click.echo(line, err=True))
            applied = apply(found, chosen, journal, policy.in_use, now, echo)
            journal.end("failed" if applied.failed else "done")
        finally:
            journal.release()
    if as_json:
        emit_json({"plan": found.as_json(), **vars(applied)})
    else:
        counts = f"{len(applied.done)} done, {len(applied.skipped)} skipped"
        click.echo(f"{counts}, {len(applied.failed)} failed", err=True)
    if applied.failed:
        sys.exit(ACTIONS_FAILED)


def _journal(s: Settings, path: Path) -> Journal:
    """The unfinished journal of this policy on this cloud, or a new one."""
    target = s.endpoint_url or s.profile or str(s.cloud().home)
    text = path.read_bytes()
    identity = hashlib.sha256(f"{path.resolve()}\0{target}\0".encode() + text).hexdigest()
    folder = state_home() / JOURNALS
    journal = Journal.resumable(folder, identity, RESUMABLE)
    if journal is not None:
        journal.hold()
        return journal
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + identity[:8]
    return Journal.create(folder, run_id, identity=identity, policy=str(path.resolve()))


def _show(found: Plan, as_json: bool) -> None:
    if as_json:
        emit_json(found.as_json())
        return
    columns = ("REGION", "FAMILY", "IMAGE", "NAME", "AGE", "ACTION", "WHY", "NEXT", "FREED")
    table("lifecycle plan", columns, [_row(d, found.now) for d in found.decisions])
    freed = sum(d.freed_bytes for d in found.decisions)
    click.echo(f"{len(found.decisions)} image(s); {human_bytes(freed)} would be freed", err=True)


def _row(decision: Decision, now: datetime) -> list[Any]:
    why = decision.kept_by or decision.held_by
    coming = decision.next_stage(now)
    return [
        decision.region,
        decision.family,
        decision.image.image_id,
        decision.image.name,
        _age(now - decision.image.created),
        decision.action,
        "; ".join(why) + (f" ({decision.note})" if decision.note else ""),
        f"{coming[0]} {coming[1]:%Y-%m-%d %H:%M}" if coming else "",
        human_bytes(decision.freed_bytes) if decision.freed_bytes else "",
    ]


def _age(delta: timedelta) -> str:
    if delta.days:
        return f"{delta.days}d"
    hours = delta.seconds // 3600
    return f"{hours}h" if hours else f"{delta.seconds // 60}m"
