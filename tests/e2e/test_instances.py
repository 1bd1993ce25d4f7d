"""Instances end to end through real boto3 clients: launched from a busybox
image into real namespaces and overlayfs, configured through SSM, stopped,
started and terminated. Needs root (CI runs as root)."""

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from instance_api import launch, run

import amiable
from amiable.cloud.core.home import Cloud
from amiable.runtime.sandbox import Sandbox
from api_helpers import OTHER

REGION = "eu-central-1"


def test_ssm_commands_see_the_image_not_the_host(clients: tuple[Any, Any], image: str) -> None:
    ec2, ssm = clients
    (instance,) = launch(ec2, image)
    seen = run(ssm, instance, "cat /etc/os-release", "hostname", "ls /", workingDirectory=["/etc"])
    assert seen["Status"] == "Success" and seen["ResponseCode"] == 0
    out = seen["StandardOutputContent"].splitlines()
    assert "ID=busybox" in out and instance in out
    assert "usr" not in out and "home" not in out
    failed = run(ssm, instance, "echo oops >&2", "exit 3")
    assert (failed["Status"], failed["ResponseCode"]) == ("Failed", 3)
    assert failed["StandardErrorContent"] == "oops\n"
    slow = run(ssm, instance, "sleep 30", executionTimeout=["1"])
    assert slow["Status"] == "TimedOut"
    info = ssm.describe_instance_information()["InstanceInformationList"]
    assert [(i["InstanceId"], i["PingStatus"]) for i in info] == [(instance, "Online")]
    listed = ssm.list_command_invocations(InstanceId=instance, Details=True)["CommandInvocations"]
    assert len(listed) == 3 and listed[0]["CommandPlugins"][0]["Name"] == "aws:runShellScript"


def test_an_instance_cannot_write_outside_its_root(
    clients: tuple[Any, Any], image: str, tmp_path: Path
) -> None:
    ec2, ssm = clients
    (instance,) = launch(ec2, image)
    marker = tmp_path / "host-file"
    attempt = run(
        ssm,
        instance,
        f"echo pwned > {marker}",
        "echo pwned > /../../../../tmp/escaped",
        "mount -t tmpfs x /mnt 2>/dev/null; true",
    )
    assert attempt["Status"] == "Success", attempt["StandardErrorContent"]
    assert not marker.exists()
    assert not Path("/tmp/escaped").exists()


def test_user_data_runs_once_and_stop_start_keeps_changes(
    clients: tuple[Any, Any], image: str
) -> None:
    ec2, ssm = clients
    user_data = "#!/bin/sh\necho booted >> /root/boots\n"
    (instance,) = launch(ec2, image, UserData=user_data)
    assert run(ssm, instance, "cat /root/boots")["StandardOutputContent"] == "booted\n"
    run(ssm, instance, "echo configured > /etc/motd")
    ec2.stop_instances(InstanceIds=[instance])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance], WaiterConfig={"Delay": 0.2})
    ec2.start_instances(InstanceIds=[instance])
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance], WaiterConfig={"Delay": 0.2})
    kept = run(ssm, instance, "cat /root/boots /etc/motd")
    assert kept["StandardOutputContent"] == "booted\nconfigured\n"
    console = ec2.get_console_output(InstanceId=instance)["Output"]
    assert console.count("running user data") == 1 and console.count("booted") >= 2
    ec2.terminate_instances(InstanceIds=[instance])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance], WaiterConfig={"Delay": 0.2})
    assert ec2.describe_volumes()["Volumes"] == []  # the root volume went with it


def test_user_data_that_cannot_start_leaves_the_instance_running(
    clients: tuple[Any, Any], image: str
) -> None:
    ec2, ssm = clients
    (instance,) = launch(ec2, image, UserData="#!/bin/nowhere\necho never\n")
    done = run(ssm, instance, "cat /var/lib/amiable/user-data.done")
    assert done["StandardOutputContent"] == "127\n"
    console = ec2.get_console_output(InstanceId=instance)["Output"]
    assert "amiable: user data could not start: No such file or directory" in console
    state = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    assert state["State"]["Name"] == "running"
    ec2.terminate_instances(InstanceIds=[instance])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance], WaiterConfig={"Delay": 0.2})


