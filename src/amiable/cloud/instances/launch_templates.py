"""Launch templates: CreateLaunchTemplate, CreateLaunchTemplateVersion,
ModifyLaunchTemplate, DescribeLaunchTemplates, DescribeLaunchTemplateVersions,
DeleteLaunchTemplateVersions, DeleteLaunchTemplate.

A template is a name and numbered versions; each version keeps its launch
data in the response shape (`ResponseLaunchTemplateData`) and, apart, the
image it names, so DescribeImageReferences can find the templates that use
an image. An `ImageId` of `resolve:ssm:...` must name an `aws:ec2:image`
parameter when the version is made; it is kept as written, and resolved at
launch or by DescribeLaunchTemplateVersions with `ResolveAlias`. Launching
from them comes with instances.
"""

import json
import re
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from amiable.catalog.regional import launch_template_versions, launch_templates
from amiable.cloud.core import client_tokens
from amiable.cloud.core.actions import Context, action
from amiable.cloud.core.errors import ApiError, invalid_value
from amiable.cloud.core.filters import field
from amiable.cloud.core.home import Region
from amiable.cloud.core.ids import new_id
from amiable.cloud.core.listing import filtered_page
from amiable.cloud.core.tags import apply_specifications, delete_tags_of, tags_of
from amiable.cloud.ssm.image_aliases import check_alias, resolved
from amiable.protocol.models import service_model
from amiable.protocol.reshape import reshape

_NAME = re.compile(r"[a-zA-Z0-9().\-/_]{3,128}")


def _data(value: dict[str, Any]) -> dict[str, Any]:
    shape = service_model("ec2").shape_for("ResponseLaunchTemplateData")
    shown: dict[str, Any] = reshape(value, shape)
    return shown


def template_arn(region: str, account_id: str, template_id: str) -> str:
    return f"arn:aws:ec2:{region}:{account_id}:launch-template/{template_id}"


def _template(conn: Connection, owner: str, params: dict[str, Any]) -> Any:
    """The template named by LaunchTemplateId or LaunchTemplateName."""
    template_id, name = params.get("LaunchTemplateId"), params.get("LaunchTemplateName")
    if (template_id is None) == (name is None):
        raise ApiError(
            "MissingParameter", "The request must contain LaunchTemplateId or LaunchTemplateName"
        )
    query = select(launch_templates).where(launch_templates.c.owner_id == owner)
    if template_id is not None:
        row = conn.execute(query.where(launch_templates.c.template_id == template_id)).first()
        if row is None:
            raise ApiError(
                "InvalidLaunchTemplateId.NotFound",
                f"The specified launch template, with template ID {template_id}, does not exist.",
            )
        return row
    row = conn.execute(query.where(launch_templates.c.name == name)).first()
    if row is None:
        raise ApiError(
            "InvalidLaunchTemplateName.NotFoundException",
            f"The specified launch template, with template name {name}, does not exist.",
        )
    return row


def _shown(row: Any, owner: str, tags: list[dict[str, str]] | None = None) -> dict[str, Any]:
    shown = {
        "LaunchTemplateId": row.template_id,
        "LaunchTemplateName": row.name,
        "CreateTime": row.created,
        "CreatedBy": f"arn:aws:iam::{owner}:root",
        "DefaultVersionNumber": row.default_version,
        "LatestVersionNumber": row.latest_version,
    }
    if tags is not None:
        shown["Tags"] = tags
    return shown


def _add_version(
    conn: Connection,
    template_id: str,
    version: int,
    description: str | None,
    data: dict[str, Any],
    now: datetime,
) -> None:
    conn.execute(
        launch_template_versions.insert().values(
            template_id=template_id,
            version=version,
            description=description,
            data=json.dumps(data, default=str),
            image_id=data.get("ImageId"),
            created=now,
        )
    )


