"""The bake's cleanups (tools/bake/pipeline.py): all of them run, last stage
first, even when one fails; a cleanup's error never takes the place of the
bake's own (Ctrl-C stays Ctrl-C, a failed step stays that step); after a bake
that went well, a cleanup's error is the bake's."""

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from amiable.tools.bake.errors import StepFailed
from amiable.tools.bake.pipeline import Bake, Options, run_stages
from amiable.tools.bake.progress import Reporter
from amiable.tools.bake.recipe import Loaded
from amiable.tools.bake.resources import Clouds
from amiable.tools.journal import Journal

RECIPE = """\
name: web
base: {owners: [amazon], name: "base-*"}
build:
  steps: [{run: "true"}]
image: {name: web}
"""


class Stage:
    def __init__(self, name: str, done: list[str], fails: BaseException | None = None) -> None:
        self.name, self.title = name, f"the {name} stage"
        self.done, self.fails = done, fails
        self.cleanup_fails = False

    def run(self, bake: Bake) -> dict[str, Any]:
        if self.fails is not None:
            raise self.fails
        return {}

    def cleanup(self, bake: Bake, discard: bool) -> None:
        self.done.append(self.name)
        if self.cleanup_fails:
            raise RuntimeError(f"{self.name} could not clean up")


@pytest.fixture
def baking(tmp_path: Path) -> Iterator[tuple[Bake, io.StringIO]]:
    """A bake of a small recipe with a real journal, and what it reports."""
    path = tmp_path / "web.yaml"
    path.write_text(RECIPE)
    loaded = Loaded(path, {})
    said = io.StringIO()
    journal = Journal.create(tmp_path / "bakes", "b-1")
    bake = Bake(
        loaded=loaded,
        recipe=loaded.rendered({"timestamp": "20261208"}),
        clouds=Clouds(lambda service, region: None),
        journal=journal,
        options=Options(build_region="us-east-1"),
        report=Reporter(stream=said),
    )
    yield bake, said
    journal.release()


@pytest.mark.parametrize("stopped", [KeyboardInterrupt(), StepFailed("step 1 failed")])
def test_a_failing_cleanup_neither_stops_the_others_nor_hides_the_bakes_end(
    baking: tuple[Bake, io.StringIO], stopped: BaseException
) -> None:
    bake, said = baking
    done: list[str] = []
    first, second, third = Stage("build", done), Stage("test", done), Stage("copy", done, stopped)
    second.cleanup_fails = True
    with pytest.raises(type(stopped)):
        run_stages(bake, [first, second, third])
    assert done == ["copy", "test", "build"]
    assert "warning: cleaning up after the test stage failed: test could not clean up" in (
        said.getvalue()
    )


def test_after_a_bake_that_went_well_a_cleanup_error_is_the_bakes(
    baking: tuple[Bake, io.StringIO],
) -> None:
    bake, said = baking
    done: list[str] = []
    first, second = Stage("build", done), Stage("test", done)
    first.cleanup_fails = second.cleanup_fails = True
    with pytest.raises(RuntimeError, match="test could not clean up"):
        run_stages(bake, [first, second])
    assert done == ["test", "build"]
    assert "warning: cleaning up after the build stage failed" in said.getvalue()
