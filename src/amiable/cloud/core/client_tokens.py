"""ClientToken idempotency: a retried request gets its first answer.

The same token with other parameters is `IdempotentParameterMismatch`, as on
EC2. Tokens are per account and region, recorded in the same transaction as
the work they started, so a token never points at work that was rolled back.
"""

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from amiable.catalog.regional import client_tokens

from .errors import ApiError


def _canonical(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=_json_value)


def _json_value(value: Any) -> str:
    """Timestamps as ISO 8601 (the protocol writes them back as such)."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def earlier_answer(
    conn: Connection, account_id: str, action: str, params: dict[str, Any]
) -> dict[str, Any] | None:
    token = params.get("ClientToken")
    if not token:
        return None
    row = conn.execute(
        select(client_tokens.c.action, client_tokens.c.request, client_tokens.c.result).where(
            client_tokens.c.account_id == account_id, client_tokens.c.token == token
        )
    ).first()
    if row is None:
        return None
    if row.action != action or row.request != _canonical(params):
        raise ApiError(
            "IdempotentParameterMismatch",
            f"The client token {token} was already used with different parameters.",
        )
    answer: dict[str, Any] = json.loads(row.result)
    return answer


def remember(
    conn: Connection, account_id: str, action: str, params: dict[str, Any], answer: dict[str, Any]
) -> None:
    token = params.get("ClientToken")
    if token:
        conn.execute(
            client_tokens.insert().values(
                account_id=account_id,
                token=token,
                action=action,
                request=_canonical(params),
                result=json.dumps(answer, default=_json_value),
            )
        )
