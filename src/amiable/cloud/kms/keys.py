"""KMS keys: finding one by id, ARN or alias, who may use it, and using it.

A key belongs to one account and region. Its 256-bit material is generated
here, sealed under the host master key (`master_key.py`) and never leaves the
server: callers get ciphertexts and data keys, never the key. The owner may
do anything with its keys; another account only what the key policy allows
it (statements with `Effect: Allow`, `Principal.AWS` naming its account id or
`arn:aws:iam::<id>:root`, and a matching `kms:` action; a `Deny` wins), and
it must name the key by ARN, as on AWS. A key past its deletion date is gone.
The AWS managed keys `alias/aws/ebs` (EBS) and `alias/aws/ssm` (Parameter
Store) are made on first use.
"""

import fnmatch
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, select

from amiable.catalog.regional import kms_aliases, kms_keys
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Region

EBS_ALIAS = "alias/aws/ebs"
SSM_ALIAS = "alias/aws/ssm"
# alias -> the description AWS gives the managed key behind it
AWS_MANAGED = {
    EBS_ALIAS: "Default key that protects my EBS volumes when no other key is defined",
    SSM_ALIAS: "Default key that protects my SSM parameters when no other key is defined",
}
_MAGIC = b"amik1"
_NONCE = 12


@dataclass(frozen=True)
class Key:
    key_id: str
    account_id: str
    region: str
    description: str
    manager: str
    state: str  # Enabled | Disabled | PendingDeletion
    created: datetime
    deletion_date: datetime | None
    pending_days: int | None
    policy: str
    material: bytes  # sealed

    @property
    def arn(self) -> str:
        return key_arn(self.region, self.account_id, self.key_id)


def key_arn(region: str, account_id: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{account_id}:key/{key_id}"


def alias_arn(region: str, account_id: str, alias_name: str) -> str:
    return f"arn:aws:kms:{region}:{account_id}:{alias_name}"


def default_policy(account_id: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
        indent=2,
    )


def check_policy(text: str) -> None:
    try:
        policy = json.loads(text)
        statements = policy["Statement"]
        statements = statements if isinstance(statements, list) else [statements]
        for statement in statements:
            if statement["Effect"] not in ("Allow", "Deny") or "Action" not in statement:
                raise ValueError(statement)
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError(
            "MalformedPolicyDocumentException", "The key policy is not a valid policy document."
        ) from exc


def _listed(value: Any) -> list[str]:
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def policy_allows(policy_text: str, account_id: str, action: str) -> bool:
    policy = json.loads(policy_text)
    statements = _listed_dicts(policy.get("Statement", []))
    verdict = False
    for statement in statements:
        principal = statement.get("Principal", {})
        principals = _listed(principal.get("AWS", []) if isinstance(principal, dict) else principal)
        named = any(p in ("*", account_id, f"arn:aws:iam::{account_id}:root") for p in principals)
        acts = any(fnmatch.fnmatchcase(action, a) for a in _listed(statement.get("Action", [])))
        if named and acts:
            if statement.get("Effect") == "Deny":
                return False
            verdict = True
    return verdict


def _listed_dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, dict)]


def row_key(region: Region, row: Any) -> Key:
    return Key(
        row.key_id,
        row.account_id,
        region.name,
        row.description,
        row.manager,
        row.state,
        row.created,
        row.deletion_date,
        row.pending_days,
        row.policy,
        row.material,
    )


def gone(key: Key, now: datetime) -> bool:
    return (
        key.state == "PendingDeletion"
        and key.deletion_date is not None
        and now >= key.deletion_date
    )


def not_found(reference: str) -> ApiError:
    return ApiError("NotFoundException", f"Key '{reference}' does not exist")


