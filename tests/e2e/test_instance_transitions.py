"""One truth per instance: concurrent transitions, shutdowns from inside, the
attributes that guard them, and commands in a valid working directory.
Needs root (CI runs as root)."""

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from instance_api import FAST, launch, run

from amiable.cloud.core.home import Cloud
from amiable.cloud.instances import hosting
from instance_leaks import inits_of, processes_under

REGION = "eu-central-1"


def inits(home: Path, instance_id: str) -> list[int]:
    """The init processes running for one instance (never more than one)."""
    return inits_of(home / "regions" / REGION / "instances" / instance_id)


def settled(cloud: Cloud, instance_id: str) -> None:
    """Wait until no transition of the instance is under way (its row unmarked)."""
    region = cloud.region(REGION)
    deadline = time.monotonic() + 60
    while (row := hosting.row_of(region, instance_id)).worker is not None:
        assert time.monotonic() < deadline, f"{instance_id} still {row.state}"
        time.sleep(0.05)


def described(ec2: Any, instance_id: str) -> dict[str, Any]:
    found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return dict(found[0]["Instances"][0])


def test_commands_start_in_a_directory_that_exists(clients: tuple[Any, Any], image: str) -> None:
    ec2, ssm = clients
    (instance,) = launch(ec2, image)
    seen = run(ssm, instance, "pwd", "/bin/pwd", "cd .. && pwd")
    assert (seen["StandardOutputContent"], seen["StandardErrorContent"]) == ("/\n/\n/\n", "")
    inside = run(ssm, instance, "pwd", "/bin/pwd", workingDirectory=["/etc"])
    assert inside["StandardOutputContent"] == "/etc\n/etc\n"
    missing = run(ssm, instance, "echo never", workingDirectory=["/nowhere"])
    assert missing["Status"] == "Failed" and "never" not in missing["StandardOutputContent"]


def test_parallel_reboots_leave_one_init(
    cloud: Cloud, clients: tuple[Any, Any], image: str
) -> None:
    ec2, ssm = clients
    (instance,) = launch(ec2, image)
    for _ in range(3):
        threads = [
            threading.Thread(target=ec2.reboot_instances, kwargs={"InstanceIds": [instance]})
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(inits(cloud.home, instance)) <= 1
    settled(cloud, instance)
    assert run(ssm, instance, "true")["Status"] == "Success"
    assert len(inits(cloud.home, instance)) == 1
    assert described(ec2, instance)["State"]["Name"] == "running"


def test_stop_while_rebooting_ends_stopped_with_nothing_running(
    cloud: Cloud, clients: tuple[Any, Any], image: str
) -> None:
    ec2, _ = clients
    (instance,) = launch(ec2, image)
    ec2.reboot_instances(InstanceIds=[instance])
    ec2.stop_instances(InstanceIds=[instance])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance], WaiterConfig=FAST)
    assert inits(cloud.home, instance) == []
    ec2.start_instances(InstanceIds=[instance])
    ec2.terminate_instances(InstanceIds=[instance])  # while it is still pending
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance], WaiterConfig=FAST)
    assert processes_under(cloud.home) == {}
    assert not (cloud.region(REGION).root / "instances" / instance).exists()


def test_poweroff_inside_stops_the_instance(
    cloud: Cloud, clients: tuple[Any, Any], image: str
) -> None:
    ec2, ssm = clients
    (instance,) = launch(ec2, image)
    run(ssm, instance, "poweroff")
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance], WaiterConfig=FAST)
    shown = described(ec2, instance)
    assert shown["StateReason"]["Code"] == "Client.InstanceInitiatedShutdown"
    assert inits(cloud.home, instance) == []
    ec2.start_instances(InstanceIds=[instance])  # and it starts again as usual
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance], WaiterConfig=FAST)
    assert described(ec2, instance)["State"]["Name"] == "running"


def test_poweroff_inside_terminates_when_its_shutdown_behavior_says_so(
    cloud: Cloud, clients: tuple[Any, Any], image: str
) -> None:
    ec2, ssm = clients
    (instance,) = launch(ec2, image, InstanceInitiatedShutdownBehavior="terminate")
    attribute = ec2.describe_instance_attribute(
        InstanceId=instance, Attribute="instanceInitiatedShutdownBehavior"
    )
    assert attribute["InstanceInitiatedShutdownBehavior"] == {"Value": "terminate"}
    run(ssm, instance, "halt")
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance], WaiterConfig=FAST)
    assert described(ec2, instance)["StateReason"]["Code"] == "Client.InstanceInitiatedShutdown"
    assert ec2.describe_volumes()["Volumes"] == []
    assert not (cloud.region(REGION).root / "instances" / instance).exists()


def test_termination_protection_refuses_terminate_until_lifted(
    clients: tuple[Any, Any], image: str
) -> None:
    ec2, _ = clients
    (instance,) = launch(ec2, image, DisableApiTermination=True)
    with pytest.raises(ClientError) as refused:
        ec2.terminate_instances(InstanceIds=[instance])
    assert refused.value.response["Error"]["Code"] == "OperationNotPermitted"
    assert described(ec2, instance)["State"]["Name"] == "running"
    protection = ec2.describe_instance_attribute(
        InstanceId=instance, Attribute="disableApiTermination"
    )
    assert protection["DisableApiTermination"] == {"Value": True}
    ec2.modify_instance_attribute(InstanceId=instance, DisableApiTermination={"Value": False})
    ec2.modify_instance_attribute(
        InstanceId=instance, InstanceInitiatedShutdownBehavior={"Value": "terminate"}
    )
    with pytest.raises(ClientError) as wrong:
        ec2.modify_instance_attribute(
            InstanceId=instance, InstanceInitiatedShutdownBehavior={"Value": "explode"}
        )
    assert wrong.value.response["Error"]["Code"] == "InvalidParameterValue"
    ec2.terminate_instances(InstanceIds=[instance])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance], WaiterConfig=FAST)


def test_an_unknown_instance_type_is_refused_and_launches_nothing(
    clients: tuple[Any, Any], image: str
) -> None:
    ec2, _ = clients
    with pytest.raises(ClientError) as refused:
        ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="m9.huge")
    error = refused.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "InvalidParameterValue",
        "Invalid value 'm9.huge' for InstanceType.",
    )
    assert ec2.describe_instances()["Reservations"] == []
