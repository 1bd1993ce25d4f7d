"""`ami accounts`: the accounts of a data home and their access keys."""

import secrets
import string

import click

from .context import Settings, settings
from .output import emit_json, table

_KEY_ALPHABET = string.ascii_uppercase + string.digits


@click.group()
def accounts() -> None:
    """Accounts (12-digit ids) and their access keys."""


@accounts.command()
@click.option("--account-id", help="12 digits; random when omitted.")
@click.option("--access-key-id", help="Random (AKIA...) when omitted.")
@click.option("--secret-access-key", help="Random when omitted; give it with --access-key-id.")
@click.option("--alias", help="Owner alias, usable in DescribeImages Owners.")
@click.option("--organization-arn", help="The organization it belongs to (launch permissions).")
@click.option("--ou-arn", help="Its organizational unit in that organization.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@settings
def create(
    s: Settings,
    account_id: str | None,
    access_key_id: str | None,
    secret_access_key: str | None,
    alias: str | None,
    organization_arn: str | None,
    ou_arn: str | None,
    as_json: bool,
) -> None:
    """Create an account with one access key; prints the key and secret once."""
    from amiable.cloud.core.permissions import ORGANIZATION_ARN, OU_ARN

    if account_id is not None and not (len(account_id) == 12 and account_id.isdigit()):
        raise click.UsageError("--account-id must be 12 digits")
    if (access_key_id is None) != (secret_access_key is None):
        raise click.UsageError("give --access-key-id and --secret-access-key together")
    if organization_arn is not None and not ORGANIZATION_ARN.fullmatch(organization_arn):
        raise click.UsageError(
            "--organization-arn must look like "
            "arn:aws:organizations::111122223333:organization/o-..."
        )
    if ou_arn is not None:
        if organization_arn is None:
            raise click.UsageError("--ou-arn needs --organization-arn")
        if not OU_ARN.fullmatch(ou_arn) or ou_arn.split("/")[1] != organization_arn.split("/")[1]:
            raise click.UsageError(
                "--ou-arn must be an OU of that organization: "
                "arn:aws:organizations::111122223333:ou/o-.../ou-..."
            )
    account_id = account_id or "".join(secrets.choice(string.digits) for _ in range(12))
    key_id = access_key_id or "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
    secret = secret_access_key or secrets.token_urlsafe(30)[:40]
    from amiable.catalog.accounts import Duplicate, Membership

    try:
        s.cloud().accounts.create(
            account_id, alias, key_id, secret, Membership(organization_arn, ou_arn)
        )
    except Duplicate as exc:
        raise click.ClickException(
            f"account id, alias or access key already exists ({exc})"
        ) from exc
    result = {
        "AccountId": account_id,
        "Alias": alias,
        "AccessKeyId": key_id,
        "SecretAccessKey": secret,
        "OrganizationArn": organization_arn,
        "OrganizationalUnitArn": ou_arn,
    }
    if as_json:
        emit_json(result)
    else:
        for name, value in result.items():
            click.echo(f"{name}: {value if value is not None else ''}")


@accounts.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@settings
def list_accounts(s: Settings, as_json: bool) -> None:
    """List accounts and their access key ids (never secrets)."""
    found = s.cloud().accounts.list()
    if as_json:
        emit_json(
            [
                {
                    "AccountId": a.account_id,
                    "Alias": a.alias,
                    "AccessKeyIds": list(a.access_key_ids),
                    "OrganizationArn": a.organization_arn,
                    "OrganizationalUnitArn": a.ou_arn,
                }
                for a in found
            ]
        )
    else:
        rows = [
            (
                a.account_id,
                a.alias or "",
                ", ".join(a.access_key_ids),
                a.ou_arn or a.organization_arn or "",
            )
            for a in found
        ]
        table("accounts", ("account", "alias", "access keys", "organization / OU"), rows)
