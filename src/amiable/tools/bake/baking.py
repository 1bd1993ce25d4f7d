"""`bake`: one recipe from the base image to tested images published in
every region, or the continuation of the same build if an earlier run of
the same command stopped before the end.

A new build resolves its inputs first (the base image, the time stamp in
its names), checks names and regions, and honours `--locked`,
`--if-changed` and `--dry-run` before it creates anything; then the stages
run (pipeline), and the manifest, the SBOM and the lock file are written
beside the recipe.
"""

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from amiable.tools import files, sbom
from amiable.tools.journal import Journal

from . import audit_gate, base, inputs, manifest, preflight, tags
from .building import BuildStage
from .distribution import CopyStage
from .errors import RecipeProblem
from .gate import TestGate, VerifyCopies
from .journal import RESUMABLE, folder
from .pipeline import Bake, Options, Stage, run_stages
from .progress import Reporter
from .publication import PublishStage, images_of
from .recipe import Loaded, Recipe
from .resources import Clouds, snapshots_of, tagged_images
from .sweep import sweep_build


@dataclass
class Outcome:
    status: str  # published | unchanged | planned, or how it failed
    manifest: dict[str, Any]


def identity_of(loaded: Loaded, target: str) -> str:
    return hashlib.sha256(f"{loaded.path}\0{target}".encode()).hexdigest()[:32]


def bake(
    loaded: Loaded,
    clouds: Clouds,
    options: Options,
    report: Reporter,
    target: str,
    state: Path | None = None,
) -> Outcome:
    started = time.monotonic()
    journals = folder(state)
    written = loaded.rendered({})
    fingerprint = inputs.fingerprint(loaded, written)
    identity = identity_of(loaded, target)
    journal = _continued(journals, identity, fingerprint, clouds, report)
    if journal is None:
        resolved = _resolve(loaded, clouds, options)
        recipe = loaded.rendered(resolved["values"])
        preflight.check(clouds, recipe, options)
        audit_gate.settings(loaded, recipe)  # its files' mistakes before anything is built
        digest = inputs.inputs_digest(fingerprint, resolved["base"]["image_id"])
        _check_lock(loaded, written, resolved, options)
        if options.if_changed:
            unchanged = _published_from(clouds, recipe, options, digest)
            if unchanged is not None:
                return unchanged
        if options.dry_run:
            return _plan(loaded, recipe, clouds, options, resolved)
        regions = recipe.regions(options.build_region)
        journal = Journal.create(
            journals,
            resolved["values"]["build_id"],
            name=recipe.name,
            account=clouds.account(regions[0]),
            identity=identity,
            fingerprint=fingerprint,
            inputs=digest,
            resolved=resolved,
            recipe=str(loaded.path),
            target=target,
            regions=regions,
        )
        if not options.locked:
            _write_lock(loaded, written, resolved)
        resumed = False
    else:
        resumed = True
        recipe = loaded.rendered(journal.data["resolved"]["values"])
        report.line(f"==> continuing build {journal.build_id}")
        journal.end("running")
    context = Bake(
        loaded,
        recipe,
        clouds,
        journal,
        Options(**{**options.__dict__, "build_region": journal.data["regions"][0]}),
        report,
        journal.data["resolved"],
        resumed,
    )
    report.line(f"==> bake {recipe.name} {recipe.version}: build {journal.build_id}")
    stages: list[Stage] = [
        BuildStage(),
        TestGate(),
        CopyStage(),
        VerifyCopies(),
        PublishStage(),
        FinishStage(),
    ]
    try:
        run_stages(context, stages)
        journal.end("published")
        return Outcome(
            "published", _write_manifest(context, "published", time.monotonic() - started)
        )
    except BaseException:
        _write_manifest(context, journal.status, time.monotonic() - started)
        raise
    finally:
        journal.release()


def _continued(
    journals: Path, identity: str, fingerprint: str, clouds: Clouds, report: Reporter
) -> Journal | None:
    """The build an earlier run of this command left unfinished, if it can
    be continued; one whose recipe changed since is swept and forgotten."""
    journal = Journal.resumable(journals, identity, RESUMABLE)
    if journal is None:
        return None
    journal.hold()
    if journal.data.get("fingerprint") == fingerprint:
        return journal
    report.line(
        f"==> the recipe changed since build {journal.build_id} stopped: "
        "removing what it left, and starting a new build"
    )
    sweep_build(clouds, journal.data.get("regions", []), journal.build_id, report)
    journal.end("abandoned")
    journal.release()
    return None


def _resolve(loaded: Loaded, clouds: Clouds, options: Options) -> dict[str, Any]:
    written = loaded.rendered({})
    region = written.regions(options.build_region)[0]
    found = base.resolve(clouds.ec2(region), clouds.ssm(region), written.base)
    now = datetime.now(UTC)
    stamp = now.strftime("%Y%m%d%H%M%S")
    build_id = f"{written.name}-{stamp}-{secrets.token_hex(3)}"
    return {
        "base": found,
        "values": {
            "timestamp": stamp,
            "build_id": build_id,
            "base_image": found["image_id"],
            "base_name": found["name"],
            "build_region": region,
        },
    }


