"""The publish stage, all or nothing as consumers see it: only once every
region's image is available (and verified) do the flips happen — launch
permissions, the snapshots' createVolumePermission, the SSM parameter,
the launch templates' default versions — region by region. If any flip
fails, those already made are undone in reverse, and the bake exits 4.

Before the first flip, what each changes is journaled (the parameter's
previous value, the template's previous default), so a run killed in the middle
continues: a flip already made is not made twice, and an undo after a
restart restores what was there before the first run touched it.
"""

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from . import tags
from .errors import DistributionFailed
from .pipeline import Bake
from .resources import code_of, said, snapshots_of


class Flip:
    """One consumer-visible change in one region."""

    kind = ""

    def __init__(self, bake: Bake, region: str, image_id: str, target: str = "") -> None:
        self.bake = bake
        self.region = region
        self.image_id = image_id
        self.target = target
        self.ec2 = bake.clouds.ec2(region)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.region}:{self.target}"

    def before(self) -> dict[str, Any]:
        """What is there now (enough to undo)."""
        return {}

    def do(self, before: dict[str, Any]) -> dict[str, Any]:
        """Make the change; anything more the undo needs."""
        raise NotImplementedError

    def undo(self, before: dict[str, Any], done: dict[str, Any]) -> None:
        raise NotImplementedError


class LaunchPermission(Flip):
    kind = "launch-permission"

    def _entries(self) -> list[dict[str, str]]:
        spread = self.bake.recipe.distribute
        assert spread is not None
        return [
            *({"UserId": a} for a in spread.accounts),
            *({"OrganizationArn": o} for o in spread.organizations),
            *({"OrganizationalUnitArn": u} for u in spread.organizational_units),
            *([{"Group": "all"}] if spread.public else []),
        ]

    def do(self, before: dict[str, Any]) -> dict[str, Any]:
        self.ec2.modify_image_attribute(
            ImageId=self.image_id, LaunchPermission={"Add": self._entries()}
        )
        return {}

    def undo(self, before: dict[str, Any], done: dict[str, Any]) -> None:
        self.ec2.modify_image_attribute(
            ImageId=self.image_id, LaunchPermission={"Remove": self._entries()}
        )


class SnapshotPermission(Flip):
    kind = "create-volume-permission"

    def __init__(self, bake: Bake, region: str, image_id: str, snapshots: list[str]) -> None:
        super().__init__(bake, region, image_id)
        self.snapshots = snapshots

    def _change(self, operation: str) -> None:
        spread = self.bake.recipe.distribute
        assert spread is not None
        for snapshot in self.snapshots:
            self.ec2.modify_snapshot_attribute(
                SnapshotId=snapshot,
                Attribute="createVolumePermission",
                OperationType=operation,
                UserIds=spread.accounts,
            )

    def do(self, before: dict[str, Any]) -> dict[str, Any]:
        self._change("add")
        return {}

    def undo(self, before: dict[str, Any], done: dict[str, Any]) -> None:
        self._change("remove")


class Parameter(Flip):
    kind = "parameter"

    def __init__(self, bake: Bake, region: str, image_id: str, target: str) -> None:
        super().__init__(bake, region, image_id, target)
        self.ssm = bake.clouds.ssm(region)

    def _current(self) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.ssm.get_parameter(Name=self.target)["Parameter"]
            return found
        except ClientError as exc:
            if code_of(exc) == "ParameterNotFound":
                return None
            raise

    def before(self) -> dict[str, Any]:
        current = self._current()
        if current is None:
            return {"exists": False}
        return {
            "exists": True,
            "value": current["Value"],
            "type": current["Type"],
            "data_type": current.get("DataType", "text"),
        }

    def do(self, before: dict[str, Any]) -> dict[str, Any]:
        current = self._current()
        if current is None or current["Value"] != self.image_id:
            self.ssm.put_parameter(
                Name=self.target,
                Value=self.image_id,
                Type="String",
                DataType="aws:ec2:image",
                Overwrite=True,
                Description=f"The latest {self.bake.recipe.name} image (amiable bake)",
            )
        return {}

    def undo(self, before: dict[str, Any], done: dict[str, Any]) -> None:
        if not before["exists"]:
            try:
                self.ssm.delete_parameter(Name=self.target)
            except ClientError as exc:
                if code_of(exc) != "ParameterNotFound":  # cut short before it was made
                    raise
            return
        self.ssm.put_parameter(
            Name=self.target,
            Value=before["value"],
            Type=before["type"],
            DataType=before["data_type"],
            Overwrite=True,
        )


