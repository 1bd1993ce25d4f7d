"""SSM Run Command on the same endpoint (JSON protocol): SendCommand with
`AWS-RunShellScript`, GetCommandInvocation, ListCommands,
ListCommandInvocations, CancelCommand, DescribeInstanceInformation.

Each invocation runs in the background inside the instance's sandbox
(`Sandbox.run`: into its namespaces and root), with the document's `commands` as
one shell script in `workingDirectory`, killed after `executionTimeout`; its
output so far is readable while it runs (`ami exec` streams it).
Status and exit code are reported as SSM does: `Success` for exit 0, `Failed`
with the exit code otherwise, `TimedOut`, `Cancelled`. Output is kept whole;
GetCommandInvocation shows its first 24,000 characters, as SSM does.
"""

import json
import threading
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, select

from amiable.catalog.regional import instances, ssm_commands, ssm_invocations
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Region
from amiable.cloud.core.pages import page
from amiable.cloud.core.workers import alive, this_worker
from amiable.cloud.instances import hosting
from amiable.runtime.sandbox import Sandbox

DOCUMENT = "AWS-RunShellScript"
PLUGIN = "aws:runShellScript"
OUTPUT_LIMIT = 24000
DEFAULT_TIMEOUT = 3600
DONE = {"Success", "Failed", "TimedOut", "Cancelled"}

_running: dict[tuple[str, str], int] = {}  # (command, instance) -> process group
_running_lock = threading.Lock()


def _region(ctx: Context) -> Region:
    region: Region = ctx.cloud.region(ctx.region)
    return region


def _parameters(params: dict[str, Any]) -> tuple[str, str, int]:
    """(script, working directory, timeout) from AWS-RunShellScript's parameters."""
    given = params.get("Parameters") or {}
    commands = given.get("commands")
    if not commands:
        raise ApiError("InvalidParameters", "AWS-RunShellScript needs the parameter commands.")
    workdir = (given.get("workingDirectory") or ["/"])[0] or "/"
    try:
        timeout = int((given.get("executionTimeout") or [str(DEFAULT_TIMEOUT)])[0])
    except ValueError as exc:
        raise ApiError(
            "InvalidParameters", "executionTimeout must be a number of seconds."
        ) from exc
    if not 1 <= timeout <= 172800:
        raise ApiError("InvalidParameters", "executionTimeout must be 1 to 172800 seconds.")
    return "\n".join(commands), workdir, timeout


