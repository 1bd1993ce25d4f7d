"""GetCallerIdentity: the account behind the request's access key.

amiable's access keys are an account's own keys, so the caller is the
account's root user, and STS answers as AWS does for root credentials: the
account id as `Account` and `UserId` (the `aws:userid` of the root user) and
`arn:aws:iam::<account>:root` as `Arn`. STS is global: the call works
whatever region the client signs for.
"""

from typing import Any

from amiable.cloud.core.actions import Context, action


@action("sts", "GetCallerIdentity")
def get_caller_identity(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    account = ctx.account_id
    return {"UserId": account, "Account": account, "Arn": f"arn:aws:iam::{account}:root"}
