"""Allowed AMIs: which images an account may discover and use, per region.

`enabled` hides every image that no criterion allows; `audit-mode` hides
nothing but marks each image's `ImageAllowed`; `disabled` (the default)
neither. An account's own images are always allowed. An image is allowed
when it meets at least one criterion, and meets a criterion when it meets
every condition the criterion sets: its provider (`amazon` for images of
accounts with that owner alias, or an account id), a name pattern, product
codes, at most so many days since creation or since deprecation. Watermark
and Amazon Inspector scan conditions are accepted but, as amiable keeps no
watermarks or scans, never met — as AWS treats unscanned images.
Enforcement at launch comes with instances.
"""

import fnmatch
import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from amiable.cloud.core import account_settings as settings
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.clock import parse_time
from amiable.cloud.core.errors import invalid_value
from amiable.cloud.core.home import Region
from amiable.cloud.core.permissions import is_account_id

STATE = "allowed-images-state"
CRITERIA = "allowed-images-criteria"
PROVIDERS = ("amazon", "aws-marketplace", "aws-backup-vault")
MAX_CRITERIA = 10

Judge = Callable[[dict[str, Any]], bool]


def _check(criteria: list[dict[str, Any]]) -> None:
    if len(criteria) > MAX_CRITERIA:
        raise invalid_value("ImageCriteria", len(criteria), f"at most {MAX_CRITERIA} criteria")
    for criterion in criteria:
        for provider in criterion.get("ImageProviders", []):
            if provider not in PROVIDERS and not is_account_id(provider):
                raise invalid_value(
                    "ImageProviders",
                    provider,
                    "amazon, aws-marketplace, aws-backup-vault or an account id",
                )
        if len(criterion.get("ImageNames", [])) > 50:
            raise invalid_value("ImageNames", len(criterion["ImageNames"]), "at most 50 names")


def _meets(criterion: dict[str, Any], image: dict[str, Any], now: datetime) -> bool:
    providers = criterion.get("ImageProviders")
    if providers and not (
        image["OwnerId"] in providers
        or ("amazon" in providers and image.get("ImageOwnerAlias") == "amazon")
    ):
        return False
    names = criterion.get("ImageNames")
    if names and not any(fnmatch.fnmatchcase(image.get("Name", ""), n) for n in names):
        return False
    codes = criterion.get("MarketplaceProductCodes")
    if codes and not {p["ProductCodeId"] for p in image.get("ProductCodes", [])} & set(codes):
        return False
    created = criterion.get("CreationDateCondition", {}).get("MaximumDaysSinceCreated")
    if created is not None and now - parse_time(image["CreationDate"]) > timedelta(days=created):
        return False
    deprecated = criterion.get("DeprecationTimeCondition", {}).get("MaximumDaysSinceDeprecated")
    since = now - parse_time(image["DeprecationTime"]) if "DeprecationTime" in image else None
    if deprecated is not None and since is not None and since > timedelta(days=deprecated):
        return False
    return not (criterion.get("ImageWatermarks") or criterion.get("ScanResultCondition"))


def judge(region: Region, account_id: str, now: datetime) -> tuple[str, Judge]:
    """The account's Allowed AMIs state and a judge of images (dicts shaped like
    DescribeImages' items)."""
    with region.catalog.connect() as conn:
        state = settings.read(conn, account_id, STATE, "disabled")
        criteria = json.loads(settings.read(conn, account_id, CRITERIA, "[]"))

    def allowed(image: dict[str, Any]) -> bool:
        if image["OwnerId"] == account_id:
            return True
        return any(_meets(criterion, image, now) for criterion in criteria)

    return state, allowed


@action("ec2", "EnableAllowedImagesSettings")
def enable_allowed_images_settings(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    state = params["AllowedImagesSettingsState"]
    if state not in ("enabled", "audit-mode"):
        raise invalid_value("AllowedImagesSettingsState", state, "enabled or audit-mode")
    settings.write_for_caller(ctx, STATE, state)
    return {"AllowedImagesSettingsState": state}


@action("ec2", "DisableAllowedImagesSettings")
def disable_allowed_images_settings(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    settings.write_for_caller(ctx, STATE, "disabled")
    return {"AllowedImagesSettingsState": "disabled"}


@action("ec2", "GetAllowedImagesSettings")
def get_allowed_images_settings(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.connect() as conn:
        state = settings.read(conn, ctx.account_id, STATE, "disabled")
        criteria = json.loads(settings.read(conn, ctx.account_id, CRITERIA, "[]"))
    return {"State": state, "ImageCriteria": criteria, "ManagedBy": "account"}


@action("ec2", "ReplaceImageCriteriaInAllowedImagesSettings")
def replace_image_criteria(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    criteria = params.get("ImageCriteria", [])
    _check(criteria)
    settings.write_for_caller(ctx, CRITERIA, json.dumps(criteria))
    return {"ReturnValue": True}


def image_allowed_filter(image: Mapping[str, Any]) -> list[str]:
    """The `image-allowed` filter's values for an image (none while Allowed AMIs
    is disabled, so the filter matches nothing then)."""
    return [str(image["ImageAllowed"]).lower()] if "ImageAllowed" in image else []
