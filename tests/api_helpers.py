"""Helpers for tests through real boto3 clients: a cloud with a second account,
a small imported snapshot, an image, a base image as `ami bootstrap` makes
them, the store snapshot behind a snapshot, instances terminated, the error a
call answers."""

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import select

import amiable
from amiable.catalog.regional import snapshots
from amiable.cli.bootstrap import SYSTEM_ACCOUNT, SYSTEM_ALIAS
from amiable.cloud.core.home import Cloud
from amiable.tools import base_images

OTHER = "222222222222"


def cloud_with_other_account(home: Path) -> Cloud:
    """A data home with account OTHER (key AKIAOTHER) besides the default one."""
    cloud = Cloud(home)
    cloud.accounts.create(OTHER, "other", "AKIAOTHER", "other-secret")
    return cloud


def store_snapshot_of(cloud: Cloud, region: str, snapshot_id: str) -> str:
    with cloud.region(region).catalog.connect() as conn:
        return str(
            conn.execute(
                select(snapshots.c.store_snapshot).where(snapshots.c.snapshot_id == snapshot_id)
            ).scalar_one()
        )


def imported_snapshot(ec2: Any, root: Path, **params: Any) -> str:
    """A snapshot imported from `root` (made a tiny tree first); `params` go to
    ImportSnapshot (Encrypted, KmsKeyId, ...)."""
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc" / "os-release").write_text("ID=amiable\n")
    task = ec2.import_snapshot(DiskContainer={"Url": f"file://{root}"}, **params)
    ec2.get_waiter("snapshot_imported").wait(
        ImportTaskIds=[task["ImportTaskId"]], WaiterConfig={"Delay": 0.2}
    )
    tasks = ec2.describe_import_snapshot_tasks(ImportTaskIds=[task["ImportTaskId"]])
    return str(tasks["ImportSnapshotTasks"][0]["SnapshotTaskDetail"]["SnapshotId"])


def register(ec2: Any, snapshot_id: str, name: str, **extra: Any) -> str:
    image = ec2.register_image(
        Name=name,
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot_id}}],
        **extra,
    )
    return str(image["ImageId"])


def base_image(cloud: Cloud, region: str, root: Path, name: str) -> str:
    """`root` published as `ami bootstrap` publishes base images: by the system
    account (alias `amazon`), public."""
    cloud.accounts.ensure(SYSTEM_ACCOUNT, SYSTEM_ALIAS, "AKIAAMAZONTEST", "amazon-secret")
    amazon = amiable.Session(cloud=cloud, account=SYSTEM_ACCOUNT, region=region)
    return base_images.publish(amazon.client("ec2"), root, name, f"{name} base image")


def terminate(ec2: Any, ids: list[str]) -> None:
    """Terminate instances and wait until they are (each takes its share of
    the host: its sandbox, its network, one after another)."""
    ec2.terminate_instances(InstanceIds=ids)
    patience = {"Delay": 0.2, "MaxAttempts": 40 + 5 * len(ids)}
    ec2.get_waiter("instance_terminated").wait(InstanceIds=ids, WaiterConfig=patience)


def terminate_all(ec2: Any) -> None:
    """Terminate every instance of the client's account and region that is not yet."""
    running = [
        i["InstanceId"]
        for r in ec2.describe_instances()["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] != "terminated"
    ]
    if running:
        terminate(ec2, running)


def error_of(call: Any, **params: Any) -> dict[str, Any]:
    """The error a call answers (its `Error` and HTTP `Status`); fails if it succeeds."""
    with pytest.raises(ClientError) as caught:
        call(**params)
    response = caught.value.response
    return {**response["Error"], "Status": response["ResponseMetadata"]["HTTPStatusCode"]}


def code_of(call: Any, **params: Any) -> str:
    return str(error_of(call, **params)["Code"])