def test_three_instances_of_one_image_are_independent(clients: tuple[Any, Any], image: str) -> None:
    ec2, ssm = clients
    ids = launch(ec2, image, count=3)
    for n, instance in enumerate(ids):
        run(ssm, instance, f"echo {n} > /root/who")
    seen = [run(ssm, i, "cat /root/who; hostname")["StandardOutputContent"] for i in ids]
    assert seen == [f"{n}\n{i}\n" for n, i in enumerate(ids)]
    described = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    assert len(described) == 1 and len(described[0]["Instances"]) == 3
    assert ec2.describe_images(
        ImageIds=[
            ec2.describe_instances(InstanceIds=ids[:1])["Reservations"][0]["Instances"][0][
                "ImageId"
            ]
        ]
    )["Images"][0]["LastLaunchedTime"]


def test_launching_a_disabled_unshared_or_disallowed_image_is_refused(
    cloud: Cloud, clients: tuple[Any, Any], image: str
) -> None:
    ec2, _ = clients
    other = amiable.Session(cloud=cloud, account=OTHER, region=REGION).client("ec2")

    def refused(client: Any) -> str:
        with pytest.raises(ClientError) as caught:
            client.run_instances(ImageId=image, MinCount=1, MaxCount=1)
        return str(caught.value.response["Error"]["Code"])

    assert refused(other) == "InvalidAMIID.NotFound"  # not shared with it
    ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"UserId": OTHER}]})
    other.replace_image_criteria_in_allowed_images_settings(
        ImageCriteria=[{"ImageNames": ["golden-*"]}]
    )
    other.enable_allowed_images_settings(AllowedImagesSettingsState="enabled")
    assert refused(other) == "InvalidAMIID.Unavailable"  # not allowed there
    ec2.disable_image(ImageId=image)
    assert refused(ec2) == "InvalidAMIID.Unavailable"  # disabled
    assert ec2.describe_instances()["Reservations"] == []


def test_create_image_then_launch_carries_the_change(
    cloud: Cloud, clients: tuple[Any, Any], image: str
) -> None:
    ec2, ssm = clients
    (instance,) = launch(ec2, image)
    run(ssm, instance, "echo '<h1>golden</h1>' > /root/index.html", "rm /etc/hostname")
    store = cloud.region(REGION).store
    before = store.stats()
    golden = ec2.create_image(
        InstanceId=instance,
        Name="golden-1",
        TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "stage", "Value": "gold"}]}],
    )["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[golden], WaiterConfig={"Delay": 0.2})
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance], WaiterConfig={"Delay": 0.2})
    described = ec2.describe_images(ImageIds=[golden])["Images"][0]
    assert (described["SourceInstanceId"], described["Tags"]) == (
        instance,
        [{"Key": "stage", "Value": "gold"}],
    )
    ancestry = ec2.get_image_ancestry(ImageId=golden)["ImageAncestryEntries"]
    assert [a["ImageId"] for a in ancestry] == [golden, image]
    added = store.stats().stored_bytes - before.stored_bytes
    assert added < 64 * 1024  # the change, not the image (busybox alone is ~2 MB)

    (child,) = launch(ec2, golden)
    seen = run(ssm, child, "cat /root/index.html; test -e /etc/hostname || echo removed")
    assert seen["StandardOutputContent"] == "<h1>golden</h1>\nremoved\n"
    live = ec2.create_image(InstanceId=child, Name="golden-live", NoReboot=True)["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[live], WaiterConfig={"Delay": 0.2})
    snapshots = ec2.create_snapshots(InstanceSpecification={"InstanceId": child})["Snapshots"]
    ec2.get_waiter("snapshot_completed").wait(
        SnapshotIds=[s["SnapshotId"] for s in snapshots], WaiterConfig={"Delay": 0.2}
    )


def test_a_no_reboot_image_is_the_instance_at_the_moment_of_the_call(
    clients: tuple[Any, Any], image: str
) -> None:
    """As AWS's point-in-time snapshots: what is written after CreateImage
    (NoReboot) or CreateSnapshots returns is not in the image or snapshot."""
    ec2, ssm = clients
    (instance,) = launch(ec2, image)
    run(ssm, instance, "echo before > /root/moment")
    live = ec2.create_image(InstanceId=instance, Name="moment", NoReboot=True)["ImageId"]
    (snapshot,) = ec2.create_snapshots(InstanceSpecification={"InstanceId": instance})["Snapshots"]
    run(ssm, instance, "echo after > /root/moment; echo new > /root/later")
    ec2.get_waiter("image_available").wait(ImageIds=[live], WaiterConfig={"Delay": 0.2})
    ec2.get_waiter("snapshot_completed").wait(
        SnapshotIds=[snapshot["SnapshotId"]], WaiterConfig={"Delay": 0.2}
    )
    (child,) = launch(ec2, live)
    seen = run(ssm, child, "cat /root/moment; test -e /root/later || echo absent")
    assert seen["StandardOutputContent"] == "before\nabsent\n"
    volume = ec2.create_volume(SnapshotId=snapshot["SnapshotId"], AvailabilityZone=f"{REGION}a")[
        "VolumeId"
    ]
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume], WaiterConfig={"Delay": 0.2})
    ec2.attach_volume(VolumeId=volume, InstanceId=child, Device="/dev/sdf")
    ec2.get_waiter("volume_in_use").wait(VolumeIds=[volume], WaiterConfig={"Delay": 0.2})
    restored = run(ssm, child, "cd /mnt/sdf/root; cat moment; test -e later || echo absent")
    assert restored["StandardOutputContent"] == "before\nabsent\n"