@action("ssm", "SendCommand")
def send_command(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    if params["DocumentName"] != DOCUMENT:
        raise ApiError(
            "InvalidDocument",
            f"Document {params['DocumentName']} is not supported; amiable runs {DOCUMENT}.",
        )
    targets = params.get("InstanceIds") or []
    if not targets:
        raise ApiError("InvalidParameters", "Give InstanceIds (Targets are not supported).")
    script, workdir, timeout = _parameters(params)
    region = _region(ctx)
    now = ctx.cloud.clock.now()
    command_id = str(uuid.uuid4())
    with region.catalog.begin() as conn:
        _check_instances(conn, region, ctx.account_id, targets)
        conn.execute(
            ssm_commands.insert().values(
                command_id=command_id,
                account_id=ctx.account_id,
                document=DOCUMENT,
                parameters=json.dumps(params.get("Parameters") or {}),
                comment=params.get("Comment", ""),
                timeout=timeout,
                requested=now,
            )
        )
        for instance_id in targets:
            conn.execute(
                ssm_invocations.insert().values(
                    command_id=command_id,
                    instance_id=instance_id,
                    status="Pending",
                    worker=this_worker(),
                )
            )
        command = _command(conn, region, command_id)
    for instance_id in targets:
        ctx.cloud.background(_invoke, region, command_id, instance_id, script, workdir, timeout)
    return {"Command": command}


def _check_instances(conn: Connection, region: Region, owner: str, ids: list[str]) -> None:
    for instance_id in ids:
        row = conn.execute(
            select(instances).where(
                instances.c.instance_id == instance_id, instances.c.owner_id == owner
            )
        ).first()
        if row is None or not hosting.sandbox(region, instance_id).running():
            raise ApiError(
                "InvalidInstanceId",
                f"Instance {instance_id} is not running or not managed by SSM.",
            )


def _invoke(
    region: Region, command_id: str, instance_id: str, script: str, workdir: str, timeout: int
) -> None:
    key = (command_id, instance_id)
    if not _update(region, key, {"status": "InProgress", "started": region.clock.now()}, "Pending"):
        return  # cancelled before it started

    def started(group: int) -> None:
        with _running_lock:
            _running[key] = group

    def progress(stdout: bytes, stderr: bytes) -> None:  # output so far, while it runs
        _update(region, key, {"stdout": stdout, "stderr": stderr}, "InProgress")

    try:
        done = hosting.sandbox(region, instance_id).run(script, workdir, timeout, started, progress)
    except Exception as exc:  # the instance stopped meanwhile, say
        values: dict[str, Any] = {
            "status": "Failed",
            "response_code": -1,
            "stderr": str(exc).encode(),
        }
    else:
        status = "TimedOut" if done.timed_out else ("Success" if done.exit_code == 0 else "Failed")
        values = {
            "status": status,
            "response_code": done.exit_code if not done.timed_out else -1,
            "stdout": done.stdout,
            "stderr": done.stderr,
        }
    finally:
        with _running_lock:
            _running.pop(key, None)
    _update(region, key, {**values, "ended": region.clock.now(), "worker": None}, "InProgress")


def _update(region: Region, key: tuple[str, str], values: dict[str, Any], expected: str) -> bool:
    """Move an invocation on, unless it left `expected` meanwhile (a cancel)."""
    command_id, instance_id = key
    with region.catalog.begin() as conn:
        changed = conn.execute(
            ssm_invocations.update()
            .where(
                ssm_invocations.c.command_id == command_id,
                ssm_invocations.c.instance_id == instance_id,
                ssm_invocations.c.status == expected,
            )
            .values(**values)
        ).rowcount
    return bool(changed)


def _invocations(conn: Connection, command_id: str) -> list[Any]:
    rows = conn.execute(
        select(ssm_invocations)
        .where(ssm_invocations.c.command_id == command_id)
        .order_by(ssm_invocations.c.instance_id)
    ).all()
    return [_settled(conn, row) for row in rows]


def _settled(conn: Connection, row: Any) -> Any:
    """An invocation whose worker died (the server stopped) ends Failed."""
    if row.status in DONE or row.worker is None or alive(row.worker):
        return row
    conn.execute(
        ssm_invocations.update()
        .where(
            ssm_invocations.c.command_id == row.command_id,
            ssm_invocations.c.instance_id == row.instance_id,
        )
        .values(status="Failed", stderr=b"interrupted: the server stopped", worker=None)
    )
    return conn.execute(
        select(ssm_invocations).where(
            ssm_invocations.c.command_id == row.command_id,
            ssm_invocations.c.instance_id == row.instance_id,
        )
    ).one()


def _overall(statuses: list[str]) -> str:
    if any(s in ("Pending", "InProgress", "Cancelling") for s in statuses):
        return "InProgress" if any(s != "Pending" for s in statuses) else "Pending"
    for status in ("Cancelled", "TimedOut", "Failed"):
        if status in statuses:
            return status
    return "Success"


def _command(conn: Connection, region: Region, command_id: str) -> dict[str, Any]:
    row = conn.execute(select(ssm_commands).where(ssm_commands.c.command_id == command_id)).one()
    invocations = _invocations(conn, command_id)
    statuses = [i.status for i in invocations]
    status = _overall(statuses)
    requested = row.requested
    return {
        "CommandId": command_id,
        "DocumentName": row.document,
        "DocumentVersion": "$DEFAULT",
        "Comment": row.comment,
        "ExpiresAfter": requested + timedelta(seconds=row.timeout + 3600),
        "Parameters": json.loads(row.parameters),
        "InstanceIds": [i.instance_id for i in invocations],
        "Targets": [],
        "RequestedDateTime": requested,
        "Status": status,
        "StatusDetails": status,
        "MaxConcurrency": "50",
        "MaxErrors": "0",
        "TargetCount": len(invocations),
        "CompletedCount": sum(s in DONE for s in statuses),
        "ErrorCount": sum(s in ("Failed", "TimedOut") for s in statuses),
        "DeliveryTimedOutCount": 0,
        "TimeoutSeconds": row.timeout,
    }


def _own_command(conn: Connection, account_id: str, command_id: str) -> Any:
    row = conn.execute(
        select(ssm_commands).where(
            ssm_commands.c.command_id == command_id, ssm_commands.c.account_id == account_id
        )
    ).first()
    if row is None:
        raise ApiError("InvalidCommandId", f"Command {command_id} was not found.")
    return row


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


@action("ssm", "GetCommandInvocation")
def get_command_invocation(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("PluginName") not in (None, PLUGIN):
        raise ApiError("InvalidPluginName", f"The plugin of {DOCUMENT} is {PLUGIN}.")
    region = _region(ctx)
    with region.catalog.begin() as conn:
        command = _own_command(conn, ctx.account_id, params["CommandId"])
        found = [
            i
            for i in _invocations(conn, command.command_id)
            if i.instance_id == params["InstanceId"]
        ]
    if not found:
        raise ApiError("InvocationDoesNotExist", "The command invocation does not exist.")
    row = found[0]
    shown: dict[str, Any] = {
        **_invocation_of(command, row),
        "PluginName": PLUGIN,
        "ResponseCode": row.response_code,
        "Status": row.status,
        "StatusDetails": row.status,
        "StandardOutputContent": _text(row.stdout)[:OUTPUT_LIMIT],
        "StandardOutputUrl": "",
        "StandardErrorContent": _text(row.stderr)[:OUTPUT_LIMIT],
        "StandardErrorUrl": "",
    }
    if row.started is not None:
        shown["ExecutionStartDateTime"] = row.started.isoformat()
    if row.ended is not None:
        shown["ExecutionEndDateTime"] = row.ended.isoformat()
        elapsed = row.ended - (row.started or row.ended)
        shown["ExecutionElapsedTime"] = f"PT{elapsed.total_seconds():.3f}S"
    return shown


def _commands_of(conn: Connection, account_id: str, params: dict[str, Any]) -> list[Any]:
    query = select(ssm_commands).where(ssm_commands.c.account_id == account_id)
    if params.get("CommandId"):
        _own_command(conn, account_id, params["CommandId"])
        query = query.where(ssm_commands.c.command_id == params["CommandId"])
    rows = conn.execute(query.order_by(ssm_commands.c.requested.desc())).all()
    if params.get("InstanceId"):
        with_instance = {
            r.command_id
            for r in conn.execute(
                select(ssm_invocations.c.command_id).where(
                    ssm_invocations.c.instance_id == params["InstanceId"]
                )
            )
        }
        rows = [r for r in rows if r.command_id in with_instance]
    return list(rows)


@action("ssm", "ListCommands")
def list_commands(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region = _region(ctx)
    with region.catalog.begin() as conn:
        listed = [
            _command(conn, region, r.command_id) for r in _commands_of(conn, ctx.account_id, params)
        ]
    order = {c["CommandId"]: n for n, c in enumerate(listed)}  # newest first
    chosen, token = page(listed, lambda c: f"{order[c['CommandId']]:09d}", params, (1, 50))
    return {"Commands": chosen, "NextToken": token}


@action("ssm", "ListCommandInvocations")
def list_command_invocations(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region = _region(ctx)
    listed = []
    with region.catalog.begin() as conn:
        for command in _commands_of(conn, ctx.account_id, params):
            for row in _invocations(conn, command.command_id):
                if params.get("InstanceId") not in (None, row.instance_id):
                    continue
                listed.append(_invocation(command, row, bool(params.get("Details"))))
    chosen, token = page(listed, lambda i: f"{i['CommandId']} {i['InstanceId']}", params, (1, 50))
    return {"CommandInvocations": chosen, "NextToken": token}


def _invocation_of(command: Any, row: Any) -> dict[str, Any]:
    """What GetCommandInvocation and ListCommandInvocations both show."""
    return {
        "CommandId": command.command_id,
        "InstanceId": row.instance_id,
        "Comment": command.comment,
        "DocumentName": command.document,
        "DocumentVersion": "1",
    }


def _invocation(command: Any, row: Any, details: bool) -> dict[str, Any]:
    shown: dict[str, Any] = {
        **_invocation_of(command, row),
        "RequestedDateTime": command.requested,
        "Status": row.status,
        "StatusDetails": row.status,
    }
    if details:
        plugin: dict[str, Any] = {
            "Name": PLUGIN,
            "Status": row.status,
            "StatusDetails": row.status,
            "ResponseCode": row.response_code,
            "Output": (_text(row.stdout) + _text(row.stderr))[:2500],
        }
        if row.started is not None:
            plugin["ResponseStartDateTime"] = row.started
        if row.ended is not None:
            plugin["ResponseFinishDateTime"] = row.ended
        shown["CommandPlugins"] = [plugin]
    return shown


@action("ssm", "CancelCommand")
def cancel_command(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region = _region(ctx)
    with region.catalog.begin() as conn:
        command = _own_command(conn, ctx.account_id, params["CommandId"])
        wanted = set(params.get("InstanceIds") or [])
        rows = [
            r
            for r in _invocations(conn, command.command_id)
            if (not wanted or r.instance_id in wanted) and r.status not in DONE
        ]
        for row in rows:
            conn.execute(
                ssm_invocations.update()
                .where(
                    ssm_invocations.c.command_id == row.command_id,
                    ssm_invocations.c.instance_id == row.instance_id,
                )
                .values(status="Cancelled", ended=region.clock.now(), worker=None)
            )
    for row in rows:
        with _running_lock:
            group = _running.get((row.command_id, row.instance_id))
        if group is not None:
            Sandbox.cancel(group)
    return {}


@action("ssm", "DescribeInstanceInformation")
def describe_instance_information(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region = _region(ctx)
    with region.catalog.connect() as conn:
        rows = conn.execute(
            select(instances)
            .where(instances.c.owner_id == ctx.account_id, instances.c.state != "terminated")
            .order_by(instances.c.instance_id)
        ).all()
    wanted = _instance_filter(params)
    now = ctx.cloud.clock.now()
    listed = [
        {
            "InstanceId": row.instance_id,
            "PingStatus": "Online"
            if hosting.sandbox(region, row.instance_id).running()
            else "ConnectionLost",
            "LastPingDateTime": now,
            "AgentVersion": "amiable",
            "IsLatestVersion": True,
            "PlatformType": "Linux",
            "PlatformName": "Linux",
            "ResourceType": "EC2Instance",
            "ComputerName": row.instance_id,
        }
        for row in rows
        if wanted is None or row.instance_id in wanted
    ]
    chosen, token = page(listed, "InstanceId", params, (5, 50))
    return {"InstanceInformationList": chosen, "NextToken": token}


def _instance_filter(params: dict[str, Any]) -> set[str] | None:
    for item in params.get("InstanceInformationFilterList") or []:
        if item.get("key") == "InstanceIds":
            return set(item.get("valueSet", []))
    for item in params.get("Filters") or []:
        if item.get("Key") == "InstanceIds":
            return set(item.get("Values", []))
    return None
