"""Launching instances and running commands in them through boto3, for the
instance tests."""

from contextlib import suppress
from typing import Any

from botocore.exceptions import WaiterError

FAST = {"Delay": 0.2}


def launch(ec2: Any, image: str, count: int = 1, **params: Any) -> list[str]:
    reservation = ec2.run_instances(ImageId=image, MinCount=count, MaxCount=count, **params)
    ids = [i["InstanceId"] for i in reservation["Instances"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig={"Delay": 0.2})
    return ids


def run(ssm: Any, instance_id: str, *commands: str, **parameters: list[str]) -> dict[str, Any]:
    sent = ssm.send_command(
        InstanceIds=[instance_id],
        DocumentName="AWS-RunShellScript",
        Parameters={"commands": list(commands), **parameters},
    )["Command"]
    waiter = ssm.get_waiter("command_executed")
    with suppress(WaiterError):  # a failed command ends the waiter; its invocation tells why
        waiter.wait(
            CommandId=sent["CommandId"], InstanceId=instance_id, WaiterConfig={"Delay": 0.2}
        )
    return dict(ssm.get_command_invocation(CommandId=sent["CommandId"], InstanceId=instance_id))