def test_extra_volumes_attach_detach_and_keep_their_data(
    clients: tuple[Any, Any], image: str
) -> None:
    ec2, ssm = clients
    (instance,) = launch(
        ec2,
        image,
        BlockDeviceMappings=[{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1}}],
    )
    assert run(ssm, instance, "echo data > /mnt/sdf/file")["Status"] == "Success"
    mapped = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    devices = sorted(m["DeviceName"] for m in mapped["BlockDeviceMappings"])
    assert devices == ["/dev/sda1", "/dev/sdf"]

    spare = ec2.create_volume(Size=1, AvailabilityZone=f"{REGION}a")["VolumeId"]
    attached = ec2.attach_volume(VolumeId=spare, InstanceId=instance, Device="/dev/sdg")
    assert attached["State"] == "attaching"
    assert run(ssm, instance, "echo moved > /mnt/sdg/note")["Status"] == "Success"
    ec2.detach_volume(VolumeId=spare)
    assert run(ssm, instance, "test -e /mnt/sdg/note || echo gone")["StandardOutputContent"] == (
        "gone\n"
    )
    (second,) = launch(ec2, image)
    ec2.attach_volume(VolumeId=spare, InstanceId=second, Device="/dev/sdh")
    assert run(ssm, second, "cat /mnt/sdh/note")["StandardOutputContent"] == "moved\n"
    snapshot = ec2.create_snapshot(VolumeId=spare)["SnapshotId"]
    restored = ec2.create_volume(SnapshotId=snapshot, AvailabilityZone=f"{REGION}a")["VolumeId"]
    ec2.attach_volume(VolumeId=restored, InstanceId=instance, Device="/dev/sdi")
    assert run(ssm, instance, "cat /mnt/sdi/note")["StandardOutputContent"] == "moved\n"
    with pytest.raises(ClientError) as caught:
        ec2.detach_volume(VolumeId=mapped["BlockDeviceMappings"][0]["Ebs"]["VolumeId"])
    assert caught.value.response["Error"]["Code"] == "IncorrectState"  # a running root

    ec2.stop_instances(InstanceIds=[instance])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance], WaiterConfig={"Delay": 0.2})
    ec2.modify_instance_attribute(InstanceId=instance, InstanceType={"Value": "m5.large"})
    ec2.start_instances(InstanceIds=[instance])
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance], WaiterConfig={"Delay": 0.2})
    assert run(ssm, instance, "cat /mnt/sdf/file")["StandardOutputContent"] == "data\n"
    kind = ec2.describe_instance_attribute(InstanceId=instance, Attribute="instanceType")
    assert kind["InstanceType"] == {"Value": "m5.large"}
    metadata = ec2.describe_instance_image_metadata(InstanceIds=[instance])
    assert metadata["InstanceImageMetadata"][0]["ImageMetadata"]["ImageId"] == image
    with pytest.raises(ClientError) as caught:
        ec2.modify_instance_attribute(InstanceId=instance, InstanceType={"Value": "t3.nano"})
    assert caught.value.response["Error"]["Code"] == "IncorrectInstanceState"


