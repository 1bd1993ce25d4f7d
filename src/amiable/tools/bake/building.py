"""The build stage: from the base image (or the deepest cached step) to the
candidate image — launch a build instance, run the remaining steps
(imaging the instance after each one as the step cache), prepare it, stop
it, and create the candidate: private, tagged `staged`, encrypted by a
copy in the build region when the recipe asks.

A build interrupted anywhere in this stage starts it again, on a fresh
instance; the cache makes that start from the last step that finished.
"""

from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from amiable.tools.remote import Remote, RemoteError
from amiable.tools.waiting import WorkFailed, wait_for_instances

from . import cache, inputs, prepare, tags
from .errors import StepFailed
from .pipeline import Bake
from .recipe import Step
from .resources import launch, remove_image, said, tagged_images, wait_image

ROLE_INSTANCE = "build-instance"
ROLE_CANDIDATE = "candidate"
ROLE_UNENCRYPTED = "unencrypted"  # the image an encrypted candidate is copied from


class BuildStage:
    name = "build"
    title = "build the candidate image"

    def run(self, bake: Bake) -> dict[str, Any]:
        ec2 = bake.clouds.ec2(bake.build_region)
        existing = self._existing_candidate(bake, ec2)
        if existing is not None:
            return {**bake.journal.data.get("build", {}), "candidate": existing}
        if bake.options.cache:
            reused = self._same_content(bake, ec2)
            if reused is not None:
                return reused
        bake.terminate_all(ROLE_INSTANCE)
        start, done, counts = self._start(bake)
        instance = self._launch(bake, ec2, start)
        remote = Remote(bake.clouds.ssm(bake.build_region), instance)
        try:
            remote.wait_online()
            keys = inputs.step_keys(bake.loaded, bake.recipe, bake.resolved["base"]["image_id"])
            for index in range(done, len(bake.recipe.build.steps)):
                self._step(bake, remote, ec2, index)
                if bake.options.cache:
                    cache.capture(bake, ec2, instance, keys[index])
            self._prepare(bake, remote)
        except RemoteError as exc:
            raise StepFailed(str(exc)) from exc
        with bake.report.stage("stop the build instance"):
            ec2.stop_instances(InstanceIds=[instance])
            wait_for_instances(ec2, [instance], "stopped")
        candidate = self._image(bake, ec2, instance)
        bake.terminate_all(ROLE_INSTANCE, wait=False)  # done with it: a kill -9 leaves none
        return {"candidate": candidate, "cache": counts}  # built here: nothing to trust

    def cleanup(self, bake: Bake, discard: bool) -> None:
        bake.terminate_all(ROLE_INSTANCE)
        doomed = bake.journal.resources("image", ROLE_UNENCRYPTED)
        if discard:
            doomed += bake.journal.resources("image", ROLE_CANDIDATE)
        for entry in doomed:
            remove_image(bake.clouds.ec2(entry["region"]), entry["id"])
            bake.journal.gone(entry["id"])

    def _same_content(self, bake: Bake, ec2: Any) -> dict[str, Any] | None:
        """A copy, under this build's name, of an image with the same content
        (an earlier build's candidate or published image), if there is one."""
        found = [
            image
            for image in tagged_images(
                ec2,
                {tags.CONTENT: bake.content_key()},
                Filters=[{"Name": "state", "Values": ["available"]}],
            )
            if tags.of(image).get(tags.BUILD) != bake.build_id
        ]
        if not found:
            return None
        source = max(found, key=lambda i: (i.get("CreationDate", ""), i["ImageId"]))
        steps = len(bake.recipe.build.steps)
        found_earlier = {
            "cache": {"hits": steps, "misses": 0},
            "same_as": source["ImageId"],
            "tested": tags.of(source).get(tags.TESTED),
            "sbom": tags.of(source).get(tags.SBOM),
        }
        bake.journal.data["build"] = found_earlier
        bake.journal.data["cache"] = found_earlier["cache"]
        with bake.report.stage(f"copy {source['ImageId']}: the same content, built before"):
            try:
                made = ec2.copy_image(
                    SourceImageId=source["ImageId"],
                    SourceRegion=bake.build_region,
                    Name=bake.image_name,
                    Description=bake.recipe.image.description,
                    ClientToken=bake.token("same-content"),
                    TagSpecifications=tags.specifications(self._labels(bake), "image", "snapshot"),
                )["ImageId"]
            except ClientError as exc:
                raise StepFailed(f"copying {source['ImageId']}: {said(exc)}") from exc
            bake.journal.made("image", bake.build_region, made, ROLE_CANDIDATE)
            _wait(ec2, made)
        return {**found_earlier, "candidate": str(made)}

    def _labels(self, bake: Bake) -> dict[str, str]:
        return bake.labels(
            ROLE_CANDIDATE,
            **{tags.STATUS: "staged", tags.CONTENT: bake.content_key()},
            **bake.recipe.image.tags,
        )

    def _existing_candidate(self, bake: Bake, ec2: Any) -> str | None:
        """A candidate an earlier run of this build made before it stopped."""
        for image in tagged_images(ec2, bake.labels(ROLE_CANDIDATE)):
            if image["State"] in ("available", "pending"):
                bake.journal.made("image", bake.build_region, image["ImageId"], ROLE_CANDIDATE)
                wait_image(ec2, image["ImageId"])
                return str(image["ImageId"])
            remove_image(ec2, image["ImageId"])
        return None

    def _start(self, bake: Bake) -> tuple[str, int, dict[str, int]]:
        """The image to launch and how many steps it has done already."""
        base = bake.resolved["base"]["image_id"]
        steps = len(bake.recipe.build.steps)
        if not bake.options.cache or not steps:
            counts = {"hits": 0, "misses": steps}
            bake.journal.data["cache"] = counts
            return base, 0, counts
        keys = inputs.step_keys(bake.loaded, bake.recipe, base)
        image, done = cache.deepest(bake.clouds.ec2(bake.build_region), keys)
        counts = {"hits": done, "misses": steps - done}
        bake.journal.data["cache"] = counts
        if done:
            bake.report.line(f"    cache: steps 1-{done} of {steps} from {image}")
        return image or base, done, counts

    def _launch(self, bake: Bake, ec2: Any, image: str) -> str:
        with bake.report.stage(f"launch the build instance from {image}"):
            user_data = bake.recipe.build.user_data
            extra = {"UserData": user_data} if user_data else {}
            instance = launch(
                ec2,
                image,
                bake.recipe.build.instance_type,
                bake.labels(ROLE_INSTANCE, Name=f"bake {bake.recipe.name} {bake.build_id}"),
                bake.token("build"),
                **extra,
            )
            bake.journal.made("instance", bake.build_region, instance, ROLE_INSTANCE)
            wait_for_instances(ec2, [instance], "running")
        return instance

    def _step(self, bake: Bake, remote: Remote, ec2: Any, index: int) -> None:
        step = bake.recipe.build.steps[index]
        total = len(bake.recipe.build.steps)
        with bake.report.stage(f"step {index + 1}/{total}: {step.title(index)}"):
            if step.reboot:
                remote.reboot(ec2)
                return
            if step.copy_files is not None:
                source = inputs.source_of(bake.loaded, step)
                assert source is not None
                remote.put(source, step.copy_files.dest, step.copy_files.src.endswith("/"))
                return
            outcome = remote.run(_script(bake, step), step.timeout, bake.report.output)
            if not outcome.ok:
                ended = _ended(outcome.status, outcome.exit_code)
                raise StepFailed(
                    f"step {index + 1} ({step.title(index)}) failed: {ended}", outcome.tail()
                )

    def _prepare(self, bake: Bake, remote: Remote) -> None:
        items = bake.recipe.prepare_items()
        if items is None:
            return
        with bake.report.stage("prepare the image (clean-up)"):
            outcome = remote.run(prepare.script(items), PREPARE_TIMEOUT, bake.report.output)
            if not outcome.ok:
                raise StepFailed(
                    f"prepare failed: {_ended(outcome.status, outcome.exit_code)}", outcome.tail()
                )

    def _image(self, bake: Bake, ec2: Any, instance: str) -> str:
        image = bake.recipe.image
        labels = self._labels(bake)
        with bake.report.stage(f"create the candidate image {bake.image_name}"):
            if not image.encrypted:
                made = _create_image(ec2, instance, bake.image_name, image.description, labels)
                bake.journal.made("image", bake.build_region, made, ROLE_CANDIDATE)
                _wait(ec2, made)
                return made
            # encrypted as Packer does it: an image of the instance, copied encrypted
            plain = _create_image(
                ec2,
                instance,
                f"bake-unencrypted-{bake.build_id}",
                image.description,
                bake.labels(ROLE_UNENCRYPTED, **{tags.STATUS: "staged"}),
            )
            bake.journal.made("image", bake.build_region, plain, ROLE_UNENCRYPTED)
            _wait(ec2, plain)
            try:
                encrypted = ec2.copy_image(
                    SourceImageId=plain,
                    SourceRegion=bake.build_region,
                    Name=bake.image_name,
                    Description=image.description,
                    Encrypted=True,
                    ClientToken=bake.token("encrypt"),
                    TagSpecifications=tags.specifications(labels, "image", "snapshot"),
                    **_key(image.kms_key_in(bake.build_region)),
                )["ImageId"]
            except ClientError as exc:
                raise StepFailed(f"encrypting the candidate: {said(exc)}") from exc
            bake.journal.made("image", bake.build_region, encrypted, ROLE_CANDIDATE)
            _wait(ec2, encrypted)
            remove_image(ec2, plain)
            bake.journal.gone(plain)
            return str(encrypted)


PREPARE_TIMEOUT = timedelta(minutes=10)


def _key(key_id: str | None) -> dict[str, str]:
    return {"KmsKeyId": key_id} if key_id else {}


def _script(bake: Bake, step: Step) -> str:
    if step.script is not None:
        source = inputs.source_of(bake.loaded, step)
        assert source is not None
        return source.read_text()
    run = step.run
    return run if isinstance(run, str) else "\n".join(["set -e", *(run or [])])


def _ended(status: str, code: int) -> str:
    return f"exit status {code}" if status == "Failed" else status.lower()


def _create_image(
    ec2: Any, instance: str, name: str, description: str, labels: dict[str, str]
) -> str:
    """CreateImage, tagged at birth (the image and its snapshots)."""
    try:
        made = ec2.create_image(
            InstanceId=instance,
            Name=name,
            Description=description,
            TagSpecifications=tags.specifications(labels, "image", "snapshot"),
        )
    except ClientError as exc:
        raise StepFailed(f"CreateImage {name}: {said(exc)}") from exc
    return str(made["ImageId"])


def _wait(ec2: Any, image_id: str) -> None:
    try:
        wait_image(ec2, image_id)
    except WorkFailed as exc:
        raise StepFailed(str(exc)) from exc
