"""What a bake makes and unmakes in the cloud, through EC2 only (and STS for
the account it bakes in): instances launched tagged (and idempotent by
ClientToken), terminated; images found by tag, waited for, and removed
with their snapshots. Shared by the stages, their cleanups and the sweep."""

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from amiable.tools.waiting import Report, quiet, wait_for_image, wait_for_instances

from . import tags

ClientFactory = Callable[[str, str], Any]  # (service, region) -> boto3 client
GONE = ("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable", "InvalidSnapshot.NotFound")


def code_of(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class Clouds:
    """boto3 clients per service and region, made once."""

    def __init__(self, factory: ClientFactory) -> None:
        self._factory = factory
        self._made: dict[tuple[str, str], Any] = {}
        self._account: str | None = None

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._made:
            self._made[key] = self._factory(service, region)
        return self._made[key]

    def ec2(self, region: str) -> Any:
        return self.client("ec2", region)

    def ssm(self, region: str) -> Any:
        return self.client("ssm", region)

    def account(self, region: str) -> str:
        """The account the clients act as (STS GetCallerIdentity, asked once)."""
        if self._account is None:
            self._account = str(self.client("sts", region).get_caller_identity()["Account"])
        return self._account


def launch(
    ec2: Any,
    image_id: str,
    instance_type: str,
    labels: dict[str, str],
    token: str,
    **extra: Any,
) -> str:
    """One instance of `image_id`, tagged (it and its volumes); the same
    token returns the same instance."""
    reservation = ec2.run_instances(
        ImageId=image_id,
        InstanceType=instance_type,
        MinCount=1,
        MaxCount=1,
        ClientToken=token,
        TagSpecifications=tags.specifications(labels, "instance", "volume"),
        **extra,
    )
    return str(reservation["Instances"][0]["InstanceId"])


def terminate(ec2: Any, instance_ids: list[str], wait: bool = True) -> None:
    if not instance_ids:
        return
    try:
        ec2.terminate_instances(InstanceIds=instance_ids)
    except ClientError as exc:
        if code_of(exc) != "InvalidInstanceID.NotFound":
            raise
        return
    if wait:
        wait_for_instances(ec2, instance_ids, "terminated")


def tagged_instances(ec2: Any, labels: dict[str, str]) -> list[str]:
    """Instances with the tags, not terminated."""
    found = ec2.describe_instances(
        Filters=[
            *tags.filters(labels),
            {
                "Name": "instance-state-name",
                "Values": ["pending", "running", "stopping", "stopped"],
            },
        ]
    )["Reservations"]
    return [i["InstanceId"] for r in found for i in r["Instances"]]


def tagged_images(ec2: Any, labels: dict[str, str], **query: Any) -> list[dict[str, Any]]:
    """The caller's images with the tags (and the query's filters)."""
    extra = query.pop("Filters", [])
    found: list[dict[str, Any]] = ec2.describe_images(
        Owners=["self"], Filters=[*tags.filters(labels), *extra], **query
    )["Images"]
    return found


def image_state(ec2: Any, image_id: str) -> str | None:
    """The image's state, None if it is gone."""
    try:
        found = ec2.describe_images(ImageIds=[image_id])["Images"]
    except ClientError as exc:
        if code_of(exc) in GONE:
            return None
        raise
    return str(found[0]["State"]) if found else None


def wait_image(ec2: Any, image_id: str, report: Report = quiet) -> None:
    wait_for_image(ec2, image_id, report)


def snapshots_of(image: dict[str, Any]) -> list[str]:
    return [
        m["Ebs"]["SnapshotId"]
        for m in image.get("BlockDeviceMappings", [])
        if m.get("Ebs", {}).get("SnapshotId")
    ]


def remove_image(ec2: Any, image_id: str) -> None:
    """Deregister the image and delete its snapshots (gone already is fine)."""
    try:
        found = ec2.describe_images(ImageIds=[image_id])["Images"]
    except ClientError as exc:
        if code_of(exc) in GONE:
            return
        raise
    if not found:
        return
    try:
        ec2.deregister_image(ImageId=image_id)
    except ClientError as exc:
        if code_of(exc) not in GONE:
            raise
    for snapshot in snapshots_of(found[0]):
        try:
            ec2.delete_snapshot(SnapshotId=snapshot)
        except ClientError as exc:
            if code_of(exc) not in GONE:
                raise


def said(exc: Exception) -> str:
    """What went wrong, in one line: an API error as `Code: message`."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', '')}: {error.get('Message', '')}"
    return str(exc)
