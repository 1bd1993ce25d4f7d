"""The minimal KMS through real boto3 `kms` clients, in-process and on the same
gateway as EC2."""

import json
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import amiable
from amiable.catalog.regional import kms_keys
from amiable.cloud.core.home import Cloud
from api_helpers import OTHER, cloud_with_other_account, code_of


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return cloud_with_other_account(tmp_path / "home")


@pytest.fixture
def kms(cloud: Cloud) -> Any:
    return amiable.Session(cloud=cloud, region="eu-west-1").client("kms")


@pytest.fixture
def other_kms(cloud: Cloud) -> Any:
    return amiable.Session(cloud=cloud, account=OTHER, region="eu-west-1").client("kms")


def test_keys_and_aliases(kms: Any) -> None:
    meta = kms.create_key(Description="golden images")["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"], meta["KeyManager"]) == ("Enabled", True, "CUSTOMER")
    assert meta["Arn"] == f"arn:aws:kms:eu-west-1:000000000000:key/{meta['KeyId']}"
    kms.create_alias(AliasName="alias/golden", TargetKeyId=meta["KeyId"])
    for reference in (
        meta["KeyId"],
        meta["Arn"],
        "alias/golden",
        "arn:aws:kms:eu-west-1:000000000000:alias/golden",
    ):
        assert kms.describe_key(KeyId=reference)["KeyMetadata"]["KeyId"] == meta["KeyId"]
    aliases = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/golden"]["TargetKeyId"] == meta["KeyId"]
    assert "alias/aws/ebs" in aliases  # the AWS managed key for EBS exists from the start
    ebs = kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]
    assert ebs["KeyManager"] == "AWS"
    listed = [k["KeyId"] for k in kms.list_keys()["Keys"]]
    assert sorted(listed) == sorted([meta["KeyId"], ebs["KeyId"]])
    assert code_of(kms.create_alias, AliasName="alias/golden", TargetKeyId=meta["KeyId"]) == (
        "AlreadyExistsException"
    )
    assert code_of(kms.create_alias, AliasName="alias/aws/mine", TargetKeyId=meta["KeyId"]) == (
        "InvalidAliasNameException"
    )
    assert code_of(kms.describe_key, KeyId="alias/missing") == "NotFoundException"
    kms.delete_alias(AliasName="alias/golden")
    assert code_of(kms.describe_key, KeyId="alias/golden") == "NotFoundException"


def test_a_key_belongs_to_one_region_and_account(cloud: Cloud, kms: Any, other_kms: Any) -> None:
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    elsewhere = amiable.Session(cloud=cloud, region="us-east-1").client("kms")
    assert code_of(elsewhere.describe_key, KeyId=arn) == "NotFoundException"
    key_id = arn.rsplit("/", 1)[1]
    assert code_of(other_kms.describe_key, KeyId=key_id) == "NotFoundException"
    assert code_of(other_kms.describe_key, KeyId=arn) == "AccessDeniedException"


def test_a_key_policy_grants_another_account_use_of_a_key(kms: Any, other_kms: Any) -> None:
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    policy = json.loads(kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"])
    policy["Statement"].append(
        {
            "Sid": "Allow use by the other account",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
            "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*", "kms:Encrypt"],
            "Resource": "*",
        }
    )
    kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=json.dumps(policy))
    assert other_kms.describe_key(KeyId=arn)["KeyMetadata"]["AWSAccountId"] == "000000000000"
    blob = other_kms.encrypt(KeyId=arn, Plaintext=b"secret")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
    assert code_of(other_kms.schedule_key_deletion, KeyId=arn) == "AccessDeniedException"
    assert code_of(other_kms.put_key_policy, KeyId=arn, Policy="{}") == "AccessDeniedException"
    assert code_of(kms.put_key_policy, KeyId=arn, Policy="not json") == (
        "MalformedPolicyDocumentException"
    )


def test_encrypt_decrypt_and_data_keys(kms: Any) -> None:
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    blob = kms.encrypt(KeyId=arn, Plaintext=b"hello", EncryptionContext={"image": "ami-1"})[
        "CiphertextBlob"
    ]
    assert b"hello" not in blob
    plain = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"image": "ami-1"})
    assert (plain["Plaintext"], plain["KeyId"]) == (b"hello", arn)
    assert code_of(kms.decrypt, CiphertextBlob=blob) == "InvalidCiphertextException"
    assert code_of(kms.decrypt, CiphertextBlob=b"garbage" * 20) == "InvalidCiphertextException"
    data = kms.generate_data_key(KeyId=arn, KeySpec="AES_256")
    assert len(data["Plaintext"]) == 32
    assert kms.decrypt(CiphertextBlob=data["CiphertextBlob"])["Plaintext"] == data["Plaintext"]
    kms.disable_key(KeyId=arn)
    assert code_of(kms.decrypt, CiphertextBlob=blob, EncryptionContext={"image": "ami-1"}) == (
        "DisabledException"
    )
    kms.enable_key(KeyId=arn)
    assert kms.encrypt(KeyId=arn, Plaintext=b"again")["KeyId"] == arn


def test_scheduled_deletion_then_gone(cloud: Cloud, kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"data")["CiphertextBlob"]
    assert code_of(kms.schedule_key_deletion, KeyId=key_id, PendingWindowInDays=3) == (
        "ValidationException"
    )
    scheduled = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert (scheduled["KeyState"], scheduled["PendingWindowInDays"]) == ("PendingDeletion", 7)
    assert code_of(kms.decrypt, CiphertextBlob=blob) == "KMSInvalidStateException"
    kms.cancel_key_deletion(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    kms.enable_key(KeyId=key_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    cloud.clock.advance(timedelta(days=7, seconds=1))
    assert code_of(kms.describe_key, KeyId=key_id) == "NotFoundException"
    assert key_id not in [k["KeyId"] for k in kms.list_keys()["Keys"]]
    assert code_of(kms.decrypt, CiphertextBlob=blob) == "NotFoundException"
    ebs = kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]["Arn"]
    assert code_of(kms.schedule_key_deletion, KeyId=ebs) == "AccessDeniedException"


def test_key_material_is_sealed_under_the_host_master_key(cloud: Cloud, kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    master = cloud.home / "master.key"
    assert stat.S_IMODE(master.stat().st_mode) == 0o600
    assert len(master.read_bytes()) == 32
    with cloud.region("eu-west-1").catalog.connect() as conn:
        sealed = conn.execute(
            select(kms_keys.c.material).where(kms_keys.c.key_id == key_id)
        ).scalar_one()
    assert len(sealed) == 12 + 32 + 16  # nonce, AES-256 key, GCM tag
    region = cloud.region("eu-west-1")
    assert len(region.master_key.unseal(sealed, key_id.encode())) == 32


def test_paging_keys(kms: Any) -> None:
    for _ in range(4):
        kms.create_key()
    first = kms.list_keys(Limit=2)
    assert first["Truncated"] is True and len(first["Keys"]) == 2
    everything = [k for page in kms.get_paginator("list_keys").paginate() for k in page["Keys"]]
    assert len(everything) == 5  # four and aws/ebs
