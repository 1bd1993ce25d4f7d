"""The accounts and regions a policy covers, each with its clients: an
account is an AWS profile's credentials, or a role assumed with them (STS
AssumeRole, as on AWS); `regions: all` is every region DescribeRegions
lists for the account."""

from collections.abc import Callable
from typing import Any

from amiable.session import boto_session

from .plan import Target
from .policy import Account, Policy

# (service, region, profile) -> a boto3 client; profile None: default credentials
Clients = Callable[[str, str, str | None], Any]
ClientFactory = Callable[[str, str], Any]
HOME_REGION = "us-east-1"  # where account-wide calls (STS, DescribeRegions) go
SESSION_NAME = "ami-lifecycle"


def targets(policy: Policy, clients: Clients, endpoint_url: str | None = None) -> list[Target]:
    found = []
    for account in policy.accounts:
        factory = _factory(account, clients, endpoint_url)
        home = policy.regions[0] if isinstance(policy.regions, list) else HOME_REGION
        account_id = str(factory("sts", home).get_caller_identity()["Account"])
        for region in _regions(policy, factory, home):
            found.append(
                Target(account_id, region, factory("ec2", region), factory("rbin", region))
            )
    return found


def _regions(policy: Policy, factory: ClientFactory, home: str) -> list[str]:
    if isinstance(policy.regions, list):
        return policy.regions
    answer = factory("ec2", home).describe_regions()
    return sorted(r["RegionName"] for r in answer["Regions"])


def _factory(account: Account, clients: Clients, endpoint_url: str | None) -> ClientFactory:
    if account.role_arn is None:
        return lambda service, region: clients(service, region, account.profile)
    sts = clients("sts", HOME_REGION, account.profile)
    granted = sts.assume_role(RoleArn=account.role_arn, RoleSessionName=SESSION_NAME)
    keys = granted["Credentials"]
    session = boto_session(
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    )
    return lambda service, region: session.client(
        service, region_name=region, endpoint_url=endpoint_url
    )
