"""`ami launch`, `ami instances`, `ami exec`, `ami console`, `ami stop|start|
terminate`, `ami create-image`: instances for people, through the EC2 and SSM
APIs like any other client."""

import os
import shlex
import signal
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import click

from .context import Settings, settings
from .output import emit_json, table

WAIT = {"Delay": 0.5, "MaxAttempts": 600}
INTERRUPTED = 130  # the shell's status for a command ended by SIGINT
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@click.command()
@click.argument("image_id")
@click.option("--count", default=1, show_default=True, help="How many instances.")
@click.option("--type", "instance_type", default="t3.micro", show_default=True)
@click.option("--user-data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="A Name tag for the instances.")
@click.option("--no-wait", is_flag=True, help="Return while they are still pending.")
@settings
def launch(
    s: Settings,
    image_id: str,
    count: int,
    instance_type: str,
    user_data: Path | None,
    name: str | None,
    no_wait: bool,
) -> None:
    """Launch instances of IMAGE_ID; prints their ids once running."""
    ec2 = s.client("ec2")
    params: dict[str, Any] = {
        "ImageId": image_id,
        "MinCount": count,
        "MaxCount": count,
        "InstanceType": instance_type,
    }
    if user_data is not None:
        params["UserData"] = user_data.read_text()
    if name:
        params["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}
        ]
    ids = [i["InstanceId"] for i in ec2.run_instances(**params)["Instances"]]
    if not no_wait:
        ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig=WAIT)
    for instance_id in ids:
        click.echo(instance_id)


def _name(instance: dict[str, Any]) -> str:
    return next((t["Value"] for t in instance.get("Tags", []) if t["Key"] == "Name"), "")


@click.command(name="instances")
@json_option
@settings
def list_instances(s: Settings, as_json: bool) -> None:
    """List instances in the region."""
    pages = s.client("ec2").get_paginator("describe_instances").paginate()
    found = [i for p in pages for r in p["Reservations"] for i in r["Instances"]]
    if as_json:
        emit_json(found)
        return
    rows = [
        (
            i["InstanceId"],
            _name(i),
            i["ImageId"],
            i["State"]["Name"],
            i["InstanceType"],
            i["LaunchTime"].strftime("%Y-%m-%d %H:%M"),
        )
        for i in found
    ]
    columns = ("instance", "name", "image", "state", "type", "launched (UTC)")
    table(f"instances in {s.region}", columns, rows)


@click.command(name="exec", context_settings={"ignore_unknown_options": True})
@click.argument("instance_id")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--workdir", default="/", show_default=True)
@click.option("--timeout", default=3600, show_default=True, help="Seconds before it is killed.")
@settings
def exec_command(
    s: Settings, instance_id: str, command: tuple[str, ...], workdir: str, timeout: int
) -> None:
    """Run COMMAND in INSTANCE_ID through SSM, streaming its output; its exit
    code is ours."""
    ssm = s.client("ssm")
    sent = ssm.send_command(
        InstanceIds=[instance_id],
        DocumentName="AWS-RunShellScript",
        Parameters={
            "commands": [shlex.join(command)],
            "workingDirectory": [workdir],
            "executionTimeout": [str(timeout)],
        },
    )["Command"]
    try:
        found = _stream(ssm, sent["CommandId"], instance_id)
    except KeyboardInterrupt:
        _cancel(ssm, sent["CommandId"], instance_id)
    if found["Status"] == "TimedOut":
        raise click.ClickException(f"timed out after {timeout} s")
    sys.exit(max(0, found["ResponseCode"]) if found["Status"] != "Success" else 0)


def _stream(ssm: Any, command_id: str, instance_id: str) -> Any:
    """Copy the command's output to ours as it comes, until it ends; its invocation."""
    shown = {"StandardOutputContent": 0, "StandardErrorContent": 0}
    streams = {"StandardOutputContent": sys.stdout, "StandardErrorContent": sys.stderr}
    while True:
        found = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        for member, stream in streams.items():  # what is new since the last look
            stream.write(found[member][shown[member] :])
            stream.flush()
            shown[member] = len(found[member])
        if found["Status"] not in ("Pending", "InProgress", "Delayed", "Cancelling"):
            return found
        time.sleep(0.2)


def _cancel(ssm: Any, command_id: str, instance_id: str) -> None:
    """Ctrl-C: cancel the command (CancelCommand) and exit 130; a second Ctrl-C
    exits at once."""
    signal.signal(signal.SIGINT, lambda *_: os._exit(INTERRUPTED))
    click.echo(f"error: interrupted: cancelling {command_id}", err=True)
    from botocore.exceptions import ClientError

    with suppress(ClientError):  # it may have ended meanwhile
        ssm.cancel_command(CommandId=command_id, InstanceIds=[instance_id])
    sys.exit(INTERRUPTED)


@click.command()
@click.argument("instance_id")
@settings
def console(s: Settings, instance_id: str) -> None:
    """Print the instance's console output."""
    click.echo(s.client("ec2").get_console_output(InstanceId=instance_id).get("Output", ""))


def _transition(action: str, waiter: str) -> click.Command:
    @click.command(name=action)
    @click.argument("instance_ids", nargs=-1, required=True)
    @click.option("--no-wait", is_flag=True)
    @settings
    def command(s: Settings, instance_ids: tuple[str, ...], no_wait: bool) -> None:
        ec2 = s.client("ec2")
        getattr(ec2, f"{action}_instances")(InstanceIds=list(instance_ids))
        if not no_wait:
            ec2.get_waiter(waiter).wait(InstanceIds=list(instance_ids), WaiterConfig=WAIT)
        for instance_id in instance_ids:
            click.echo(instance_id)

    command.help = f"{action.capitalize()} instances (waits until {waiter.split('_')[1]})."
    return command


stop = _transition("stop", "instance_stopped")
start = _transition("start", "instance_running")
terminate = _transition("terminate", "instance_terminated")


@click.command(name="create-image")
@click.argument("instance_id")
@click.option("--name", required=True)
@click.option("--description", default="")
@click.option("--no-reboot", is_flag=True, help="Snapshot without stopping the instance.")
@click.option("--no-wait", is_flag=True, help="Print the image id while it is still pending.")
@settings
def create_image(
    s: Settings, instance_id: str, name: str, description: str, no_reboot: bool, no_wait: bool
) -> None:
    """Image INSTANCE_ID as it is now; prints the image id once available,
    showing its snapshot's progress meanwhile (as long as it takes)."""
    from amiable.tools.waiting import wait_for_image

    from .progress import Display, long_work

    ec2 = s.client("ec2")
    image = ec2.create_image(
        InstanceId=instance_id, Name=name, Description=description, NoReboot=no_reboot
    )["ImageId"]
    if not no_wait:
        with long_work(), Display(f"imaging {instance_id}") as display:
            wait_for_image(ec2, image, display)
    click.echo(image)
