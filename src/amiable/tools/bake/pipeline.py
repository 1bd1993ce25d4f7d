"""A bake as Packer's multistep: a list of stages, each with `run` and
`cleanup`, run in order; a stage the journal says is finished is not run
again (the journal also says when each stage started and ended). However
the bake ends, the cleanups run in reverse: instances are always
terminated; what the build staged (the candidate, the copies) is removed
too when the build failed for good (a step or the test gate), and kept
when it can be continued (interrupted, or distribution failed), so that
the same command picks it up."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from amiable.tools.journal import Journal

from . import inputs, tags
from .errors import BakeFailed, DistributionFailed
from .progress import Reporter
from .recipe import Loaded, Recipe
from .resources import Clouds, said, tagged_instances, terminate


@dataclass(frozen=True)
class Options:
    build_region: str
    cache: bool = True
    locked: bool = False
    if_changed: bool = False
    dry_run: bool = False
    manifest: Path | None = None


@dataclass
class Bake:
    """One build: its recipe (rendered), where it runs, and its journal."""

    loaded: Loaded
    recipe: Recipe
    clouds: Clouds
    journal: Journal
    options: Options
    report: Reporter
    resolved: dict[str, Any] = field(default_factory=dict)
    resumed: bool = False  # an earlier run of this build may have left instances

    @property
    def build_id(self) -> str:
        return self.journal.build_id

    @property
    def regions(self) -> list[str]:
        return self.recipe.regions(self.options.build_region)

    @property
    def build_region(self) -> str:
        return self.regions[0]

    @property
    def image_name(self) -> str:
        return self.recipe.image.name

    def content_key(self) -> str:
        base = self.resolved["base"]["image_id"]
        return inputs.content_key(self.loaded, self.recipe, base, self.build_region)

    def tests_key(self, region: str) -> str:
        return inputs.tests_key(self.loaded, self.recipe, region)

    def labels(self, role: str, /, **more: str) -> dict[str, str]:
        """The tags of a resource this build makes."""
        return {
            tags.BUILD: self.build_id,
            tags.RECIPE: self.recipe.name,
            tags.ROLE: role,
            **more,
        }

    def attempt(self, what: str) -> int:
        """A new attempt at `what` (a ClientToken must be new for each)."""
        with self.journal.writing:
            attempts = self.journal.data.setdefault("attempts", {})
            attempts[what] = attempts.get(what, 0) + 1
            self.journal.save()
            return int(attempts[what])

    def token(self, what: str) -> str:
        return f"{self.build_id}-{what}-{self.attempt(what)}"[:64]

    def terminate_all(self, role: str, wait: bool = True) -> None:
        """Terminate the build's instances of `role`, and with `wait` see them
        gone. A stage done with its instance does not wait: the bake goes on
        while it shuts down, and the stage's cleanup, at the end, waits."""
        journaled: dict[str, list[str]] = {}
        for entry in self.journal.resources("instance", role):
            journaled.setdefault(entry["region"], []).append(entry["id"])
        for region, instance_ids in journaled.items():
            terminate(self.clouds.ec2(region), instance_ids, wait)
            if wait:
                for instance_id in instance_ids:
                    self.journal.gone(instance_id)
        if not self.resumed:
            return
        for region in self.regions:  # made by a run killed before it could journal them
            ec2 = self.clouds.ec2(region)
            terminate(ec2, tagged_instances(ec2, self.labels(role)), wait)


class Stage(Protocol):
    name: str
    title: str

    def run(self, bake: Bake) -> dict[str, Any]: ...

    def cleanup(self, bake: Bake, discard: bool) -> None: ...


def run_stages(bake: Bake, stages: list[Stage]) -> None:
    entered: list[Stage] = []
    try:
        for stage in stages:
            entered.append(stage)
            if bake.journal.finished(stage.name) is not None:
                continue
            bake.journal.begin(stage.name)
            with bake.report.stage(stage.title):
                found = stage.run(bake)
            bake.journal.finish(stage.name, **found)
    except DistributionFailed as failed:
        _cleanup(bake, entered, discard=False, ending=failed)
        bake.journal.end("distribution-failed", error=str(failed))
        raise
    except BakeFailed as failed:
        _cleanup(bake, entered, discard=True, ending=failed)
        bake.journal.end("failed", error=str(failed))
        raise
    except BaseException as stopped:  # Ctrl-C, SIGTERM, or a bug: continue it later
        bake.journal.end("interrupted")
        _cleanup(bake, entered, discard=False, ending=stopped)
        raise
    _cleanup(bake, entered, discard=False)


def _cleanup(
    bake: Bake, entered: list[Stage], discard: bool, ending: BaseException | None = None
) -> None:
    """Every entered stage's cleanup, last first; one that fails does not keep
    the others from running. When the bake is `ending` with an error of its
    own (a failure, Ctrl-C), a cleanup's error is reported and the bake's
    stands: a cleanup must not turn an interrupted bake into a failed one.
    After a bake that went well, the first cleanup error is the bake's."""
    errors: list[tuple[Stage, Exception]] = []
    for stage in reversed(entered):
        try:
            stage.cleanup(bake, discard)
        except Exception as exc:
            errors.append((stage, exc))
    raised = errors.pop(0)[1] if errors and ending is None else None
    for stage, error in errors:
        bake.report.line(f"warning: cleaning up after {stage.title} failed: {said(error)}")
    if raised is not None:
        raise raised
