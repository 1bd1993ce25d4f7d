"""`ami serve` with the real AWS CLI and concurrent boto3 clients over HTTP."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from serving import Server

import amiable
from helpers import require_root


def test_aws_cli_describes_regions_and_zones(server: Server) -> None:
    regions = server.aws_json("ec2", "describe-regions")["Regions"]
    assert {
        "RegionName": "eu-west-1",
        "Endpoint": "ec2.eu-west-1.amazonaws.com",
        "OptInStatus": "opt-in-not-required",
    } in regions
    zones = server.aws_json("ec2", "describe-availability-zones", region="eu-north-1")
    assert [z["ZoneName"] for z in zones["AvailabilityZones"]] == [
        "eu-north-1a",
        "eu-north-1b",
        "eu-north-1c",
    ]


def test_aws_cli_errors_carry_ec2_codes(server: Server) -> None:
    wrong = server.aws("ec2", "describe-regions", secret="not-test")
    assert wrong.returncode != 0
    assert "(SignatureDoesNotMatch)" in wrong.stderr
    unknown = server.aws("ec2", "describe-regions", key="AKIANOBODY", secret="x")
    assert unknown.returncode != 0
    assert "(AuthFailure)" in unknown.stderr
    dry = server.aws("ec2", "describe-regions", "--dry-run")
    assert dry.returncode != 0
    assert "(DryRunOperation)" in dry.stderr


@pytest.mark.parametrize(
    ("command", "wrong_code", "unknown_code"),
    [
        (("kms", "list-keys"), "InvalidSignatureException", "UnrecognizedClientException"),
        (("ssm", "list-commands"), "InvalidSignatureException", "UnrecognizedClientException"),
        (
            ("rbin", "list-rules", "--resource-type", "EBS_SNAPSHOT"),
            "InvalidSignatureException",
            "UnrecognizedClientException",
        ),
    ],
)
def test_json_services_on_the_same_port_answer_in_their_own_protocol(
    server: Server, command: tuple[str, ...], wrong_code: str, unknown_code: str
) -> None:
    wrong = server.aws(*command, secret="not-test")
    assert wrong.returncode != 0
    assert f"({wrong_code})" in wrong.stderr
    unknown = server.aws(*command, key="AKIANOBODY", secret="x")
    assert f"({unknown_code})" in unknown.stderr


def test_aws_cli_asks_sts_and_autoscaling_on_the_same_port(server: Server) -> None:
    assert server.aws_json("sts", "get-caller-identity") == {
        "UserId": "000000000000",
        "Account": "000000000000",
        "Arn": "arn:aws:iam::000000000000:root",
    }
    unknown = server.aws("sts", "get-caller-identity", key="AKIANOBODY", secret="x")
    assert "(InvalidClientTokenId)" in unknown.stderr

    groups = server.aws_json(
        "autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", "web"
    )
    assert groups == {"AutoScalingGroups": []}
    configurations = server.aws_json("autoscaling", "describe-launch-configurations")
    assert configurations == {"LaunchConfigurations": []}
    refused = server.aws(
        "autoscaling", "delete-auto-scaling-group", "--auto-scaling-group-name", "web"
    )
    assert refused.returncode != 0
    assert "(Unsupported)" in refused.stderr


def test_created_accounts_sign_in_with_their_own_keys(server: Server) -> None:
    created = server.ami(
        "accounts",
        "create",
        "--account-id",
        "123456789012",
        "--access-key-id",
        "AKIATEAM",
        "--secret-access-key",
        "team-secret",
        "--alias",
        "team",
    )
    assert "123456789012" in created.stdout
    regions = server.aws_json("ec2", "describe-regions", key="AKIATEAM", secret="team-secret")
    assert regions["Regions"]
    team = server.aws_json(
        "sts", "get-caller-identity", key="AKIATEAM", secret="team-secret", region="eu-west-1"
    )
    assert team["Arn"] == "arn:aws:iam::123456789012:root"


def test_concurrent_clients_are_all_served(server: Server) -> None:
    def calls(n: int) -> list[str]:
        region = ["us-east-1", "eu-west-1", "ap-south-1", "sa-east-1"][n % 4]
        ec2 = boto3.client(
            "ec2",
            endpoint_url=server.url,
            region_name=region,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        return [
            ec2.describe_availability_zones()["AvailabilityZones"][0]["RegionName"]
            for _ in range(10)
        ]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(calls, range(16)))
    for n, seen in enumerate(results):
        assert seen == [["us-east-1", "eu-west-1", "ap-south-1", "sa-east-1"][n % 4]] * 10


def test_aws_cli_imports_registers_describes_and_deregisters(
    server: Server, tmp_path: Path
) -> None:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hostname").write_text("golden\n")
    task = server.aws_json(
        "ec2", "import-snapshot", "--disk-container", f"Url=file://{root}", region="eu-west-1"
    )["ImportTaskId"]
    waited = server.aws(
        "ec2", "wait", "snapshot-imported", "--import-task-ids", task, region="eu-west-1"
    )
    assert waited.returncode == 0, waited.stderr
    detail = server.aws_json(
        "ec2", "describe-import-snapshot-tasks", "--import-task-ids", task, region="eu-west-1"
    )["ImportSnapshotTasks"][0]["SnapshotTaskDetail"]
    image_id = server.aws_json(
        "ec2",
        "register-image",
        "--name",
        "cli-golden",
        "--root-device-name",
        "/dev/xvda",
        "--block-device-mappings",
        f"DeviceName=/dev/xvda,Ebs={{SnapshotId={detail['SnapshotId']}}}",
        region="eu-west-1",
    )["ImageId"]
    found = server.aws_json(
        "ec2",
        "describe-images",
        "--owners",
        "self",
        "--filters",
        "Name=name,Values=cli-*",
        region="eu-west-1",
    )["Images"]
    assert [i["ImageId"] for i in found] == [image_id]
    assert server.aws_json("ec2", "describe-images", "--owners", "self")["Images"] == []

    gone = server.aws_json(
        "ec2",
        "deregister-image",
        "--image-id",
        image_id,
        "--delete-associated-snapshots",
        region="eu-west-1",
    )
    assert gone["DeleteSnapshotResults"][0]["ReturnCode"] == "success"
    gone = server.aws_json("ec2", "describe-images", "--image-ids", image_id, region="eu-west-1")
    assert [i["State"] for i in gone["Images"]] in (["deregistered"], [])  # briefly, then empty
    again = server.aws("ec2", "deregister-image", "--image-id", image_id, region="eu-west-1")
    assert again.returncode != 0
    assert "(InvalidAMIID.Unavailable)" in again.stderr


def test_parallel_writers_lose_nothing(server: Server, tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    root.mkdir()
    (root / "f").write_text("x")
    ec2 = boto3.client(
        "ec2",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    task = ec2.import_snapshot(DiskContainer={"Url": f"file://{root}"})["ImportTaskId"]
    ec2.get_waiter("snapshot_imported").wait(ImportTaskIds=[task], WaiterConfig={"Delay": 0.2})
    snap = ec2.describe_import_snapshot_tasks(ImportTaskIds=[task])["ImportSnapshotTasks"][0][
        "SnapshotTaskDetail"
    ]["SnapshotId"]

    def writer(n: int) -> list[str]:
        client = boto3.client(
            "ec2",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        made = []
        for k in range(8):
            image = client.register_image(
                Name=f"w{n:02d}-{k}",
                BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snap}}],
                TagSpecifications=[
                    {"ResourceType": "image", "Tags": [{"Key": "writer", "Value": str(n)}]}
                ],
            )["ImageId"]
            made.append(image)
        return made

    with ThreadPoolExecutor(max_workers=16) as pool:
        made = [i for ids in pool.map(writer, range(16)) for i in ids]
    listed = ec2.get_paginator("describe_images").paginate(Owners=["self"])
    images = {i["ImageId"]: i for p in listed for i in p["Images"]}
    assert sorted(images) == sorted(made) and len(made) == 128
    assert all(len(i["Tags"]) == 1 for i in images.values())


def test_aws_cli_shares_an_image_and_another_account_copies_it(
    server: Server, tmp_path: Path
) -> None:
    server.ami(
        "accounts",
        "create",
        "--account-id",
        "222233334444",
        "--access-key-id",
        "AKIAPEER",
        "--secret-access-key",
        "peer-secret",
    )
    peer = {"key": "AKIAPEER", "secret": "peer-secret"}
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hostname").write_text("golden\n")
    task = server.aws_json("ec2", "import-snapshot", "--disk-container", f"Url=file://{root}")
    server.aws("ec2", "wait", "snapshot-imported", "--import-task-ids", task["ImportTaskId"])
    snapshot = server.aws_json(
        "ec2", "describe-import-snapshot-tasks", "--import-task-ids", task["ImportTaskId"]
    )["ImportSnapshotTasks"][0]["SnapshotTaskDetail"]["SnapshotId"]
    image = server.aws_json(
        "ec2",
        "register-image",
        "--name",
        "shared-golden",
        "--root-device-name",
        "/dev/xvda",
        "--block-device-mappings",
        f"DeviceName=/dev/xvda,Ebs={{SnapshotId={snapshot}}}",
    )["ImageId"]
    assert server.aws_json("ec2", "describe-images", **peer)["Images"] == []

    shared = server.aws(
        "ec2",
        "modify-image-attribute",
        "--image-id",
        image,
        "--launch-permission",
        "Add=[{UserId=222233334444}]",
    )
    assert shared.returncode == 0, shared.stderr
    shared = server.aws(
        "ec2",
        "modify-snapshot-attribute",
        "--snapshot-id",
        snapshot,
        "--attribute",
        "createVolumePermission",
        "--operation-type",
        "add",
        "--user-ids",
        "222233334444",
    )
    assert shared.returncode == 0, shared.stderr
    permissions = server.aws_json(
        "ec2", "describe-image-attribute", "--image-id", image, "--attribute", "launchPermission"
    )
    assert permissions["LaunchPermissions"] == [{"UserId": "222233334444"}]
    seen = server.aws_json("ec2", "describe-images", "--executable-users", "self", **peer)
    assert [i["ImageId"] for i in seen["Images"]] == [image]

    copy = server.aws_json(
        "ec2",
        "copy-image",
        "--source-image-id",
        image,
        "--source-region",
        "us-east-1",
        "--name",
        "my-golden",
        region="eu-north-1",
        **peer,
    )["ImageId"]
    waited = server.aws(
        "ec2", "wait", "image-available", "--image-ids", copy, region="eu-north-1", **peer
    )
    assert waited.returncode == 0, waited.stderr
    (mine,) = server.aws_json(
        "ec2", "describe-images", "--owners", "self", region="eu-north-1", **peer
    )["Images"]
    assert (mine["ImageId"], mine["OwnerId"], mine["SourceImageId"]) == (
        copy,
        "222233334444",
        image,
    )
    public = server.aws(
        "ec2",
        "modify-image-attribute",
        "--image-id",
        image,
        "--launch-permission",
        "Add=[{Group=all}]",
    )
    assert public.returncode != 0 and "(OperationNotPermitted)" in public.stderr


def test_aws_cli_speaks_kms_and_recycle_bin_on_the_same_port(server: Server) -> None:
    key = server.aws_json("kms", "create-key", "--description", "golden")["KeyMetadata"]
    alias = server.aws(
        "kms", "create-alias", "--alias-name", "alias/golden", "--target-key-id", key["KeyId"]
    )
    assert alias.returncode == 0, alias.stderr
    described = server.aws_json("kms", "describe-key", "--key-id", "alias/golden")
    assert described["KeyMetadata"]["Arn"] == key["Arn"]
    missing = server.aws("kms", "describe-key", "--key-id", "alias/nope")
    assert missing.returncode != 0 and "(NotFoundException)" in missing.stderr

    rule = server.aws_json(
        "rbin",
        "create-rule",
        "--resource-type",
        "EBS_SNAPSHOT",
        "--retention-period",
        "RetentionPeriodValue=7,RetentionPeriodUnit=DAYS",
        "--tags",
        "Key=team,Value=platform",
    )
    # the rule's ARN travels in the URL path, percent-encoded, and is signed so
    tags = server.aws_json("rbin", "list-tags-for-resource", "--resource-arn", rule["RuleArn"])
    assert tags["Tags"] == [{"Key": "team", "Value": "platform"}]
    listed = server.aws_json("rbin", "list-rules", "--resource-type", "EBS_SNAPSHOT")
    assert [r["Identifier"] for r in listed["Rules"]] == [rule["Identifier"]]
    gone = server.aws("rbin", "get-rule", "--identifier", "nosuchrule")
    assert gone.returncode != 0 and "(ResourceNotFoundException)" in gone.stderr


def test_instances_launched_through_ami_serve_outlive_it(server: Server) -> None:
    require_root("instances run in namespaces with overlayfs")
    image = server.ami("bootstrap", "busybox", "--name", "served-base").stdout.strip()
    ec2 = boto3.client(
        "ec2",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    (instance,) = [
        i["InstanceId"]
        for i in ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"]
    ]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance], WaiterConfig={"Delay": 0.2})
    server.stop()
    session = amiable.Session(home=server.home, region="us-east-1")
    local = session.client("ec2")
    described = local.describe_instances(InstanceIds=[instance])["Reservations"][0]
    assert described["Instances"][0]["State"]["Name"] == "running"
    ssm = session.client("ssm")
    sent = ssm.send_command(
        InstanceIds=[instance],
        DocumentName="AWS-RunShellScript",
        Parameters={"commands": ["hostname"]},
    )["Command"]
    ssm.get_waiter("command_executed").wait(
        CommandId=sent["CommandId"], InstanceId=instance, WaiterConfig={"Delay": 0.2}
    )
    found = ssm.get_command_invocation(CommandId=sent["CommandId"], InstanceId=instance)
    assert found["StandardOutputContent"] == f"{instance}\n"
    local.terminate_instances(InstanceIds=[instance])
    local.get_waiter("instance_terminated").wait(
        InstanceIds=[instance], WaiterConfig={"Delay": 0.2}
    )
