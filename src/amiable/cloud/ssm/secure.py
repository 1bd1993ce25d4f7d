"""SecureString values: encrypted with KMS, the parameter's ARN as encryption
context (`PARAMETER_ARN`, as Parameter Store does), kept and shown without
decryption as the ciphertext in base64. A key that is missing, disabled or
not usable by the caller is `InvalidKeyId`. Values never reach a log or an
error message."""

import base64

from sqlalchemy import Connection

from amiable.cloud.core.actions import Context
from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.home import Region
from amiable.cloud.kms import keys

SSM_KEY = keys.SSM_ALIAS


def _context(arn: str) -> dict[str, str]:
    return {"PARAMETER_ARN": arn}


def _invalid_key(exc: ApiError) -> ApiError:
    return ApiError("InvalidKeyId", exc.message)


def encrypt(
    ctx: Context, conn: Connection, region: Region, key_id: str, arn: str, plaintext: str
) -> str:
    try:
        key = keys.find(conn, region, ctx.account_id, key_id, "kms:Encrypt", ctx.cloud.clock.now())
        blob = keys.encrypt(region, key, plaintext.encode(), _context(arn))
    except ApiError as exc:
        raise _invalid_key(exc) from exc
    return base64.b64encode(blob).decode("ascii")


def decrypt(ctx: Context, conn: Connection, region: Region, arn: str, value: str) -> str:
    blob = base64.b64decode(value)
    try:
        account, key_id = keys.ciphertext_key(blob)
        reference = keys.key_arn(region.name, account, key_id)
        key = keys.find(
            conn, region, ctx.account_id, reference, "kms:Decrypt", ctx.cloud.clock.now()
        )
        return keys.decrypt(region, key, blob, _context(arn)).decode()
    except ApiError as exc:
        raise _invalid_key(exc) from exc