@action("ec2", "CreateLaunchTemplate")
def create_launch_template(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name = params["LaunchTemplateName"]
    if not _NAME.fullmatch(name):
        raise ApiError(
            "InvalidLaunchTemplateName.MalformedException",
            "A launch template name must be 3 to 128 characters: letters, numbers, ( ) . - / _",
        )
    region: Region = ctx.cloud.region(ctx.region)
    now = ctx.cloud.clock.now()
    with region.catalog.begin() as conn:
        earlier = client_tokens.earlier_answer(conn, ctx.account_id, "CreateLaunchTemplate", params)
        if earlier is not None:
            return earlier
        template_id = new_id("lt")
        try:
            conn.execute(
                launch_templates.insert().values(
                    template_id=template_id,
                    owner_id=ctx.account_id,
                    name=name,
                    default_version=1,
                    latest_version=1,
                    created=now,
                )
            )
        except IntegrityError as exc:
            raise ApiError(
                "InvalidLaunchTemplateName.AlreadyExistsException",
                f"Launch template name already in use: {name}",
            ) from exc
        data = _data(params["LaunchTemplateData"])
        check_alias(ctx, conn, data.get("ImageId"))
        _add_version(conn, template_id, 1, params.get("VersionDescription"), data, now)
        tags = apply_specifications(
            conn, params.get("TagSpecifications"), "launch-template", template_id, ctx.account_id
        )
        row = _template(conn, ctx.account_id, {"LaunchTemplateId": template_id})
        answer = {"LaunchTemplate": _shown(row, ctx.account_id, tags)}
        client_tokens.remember(conn, ctx.account_id, "CreateLaunchTemplate", params, answer)
    return answer


def _version_number(row: Any, text: str) -> int:
    if text == "$Latest":
        return int(row.latest_version)
    if text == "$Default":
        return int(row.default_version)
    if not text.isdigit():
        raise invalid_value("Version", text, "a number, $Latest or $Default")
    return int(text)


def _version(conn: Connection, template_id: str, number: int) -> Any:
    row = conn.execute(
        select(launch_template_versions).where(
            launch_template_versions.c.template_id == template_id,
            launch_template_versions.c.version == number,
        )
    ).first()
    if row is None:
        raise ApiError(
            "InvalidLaunchTemplateId.VersionNotFound",
            f"Could not find launch template version {number} of {template_id}.",
        )
    return row


@action("ec2", "CreateLaunchTemplateVersion")
def create_launch_template_version(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """A new version; with SourceVersion, the source's data with this data over it."""
    region: Region = ctx.cloud.region(ctx.region)
    now = ctx.cloud.clock.now()
    with region.catalog.begin() as conn:
        template = _template(conn, ctx.account_id, params)
        data = _data(params["LaunchTemplateData"])
        if "SourceVersion" in params:
            number = _version_number(template, params["SourceVersion"])
            data = {**json.loads(_version(conn, template.template_id, number).data), **data}
        check_alias(ctx, conn, data.get("ImageId"))
        version = template.latest_version + 1
        _add_version(
            conn, template.template_id, version, params.get("VersionDescription"), data, now
        )
        conn.execute(
            launch_templates.update()
            .where(launch_templates.c.template_id == template.template_id)
            .values(latest_version=version)
        )
        template = _template(conn, ctx.account_id, {"LaunchTemplateId": template.template_id})
        shown = _version_shown(template, _version(conn, template.template_id, version), ctx)
    return {"LaunchTemplateVersion": shown}


def _version_shown(template: Any, row: Any, ctx: Context, resolve: bool = False) -> dict[str, Any]:
    data = json.loads(row.data)
    if resolve and "ImageId" in data:
        data["ImageId"] = resolved(ctx, data["ImageId"])
    shown = {
        "LaunchTemplateId": template.template_id,
        "LaunchTemplateName": template.name,
        "VersionNumber": row.version,
        "CreateTime": row.created,
        "CreatedBy": f"arn:aws:iam::{ctx.account_id}:root",
        "DefaultVersion": row.version == template.default_version,
        "LaunchTemplateData": data,
    }
    if row.description is not None:
        shown["VersionDescription"] = row.description
    return shown


@action("ec2", "ModifyLaunchTemplate")
def modify_launch_template(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.begin() as conn:
        template = _template(conn, ctx.account_id, params)
        if "DefaultVersion" in params:
            number = _version_number(template, params["DefaultVersion"])
            _version(conn, template.template_id, number)
            conn.execute(
                launch_templates.update()
                .where(launch_templates.c.template_id == template.template_id)
                .values(default_version=number)
            )
        template = _template(conn, ctx.account_id, {"LaunchTemplateId": template.template_id})
    return {"LaunchTemplate": _shown(template, ctx.account_id)}


@action("ec2", "DeleteLaunchTemplateVersions")
def delete_launch_template_versions(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Versions deleted one by one, each failure reported beside the others;
    never the default version. $Latest becomes the newest version left."""
    versions = params["Versions"]
    if not 1 <= len(versions) <= 200:
        raise invalid_value("Versions", len(versions), "1 to 200 versions")
    region: Region = ctx.cloud.region(ctx.region)
    deleted, refused = [], []
    with region.catalog.begin() as conn:
        template = _template(conn, ctx.account_id, params)
        named = {"LaunchTemplateId": template.template_id, "LaunchTemplateName": template.name}
        for text in versions:
            problem = _undeletable(conn, template, text)
            if problem:
                number = int(text) if text.isdigit() else None
                refused.append(
                    {
                        **named,
                        **({"VersionNumber": number} if number is not None else {}),
                        "ResponseError": {"Code": problem[0], "Message": problem[1]},
                    }
                )
                continue
            conn.execute(
                launch_template_versions.delete().where(
                    launch_template_versions.c.template_id == template.template_id,
                    launch_template_versions.c.version == int(text),
                )
            )
            deleted.append({**named, "VersionNumber": int(text)})
        newest = conn.execute(
            select(launch_template_versions.c.version)
            .where(launch_template_versions.c.template_id == template.template_id)
            .order_by(launch_template_versions.c.version.desc())
        ).scalar()
        conn.execute(
            launch_templates.update()
            .where(launch_templates.c.template_id == template.template_id)
            .values(latest_version=newest)
        )
    return {
        "SuccessfullyDeletedLaunchTemplateVersions": deleted,
        "UnsuccessfullyDeletedLaunchTemplateVersions": refused,
    }


def _undeletable(conn: Connection, template: Any, text: str) -> tuple[str, str] | None:
    if not text.isdigit():
        return "launchTemplateVersionDoesNotExist", f"Version {text} is not a version number."
    if int(text) == template.default_version:
        return (
            "unexpectedError",
            "Cannot delete the default version of a launch template; make another the "
            "default first, or delete the launch template.",
        )
    try:
        _version(conn, template.template_id, int(text))
    except ApiError:
        return "launchTemplateVersionDoesNotExist", f"Version {text} does not exist."
    return None


@action("ec2", "DeleteLaunchTemplate")
def delete_launch_template(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.begin() as conn:
        template = _template(conn, ctx.account_id, params)
        conn.execute(
            launch_template_versions.delete().where(
                launch_template_versions.c.template_id == template.template_id
            )
        )
        conn.execute(
            launch_templates.delete().where(launch_templates.c.template_id == template.template_id)
        )
        delete_tags_of(conn, template.template_id)
    return {"LaunchTemplate": _shown(template, ctx.account_id)}


_TEMPLATE_FILTERS = {
    "launch-template-name": field("LaunchTemplateName"),
    "create-time": lambda t: [t["CreateTime"].strftime("%Y-%m-%dT%H:%M:%S.000Z")],
}


@action("ec2", "DescribeLaunchTemplates")
def describe_launch_templates(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    query = select(launch_templates).where(launch_templates.c.owner_id == ctx.account_id)
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.connect() as conn:
        rows = conn.execute(query.order_by(launch_templates.c.template_id)).all()
        tags = tags_of(conn, [r.template_id for r in rows])
    ids, names = params.get("LaunchTemplateIds") or [], params.get("LaunchTemplateNames") or []
    missing_ids = set(ids) - {r.template_id for r in rows}
    if missing_ids:
        raise ApiError(
            "InvalidLaunchTemplateId.NotFound",
            f"At least one of the launch templates specified in the request does not exist: "
            f"{sorted(missing_ids)[0]}",
        )
    missing_names = set(names) - {r.name for r in rows}
    if missing_names:
        raise ApiError(
            "InvalidLaunchTemplateName.NotFoundException",
            f"At least one of the launch templates specified in the request does not exist: "
            f"{sorted(missing_names)[0]}",
        )
    chosen = [
        _shown(r, ctx.account_id, tags[r.template_id])
        for r in rows
        if (not ids or r.template_id in ids) and (not names or r.name in names)
    ]
    results, token = filtered_page(chosen, params, _TEMPLATE_FILTERS, "LaunchTemplateId", (1, 200))
    return {"LaunchTemplates": results, "NextToken": token}


_VERSION_FILTERS = {
    "image-id": lambda v: [v["LaunchTemplateData"].get("ImageId", "")],
    "instance-type": lambda v: [v["LaunchTemplateData"].get("InstanceType", "")],
    "is-default-version": lambda v: [str(v["DefaultVersion"]).lower()],
    "kernel-id": lambda v: [v["LaunchTemplateData"].get("KernelId", "")],
    "ram-disk-id": lambda v: [v["LaunchTemplateData"].get("RamDiskId", "")],
}


@action("ec2", "DescribeLaunchTemplateVersions")
def describe_launch_template_versions(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.connect() as conn:
        if "LaunchTemplateId" in params or "LaunchTemplateName" in params:
            templates = [_template(conn, ctx.account_id, params)]
        else:
            templates = list(
                conn.execute(
                    select(launch_templates).where(launch_templates.c.owner_id == ctx.account_id)
                ).all()
            )
        shown = []
        for template in templates:
            for number in _versions_wanted(conn, template, params):
                row = _version(conn, template.template_id, number)
                shown.append(_version_shown(template, row, ctx, bool(params.get("ResolveAlias"))))
    results, token = filtered_page(shown, params, _VERSION_FILTERS, _version_key, (1, 200))
    return {"LaunchTemplateVersions": results, "NextToken": token}


def _version_key(version: dict[str, Any]) -> str:
    return f"{version['LaunchTemplateId']}:{version['VersionNumber']:09d}"


def _versions_wanted(conn: Connection, template: Any, params: dict[str, Any]) -> list[int]:
    named = params.get("Versions")
    if named:
        return sorted({_version_number(template, v) for v in named})
    numbers = conn.execute(
        select(launch_template_versions.c.version)
        .where(launch_template_versions.c.template_id == template.template_id)
        .order_by(launch_template_versions.c.version)
    ).scalars()
    low = int(params.get("MinVersion") or 0)
    high = int(params.get("MaxVersion") or 2**31)
    return [n for n in numbers if low <= n <= high]


def launch_data(ctx: Context, specification: dict[str, Any]) -> dict[str, Any]:
    """The data of the version a RunInstances `LaunchTemplate` names ($Default
    unless `Version` says otherwise)."""
    region: Region = ctx.cloud.region(ctx.region)
    with region.catalog.connect() as conn:
        template = _template(conn, ctx.account_id, specification)
        number = _version_number(template, specification.get("Version", "$Default"))
        data: dict[str, Any] = json.loads(_version(conn, template.template_id, number).data)
    return data