def _check_lock(
    loaded: Loaded, written: Recipe, resolved: dict[str, Any], options: Options
) -> None:
    if not options.locked:
        return
    path = manifest.beside(loaded, "lock.json")
    try:
        pinned = manifest.read_lock(path)
    except ValueError as exc:
        raise RecipeProblem(str(exc)) from exc
    if pinned is None:
        raise RecipeProblem(f"--locked: there is no lock file {path}; run ami bake update first")
    now = resolved["base"]["image_id"]
    if pinned.get("base", {}).get("image_id") != now:
        raise RecipeProblem(
            f"--locked: the base now resolves to {now} ({resolved['base']['name']}), the lock "
            f"pins {pinned.get('base', {}).get('image_id')}; run ami bake update to move it"
        )
    if pinned.get("recipe_sha256") != inputs.text_digest(loaded.path):
        raise RecipeProblem("--locked: the recipe changed since the lock; run ami bake update")
    if pinned.get("files") != inputs.files(loaded, written):
        raise RecipeProblem("--locked: a copied file changed since the lock; run ami bake update")
    if pinned.get("vars") != loaded.variables:
        raise RecipeProblem("--locked: the variables differ from the lock; run ami bake update")


def _write_lock(loaded: Loaded, written: Recipe, resolved: dict[str, Any]) -> None:
    files.write_json(
        manifest.beside(loaded, "lock.json"),
        manifest.lock(
            loaded, resolved, inputs.files(loaded, written), inputs.text_digest(loaded.path)
        ),
    )


def update_lock(loaded: Loaded, clouds: Clouds, options: Options) -> dict[str, Any]:
    """`ami bake update`: resolve again and rewrite the lock file."""
    resolved = _resolve(loaded, clouds, options)
    _write_lock(loaded, loaded.rendered({}), resolved)
    return dict(resolved["base"])


def _published_from(
    clouds: Clouds, recipe: Recipe, options: Options, digest: str
) -> Outcome | None:
    """`--if-changed`: the published images made from exactly these inputs."""
    images = {}
    for region in recipe.regions(options.build_region):
        found = tagged_images(clouds.ec2(region), {tags.INPUTS: digest, tags.STATUS: "published"})
        if not found:
            return None
        images[region] = max(found, key=lambda i: i.get("CreationDate", ""))["ImageId"]
    built = tagged_images(
        clouds.ec2(recipe.regions(options.build_region)[0]), {tags.INPUTS: digest}
    )
    build_id = tags.of(built[0]).get(tags.BUILD, "") if built else ""
    return Outcome(
        "unchanged",
        {"status": "unchanged", "name": recipe.name, "build_id": build_id, "images": images},
    )


def _plan(
    loaded: Loaded, recipe: Recipe, clouds: Clouds, options: Options, resolved: dict[str, Any]
) -> Outcome:
    base_image = resolved["base"]["image_id"]
    problems = preflight.permitted(clouds, recipe, options, base_image)
    if problems:
        raise RecipeProblem("--dry-run: not permitted: " + "; ".join(problems))
    regions = recipe.regions(options.build_region)
    spread = recipe.distribute
    plan = {
        "status": "planned",
        "name": recipe.name,
        "version": recipe.version,
        "base_image": resolved["base"],
        "image_name": recipe.image.name,
        "build_region": regions[0],
        "regions": regions,
        "steps": [s.title(i) for i, s in enumerate(recipe.build.steps)],
        "prepare": recipe.prepare_items() is not None,
        "tests": [t.name for t in recipe.tests],
        "files": inputs.files(loaded, recipe),
        "shared_with": spread.accounts if spread else [],
        "parameter": spread.parameter if spread else None,
        "launch_templates": spread.launch_templates if spread else [],
        "cache": options.cache,
    }
    return Outcome("planned", plan)


class FinishStage:
    """The SBOM beside the manifest, its digest and the snapshots recorded."""

    name = "finish"
    title = "write the SBOM and the manifest"

    def run(self, bake: Bake) -> dict[str, Any]:
        listing = bake.journal.data["stages"]["test"].get("packages", "")
        document = sbom.document(bake.recipe.image.name, bake.recipe.version, listing)
        data, digest = sbom.encoded(document)
        files.write_atomically(manifest.beside(bake.loaded, "sbom.json"), data)
        snapshots = {}
        for region, image in images_of(bake).items():
            ec2 = bake.clouds.ec2(region)
            (found,) = ec2.describe_images(ImageIds=[image])["Images"]
            snapshots[region] = snapshots_of(found)
            ec2.create_tags(Resources=[image], Tags=tags.pairs({tags.SBOM: digest}))
        bake.journal.data["snapshots"] = snapshots
        bake.journal.data["sbom"] = {
            "path": str(manifest.beside(bake.loaded, "sbom.json")),
            "sha256": digest,
            "components": len(document["components"]),
        }
        return {}

    def cleanup(self, bake: Bake, discard: bool) -> None:
        return None


def _write_manifest(bake: Bake, status: str, seconds: float) -> dict[str, Any]:
    shown = manifest.manifest(bake.journal, bake.recipe, status, seconds)
    path = bake.options.manifest or manifest.beside(bake.loaded, "manifest.json")
    files.write_json(path, shown)
    return shown