def test_templates_status_reboot_cancel_and_no_network(
    clients: tuple[Any, Any], image: str
) -> None:
    ec2, ssm = clients
    template = ec2.create_launch_template(
        LaunchTemplateName="web",
        LaunchTemplateData={
            "ImageId": image,
            "InstanceType": "t3.small",
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": [{"Key": "amiable:network", "Value": "none"}]}
            ],
        },
    )["LaunchTemplate"]
    reservation = ec2.run_instances(
        LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"]}, MinCount=1, MaxCount=1
    )
    (instance,) = [i["InstanceId"] for i in reservation["Instances"]]
    assert reservation["Instances"][0]["InstanceType"] == "t3.small"
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance], WaiterConfig={"Delay": 0.2})
    interfaces = run(ssm, instance, "cat /proc/net/dev")["StandardOutputContent"]
    assert "lo:" in interfaces and "eth0" not in interfaces  # no network, as tagged

    (status,) = ec2.describe_instance_status(InstanceIds=[instance])["InstanceStatuses"]
    assert (status["InstanceState"]["Name"], status["InstanceStatus"]["Status"]) == (
        "running",
        "ok",
    )
    run(ssm, instance, "echo kept > /root/kept")
    ec2.reboot_instances(InstanceIds=[instance])

    def rebooted() -> bool:
        console = ec2.get_console_output(InstanceId=instance)["Output"]
        return "stopping" in console and "booted" in console.split("stopping", 1)[1]

    deadline = time.monotonic() + 30
    while not rebooted() and time.monotonic() < deadline:
        described = ec2.describe_instances(InstanceIds=[instance])["Reservations"]
        assert described[0]["Instances"][0]["State"]["Name"] == "running"  # not a stop
        time.sleep(0.1)
    assert rebooted()
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance], WaiterConfig={"Delay": 0.2})
    assert run(ssm, instance, "cat /root/kept")["StandardOutputContent"] == "kept\n"

    sent = ssm.send_command(
        InstanceIds=[instance],
        DocumentName="AWS-RunShellScript",
        Parameters={"commands": ["sleep 30"]},
    )["Command"]
    time.sleep(0.5)
    ssm.cancel_command(CommandId=sent["CommandId"])
    cancelled = ssm.get_command_invocation(CommandId=sent["CommandId"], InstanceId=instance)
    assert cancelled["Status"] == "Cancelled"
    (listed,) = ssm.list_commands(CommandId=sent["CommandId"])["Commands"]
    assert listed["Status"] == "Cancelled"
    with pytest.raises(ClientError) as caught:
        ssm.send_command(
            InstanceIds=[instance],
            DocumentName="AWS-RunPowerShellScript",
            Parameters={"commands": ["dir"]},
        )
    assert caught.value.response["Error"]["Code"] == "InvalidDocument"


def test_an_instance_whose_init_died_reads_stopped_and_starts_again(
    cloud: Cloud, clients: tuple[Any, Any], image: str
) -> None:
    ec2, ssm = clients
    (instance,) = launch(ec2, image)
    run(ssm, instance, "echo survived > /root/state")
    box = Sandbox(cloud.region(REGION).root / "instances" / instance)
    pid = box.init_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # as a host reboot or an OOM kill would
    deadline = time.monotonic() + 10
    while box.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    state = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    assert state["State"]["Name"] == "stopped"
    assert state["StateReason"]["Code"] == "Server.InstanceShutdown"
    ec2.start_instances(InstanceIds=[instance])
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance], WaiterConfig={"Delay": 0.2})
    assert run(ssm, instance, "cat /root/state")["StandardOutputContent"] == "survived\n"