def find(
    conn: Connection, region: Region, caller: str, reference: str, action: str, now: datetime
) -> Key:
    """The key `reference` names (key id, key ARN, alias name or alias ARN) if the
    caller may `action` it; NotFoundException / AccessDeniedException otherwise."""
    account, local = caller, reference
    if reference.startswith("arn:"):
        parts = reference.split(":", 5)
        if len(parts) != 6 or parts[2] != "kms" or parts[3] != region.name:
            raise not_found(reference)
        account, local = parts[4], parts[5]
        if local.startswith("key/"):
            local = local[len("key/") :]
    if local.startswith("alias/"):
        if local in AWS_MANAGED and account == caller:
            aws_managed_key(conn, region, caller, now, local)
        key_id = conn.execute(
            select(kms_aliases.c.key_id).where(
                kms_aliases.c.account_id == account, kms_aliases.c.alias_name == local
            )
        ).scalar()
        if key_id is None:
            raise not_found(reference)
        local = key_id
    row = conn.execute(
        select(kms_keys).where(kms_keys.c.key_id == local, kms_keys.c.account_id == account)
    ).first()
    if row is None:
        raise not_found(reference)
    key = row_key(region, row)
    if gone(key, now):
        raise not_found(reference)
    if key.account_id != caller and not policy_allows(key.policy, caller, action):
        raise ApiError(
            "AccessDeniedException",
            f"User: arn:aws:iam::{caller}:root is not authorized to perform: {action} on "
            f"resource: {key.arn} because no resource-based policy allows the {action} action",
        )
    return key


def create(
    conn: Connection,
    region: Region,
    account_id: str,
    now: datetime,
    *,
    description: str = "",
    manager: str = "CUSTOMER",
    policy: str | None = None,
) -> Key:
    key_id = str(uuid.uuid4())
    material = region.master_key.seal(secrets.token_bytes(32), key_id.encode())
    conn.execute(
        kms_keys.insert().values(
            key_id=key_id,
            account_id=account_id,
            description=description,
            manager=manager,
            state="Enabled",
            created=now,
            policy=policy or default_policy(account_id),
            material=material,
        )
    )
    row = conn.execute(select(kms_keys).where(kms_keys.c.key_id == key_id)).one()
    return row_key(region, row)


def aws_managed_key(
    conn: Connection, region: Region, account_id: str, now: datetime, alias: str = EBS_ALIAS
) -> None:
    """Make the AWS managed key `alias` (one of `AWS_MANAGED`) for the account
    if it has none yet."""
    exists = conn.execute(
        select(kms_aliases.c.key_id).where(
            kms_aliases.c.account_id == account_id, kms_aliases.c.alias_name == alias
        )
    ).first()
    if exists is None:
        key = create(conn, region, account_id, now, description=AWS_MANAGED[alias], manager="AWS")
        conn.execute(
            kms_aliases.insert().values(
                account_id=account_id, alias_name=alias, key_id=key.key_id, created=now
            )
        )


def aws_managed(conn: Connection, arn: str) -> bool:
    """Whether the key an ARN names is an AWS managed key (`alias/aws/ebs`, ...)."""
    manager = conn.execute(
        select(kms_keys.c.manager).where(kms_keys.c.key_id == arn.rsplit("/", 1)[-1])
    ).scalar()
    return manager == "AWS"


def require_usable(key: Key) -> None:
    if key.state == "Disabled":
        raise ApiError("DisabledException", f"{key.arn} is disabled.")
    if key.state != "Enabled":
        raise ApiError("KMSInvalidStateException", f"{key.arn} is pending deletion.")


def encrypt(region: Region, key: Key, plaintext: bytes, context: dict[str, str]) -> bytes:
    require_usable(key)
    material = region.master_key.unseal(key.material, key.key_id.encode())
    nonce = secrets.token_bytes(_NONCE)
    sealed = AESGCM(material).encrypt(nonce, plaintext, _aad(key, context))
    return _MAGIC + key.account_id.encode() + key.key_id.encode() + nonce + sealed


def ciphertext_key(blob: bytes) -> tuple[str, str]:
    """(account id, key id) a ciphertext was made with."""
    if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + 12 + 36 + _NONCE + 16:
        raise ApiError("InvalidCiphertextException", "The ciphertext is not valid.")
    start = len(_MAGIC)
    return blob[start : start + 12].decode("ascii", "replace"), blob[
        start + 12 : start + 48
    ].decode("ascii", "replace")


def decrypt(region: Region, key: Key, blob: bytes, context: dict[str, str]) -> bytes:
    require_usable(key)
    material = region.master_key.unseal(key.material, key.key_id.encode())
    body = blob[len(_MAGIC) + 48 :]
    try:
        return AESGCM(material).decrypt(body[:_NONCE], body[_NONCE:], _aad(key, context))
    except InvalidTag as exc:
        raise ApiError("InvalidCiphertextException", "The ciphertext is not valid.") from exc


def _aad(key: Key, context: dict[str, str]) -> bytes:
    return json.dumps([key.key_id, context], sort_keys=True).encode()