class TemplateDefault(Flip):
    kind = "launch-template"

    def _template(self) -> dict[str, Any]:
        (found,) = self.ec2.describe_launch_templates(LaunchTemplateNames=[self.target])[
            "LaunchTemplates"
        ]
        return dict(found)

    def before(self) -> dict[str, Any]:
        return {"default": self._template()["DefaultVersionNumber"]}

    def do(self, before: dict[str, Any]) -> dict[str, Any]:
        default = self._template()["DefaultVersionNumber"]
        (shown,) = self.ec2.describe_launch_template_versions(
            LaunchTemplateName=self.target, Versions=[str(default)]
        )["LaunchTemplateVersions"]
        if shown["LaunchTemplateData"].get("ImageId") == self.image_id:
            return {"version": default}  # made by the run that was killed
        made = self.ec2.create_launch_template_version(
            LaunchTemplateName=self.target,
            SourceVersion=str(before["default"]),
            VersionDescription=f"{self.bake.image_name} (amiable bake {self.bake.build_id})",
            LaunchTemplateData={"ImageId": self.image_id},
        )["LaunchTemplateVersion"]["VersionNumber"]
        self.ec2.modify_launch_template(LaunchTemplateName=self.target, DefaultVersion=str(made))
        return {"version": made}

    def undo(self, before: dict[str, Any], done: dict[str, Any]) -> None:
        self.ec2.modify_launch_template(
            LaunchTemplateName=self.target, DefaultVersion=str(before["default"])
        )
        if done.get("version") and done["version"] != before["default"]:
            self.ec2.delete_launch_template_versions(
                LaunchTemplateName=self.target, Versions=[str(done["version"])]
            )


def flips(bake: Bake, images: dict[str, str], snapshots: dict[str, list[str]]) -> list[Flip]:
    spread = bake.recipe.distribute
    if spread is None:
        return []
    made: list[Flip] = []
    for region in bake.regions:
        image = images[region]
        if spread.accounts or spread.organizations or spread.organizational_units or spread.public:
            made.append(LaunchPermission(bake, region, image))
        if spread.accounts:
            made.append(SnapshotPermission(bake, region, image, snapshots[region]))
        if spread.parameter:
            made.append(Parameter(bake, region, image, spread.parameter))
        made.extend(TemplateDefault(bake, region, image, name) for name in spread.launch_templates)
    return made


def _failed(flip: Flip, exc: ClientError, outcome: str) -> DistributionFailed:
    return DistributionFailed(
        f"publishing failed ({flip.kind} in {flip.region}: {said(exc)}); {outcome}"
    )


def images_of(bake: Bake) -> dict[str, str]:
    stages = bake.journal.data["stages"]
    return {bake.build_region: stages["build"]["candidate"], **stages["copy"]["images"]}


class PublishStage:
    name = "publish"
    title = "publish in every region at once"

    def run(self, bake: Bake) -> dict[str, Any]:
        images = images_of(bake)
        snapshots = {
            region: self._snapshots(bake, region, image) for region, image in images.items()
        }
        self._deprecate(bake, images)
        record = bake.journal.data.setdefault("flips", {})
        planned = flips(bake, images, snapshots)
        try:
            for flip in planned:  # what each changes, journaled before the first is made
                entry = record.setdefault(flip.key, {})
                if "before" not in entry:
                    entry["before"] = flip.before()
        except ClientError as exc:
            raise _failed(flip, exc, "nothing was changed, nothing is published") from exc
        bake.journal.save()
        try:
            for flip in planned:
                entry = record[flip.key]
                if entry.get("done") is not None:
                    continue
                entry["done"] = flip.do(entry["before"])
                bake.journal.save()
                bake.report.line(
                    f"    {flip.kind} in {flip.region}: {flip.target or flip.image_id}"
                )
        except ClientError as exc:
            undone, stuck = self._undo(bake, planned, record)
            outcome = f"{undone} change(s) undone, nothing is published"
            if stuck:
                outcome = f"{undone} change(s) undone; could NOT undo: {'; '.join(stuck)}"
            raise _failed(flip, exc, outcome) from exc
        for region, image in images.items():
            self._mark_published(bake, region, [image, *snapshots[region]])
        return {"images": images, "flips": sorted(record)}

    def cleanup(self, bake: Bake, discard: bool) -> None:
        return None

    def _undo(
        self, bake: Bake, planned: list[Flip], record: dict[str, Any]
    ) -> tuple[int, list[str]]:
        """Undo every flip begun, newest first; how many, and those that failed.
        Flips are made in order, so those begun are the ones done and the
        first not done (it may have been cut short)."""
        undone, stuck = 0, []
        done = [record.get(f.key, {}).get("done") is not None for f in planned]
        begun = done.index(False) + 1 if False in done else len(planned)
        for index, flip in reversed(list(enumerate(planned))):
            entry = record.get(flip.key, {})
            if "before" in entry and index < begun:
                try:
                    flip.undo(entry["before"], entry.get("done") or {})
                    undone += 1
                except ClientError as exc:
                    stuck.append(f"{flip.kind} in {flip.region} ({said(exc)})")
                    continue
            record.pop(flip.key, None)
            bake.journal.save()
        return undone, stuck

    def _deprecate(self, bake: Bake, images: dict[str, str]) -> None:
        after = bake.recipe.image.deprecate_after
        if after is None:
            return
        when = bake.journal.data.setdefault(
            "deprecate_at", (datetime.now(UTC) + after).strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        for region, image in images.items():
            bake.clouds.ec2(region).enable_image_deprecation(ImageId=image, DeprecateAt=when)

    def _snapshots(self, bake: Bake, region: str, image: str) -> list[str]:
        (found,) = bake.clouds.ec2(region).describe_images(ImageIds=[image])["Images"]
        return snapshots_of(found)

    def _mark_published(self, bake: Bake, region: str, resources: list[str]) -> None:
        labels = {
            tags.STATUS: "published",
            tags.INPUTS: bake.journal.data["inputs"],
            tags.VERSION: bake.recipe.version,
        }
        bake.clouds.ec2(region).create_tags(Resources=resources, Tags=tags.pairs(labels))