def test_a_kept_root_volume_takes_the_instance_changes_with_it(
    clients: tuple[Any, Any], image: str
) -> None:
    ec2, ssm = clients
    (instance,) = launch(
        ec2,
        image,
        BlockDeviceMappings=[{"DeviceName": "/dev/sda1", "Ebs": {"DeleteOnTermination": False}}],
    )
    run(ssm, instance, "echo kept-after-termination > /root/note")
    root = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0][
        "BlockDeviceMappings"
    ][0]["Ebs"]
    assert root["DeleteOnTermination"] is False
    ec2.terminate_instances(InstanceIds=[instance])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance], WaiterConfig={"Delay": 0.2})
    volume = ec2.describe_volumes(VolumeIds=[root["VolumeId"]])["Volumes"][0]
    assert (volume["State"], volume["Attachments"]) == ("available", [])
    (reader,) = launch(ec2, image)
    ec2.attach_volume(VolumeId=root["VolumeId"], InstanceId=reader, Device="/dev/sdf")
    assert run(ssm, reader, "cat /mnt/sdf/root/note")["StandardOutputContent"] == (
        "kept-after-termination\n"
    )
    snapshot = ec2.create_snapshot(VolumeId=root["VolumeId"])["SnapshotId"]
    copy = ec2.create_volume(SnapshotId=snapshot, AvailabilityZone=f"{REGION}a")["VolumeId"]
    ec2.attach_volume(VolumeId=copy, InstanceId=reader, Device="/dev/sdg")
    assert run(ssm, reader, "cat /mnt/sdg/root/note")["StandardOutputContent"] == (
        "kept-after-termination\n"
    )


def _store_snapshot(cloud: Cloud, ec2: Any, image: str) -> str:
    from sqlalchemy import select

    from amiable.catalog.regional import snapshots

    mapping = ec2.describe_images(ImageIds=[image])["Images"][0]["BlockDeviceMappings"][0]
    with cloud.region(REGION).catalog.connect() as conn:
        return str(
            conn.execute(
                select(snapshots.c.store_snapshot).where(
                    snapshots.c.snapshot_id == mapping["Ebs"]["SnapshotId"]
                )
            ).scalar_one()
        )


LISTING = (
    "export LC_ALL=C; cd / && find etc root srv | sort | xargs stat -c '%n %f %u %g %s' "
    "&& find etc root srv -type f | sort | xargs md5sum"
)


def _image_of(ec2: Any, instance: str, name: str) -> str:
    made = ec2.create_image(InstanceId=instance, Name=name)["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[made], WaiterConfig={"Delay": 0.2})
    return str(made)


def test_an_image_of_an_instance_launches_from_its_changes_over_its_parent(
    cloud: Cloud, clients: tuple[Any, Any], image: str, tmp_path: Path
) -> None:
    """Images made from instances, two deep, launch from the changes kept in the host's
    cache stacked on their parents (nothing restored), and show exactly the tree a
    restore of the image's snapshot gives: new files, deleted ones, a replaced folder."""
    ec2, ssm = clients
    (first,) = launch(ec2, image)
    run(ssm, first, "mkdir -p /srv/d && echo 1 > /srv/d/one && echo 2 > /srv/d/two")
    run(ssm, first, "rm /etc/hostname; echo new > /root/new")
    middle = _image_of(ec2, first, "layers-1")
    (second,) = launch(ec2, middle)
    run(ssm, second, "rm -rf /srv/d && mkdir /srv/d && echo 3 > /srv/d/three; rm /root/new")
    top = _image_of(ec2, second, "layers-2")
    (third,) = launch(ec2, top)
    seen = run(ssm, third, LISTING)["StandardOutputContent"]
    assert "srv/d/three" in seen and "srv/d/one" not in seen
    assert "etc/hostname" not in seen and "root/new" not in seen

    cache = cloud.region(REGION).root / "cache"
    snapshot = _store_snapshot(cloud, ec2, top)
    assert (cache / f"{snapshot}.changes").is_dir() and not (cache / snapshot).exists()
    restored = tmp_path / "restored"
    cloud.region(REGION).store.restore(snapshot, restored)
    listing = subprocess.run(
        LISTING.replace("cd /", f"cd {restored}"), shell=True, capture_output=True, text=True
    )
    assert listing.stdout == seen
