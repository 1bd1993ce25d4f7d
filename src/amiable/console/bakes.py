"""The Bakes pages: the visitor's builds, newest first, read from the
journals `ami bake` keeps in the state directory of the server's user
(`bakes/<build id>.json`, tools/bake/journal.py), and a build's page: its
stages with their times, its test results, the images it published and its
error. A running build's page reloads itself.

Only journals naming the visitor's account and a target this server may
have baked for are shown (records.visible); anything else in the folder
(unreadable, not JSON, of another shape, a build id that is not its file's
name) is skipped. A build's page serves only the ids the folder lists."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from amiable.cloud.core.home import Cloud
from amiable.cloud.core.regions import REGION_NAMES
from amiable.tools.bake.journal import folder
from amiable.tools.bake.manifest import published_of, tests_of

from . import records
from .auth import Visitor, cloud_of, signed_in
from .image_detail import REFRESH_SECONDS
from .image_views import IMAGE_ID, NONE
from .records import Malformed
from .regions import region_of
from .render import page

FAILED = ("failed", "distribution-failed")


@dataclass(frozen=True)
class StageRow:
    name: str
    status: str
    started: str | None
    ended: str | None
    seconds: str


@dataclass(frozen=True)
class TestRow:
    name: str
    region: str
    passed: bool
    seconds: str
    output: str


@dataclass(frozen=True)
class Published:
    region: str
    image_id: str
    linked: bool  # a region and an image id the console can show


@dataclass(frozen=True)
class Build:
    build_id: str
    name: str
    status: str
    started: str
    ended: str | None
    duration: str
    regions: list[str]
    stages: list[StageRow]
    tests: list[TestRow]
    images: list[Published]
    error: str | None


def _seconds(started: str | None, ended: str | None) -> float | None:
    if started is None or ended is None:
        return None
    return (records.moment(ended) - records.moment(started)).total_seconds()


def _shown(seconds: float | None) -> str:
    """A duration in words: `42.1 s`, `3 min 5 s`, `1 h 2 min`."""
    if seconds is None:
        return NONE
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    return f"{minutes // 60} h {minutes % 60} min"


def _stage_status(finished: bool, status: str) -> str:
    """done, running, or how the build stopped while in the stage."""
    if finished:
        return "done"
    return "failed" if status in FAILED else status


def _stages(data: dict[str, Any], finished: dict[str, Any], status: str) -> list[StageRow]:
    """Every stage begun or finished, in the order they started."""
    times = records.mapping(data.get("times", {}))
    rows = []
    for name in {*finished, *times}:
        when = records.mapping(times.get(name, {}))
        started = records.optional_text(when, "started")
        ended = records.optional_text(when, "ended")
        state = _stage_status(name in finished, status)
        rows.append(StageRow(name, state, started, ended, _shown(_seconds(started, ended))))
    return sorted(rows, key=lambda row: (row.started is None, row.started or "", row.name))


def _tests(data: dict[str, Any]) -> list[TestRow]:
    rows = []
    for result in records.objects(tests_of(data)):
        seconds = result.get("seconds")
        rows.append(
            TestRow(
                name=records.text(result, "name"),
                region=records.text(result, "region"),
                passed=records.flag(result, "passed"),
                seconds=NONE if seconds is None else _shown(records.number(result, "seconds")),
                output=records.optional_text(result, "output") or "",
            )
        )
    return rows


def _published(data: dict[str, Any], regions: list[str]) -> list[Published]:
    """The images published, in the order of the build's regions (the build region first)."""
    shown = []
    for region, image in records.mapping(published_of(data)).items():
        if not isinstance(image, str):
            raise Malformed(f"{region}: not an image id")
        linked = region in REGION_NAMES and bool(IMAGE_ID.match(image))
        shown.append(Published(region, image, linked))
    order = {region: index for index, region in enumerate(regions)}
    return sorted(shown, key=lambda p: (order.get(p.region, len(order)), p.region))


def build_of(data: dict[str, Any], build_id: str) -> Build:
    """The build a journal describes (Malformed if it is of another shape)."""
    if records.text(data, "build_id") != build_id:
        raise Malformed(f"{build_id}: the journal names another build")
    finished = records.mapping(data.get("stages", {}))
    for found in finished.values():
        records.mapping(found)
    status, started = records.text(data, "status"), records.text(data, "started")
    ended = records.optional_text(data, "ended")
    records.moment(started)  # builds are ordered by it
    regions = records.strings(data.get("regions"))
    return Build(
        build_id=build_id,
        name=records.text(data, "name"),
        status=status,
        started=started,
        ended=ended,
        duration=_shown(_seconds(started, ended)),
        regions=regions,
        stages=_stages(data, finished, status),
        tests=_tests(data),
        images=_published(data, regions),
        error=records.optional_text(data, "error"),
    )


def _visible_build(cloud: Cloud, visitor: Visitor, build_id: str, path: Path) -> Build | None:
    try:
        data = records.read(path)
        return build_of(data, build_id) if records.visible(data, cloud, visitor) else None
    except Malformed:
        return None


def builds(cloud: Cloud, visitor: Visitor) -> list[Build]:
    """The visitor's builds, newest first."""
    found = [
        build
        for build_id, path in records.listed(folder()).items()
        if (build := _visible_build(cloud, visitor, build_id, path)) is not None
    ]
    return sorted(found, key=lambda b: records.moment(b.started), reverse=True)


def one_build(cloud: Cloud, visitor: Visitor, build_id: str) -> Build | None:
    """The visitor's build `build_id`, if the folder lists it."""
    path = records.listed(folder()).get(build_id)
    return None if path is None else _visible_build(cloud, visitor, build_id, path)


@signed_in
async def bakes_page(request: Request, visitor: Visitor) -> Response:
    region = region_of(request)
    found = await run_in_threadpool(builds, cloud_of(request), visitor)
    return page(
        request,
        "bakes.html",
        title="Bakes",
        visitor=visitor,
        region=region,
        builds=found,
        endpoint=str(request.base_url).rstrip("/"),
    )


@signed_in
async def build_page(request: Request, visitor: Visitor) -> Response:
    region, build_id = region_of(request), str(request.path_params["build_id"])
    build = await run_in_threadpool(one_build, cloud_of(request), visitor, build_id)
    if build is None:
        return page(
            request,
            "bake.html",
            404,
            title=build_id,
            visitor=visitor,
            region=region,
            build=None,
            build_id=build_id,
        )
    return page(
        request,
        "bake.html",
        title=f"Build {build_id}",
        visitor=visitor,
        region=region,
        build=build,
        build_id=build_id,
        refresh=REFRESH_SECONDS if build.status == "running" else None,
    )
