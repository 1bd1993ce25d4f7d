"""`ami bake RECIPE`, `ami bake sweep`, `ami bake update RECIPE`: golden
images as code (amiable.tools.bake), on the data home, over
`--endpoint-url`, or on AWS with `--profile`.

Exit statuses: 0 published (or unchanged with --if-changed, or planned
with --dry-run), 1 a recipe or usage error, 2 a build step failed, 3 the
test gate failed, 4 distribution or publication failed, 130 interrupted;
after 4 and 130 the same command continues the build.
"""

import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import click

from amiable.tools.bake.baking import bake as run_bake
from amiable.tools.bake.baking import update_lock
from amiable.tools.bake.errors import INTERRUPTED, BakeFailed
from amiable.tools.bake.journal import folder
from amiable.tools.bake.pipeline import Options
from amiable.tools.bake.progress import Reporter
from amiable.tools.bake.recipe import Loaded, parse_overrides
from amiable.tools.bake.resources import Clouds
from amiable.tools.bake.sweep import sweep as run_sweep
from amiable.tools.journal import Busy
from amiable.tools.user_files import UserFileError, parse_duration

from .context import Settings, settings


class _RecipeFirst(click.Group):
    """`ami bake RECIPE ...` runs a bake; `ami bake sweep|update ...` the others."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        words = [a for a in args if not a.startswith("-")]
        if words and words[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_RecipeFirst)
def bake() -> None:
    """Golden images as code: give a recipe (ami bake web.yaml) to bake,
    test and publish its image in every region; see docs/bake.md."""


def _clouds(s: Settings) -> Clouds:
    return Clouds(lambda service, region: s.client(service, region))


def _stop(message: str, status: int, output: str = "") -> NoReturn:
    if output:
        click.echo(output.rstrip(), err=True)
    click.echo(f"error: {message}", err=True)
    sys.exit(status)


@contextmanager
def _bake_errors() -> Iterator[None]:
    """One line and the bake's exit status; SIGTERM is taken as Ctrl-C."""

    def terminated(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    except UserFileError as exc:
        _stop(str(exc), 1)
    except Busy as exc:
        _stop(str(exc), 1)
    except BakeFailed as exc:
        _stop(str(exc), exc.status, exc.output)
    except KeyboardInterrupt:
        _stop("interrupted; run the same command again to continue the build", INTERRUPTED)
    finally:
        signal.signal(signal.SIGTERM, previous)


@bake.command("run")
@click.argument("recipe", type=click.Path(path_type=Path))
@click.option("--var", "variables", multiple=True, metavar="KEY=VALUE", help="Set a variable.")
@click.option("--no-cache", is_flag=True, help="Run every step; use no cached image.")
@click.option("--locked", is_flag=True, help="Refuse if an input moved from the lock file.")
@click.option("--if-changed", is_flag=True, help="Bake only if an input changed since the last.")
@click.option("--dry-run", is_flag=True, help="Resolve, check and print the plan; create nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest (or plan) on stdout.")
@click.option("--manifest", type=click.Path(path_type=Path), help="Where to write the manifest.")
@settings
def run(
    s: Settings,
    recipe: Path,
    variables: tuple[str, ...],
    no_cache: bool,
    locked: bool,
    if_changed: bool,
    dry_run: bool,
    as_json: bool,
    manifest: Path | None,
) -> None:
    """Bake RECIPE: build, test, copy, verify and publish its image."""
    report = Reporter()
    with _bake_errors():
        loaded = Loaded(recipe, parse_overrides(variables))
        options = Options(
            build_region=s.region,
            cache=not no_cache,
            locked=locked,
            if_changed=if_changed,
            dry_run=dry_run,
            manifest=manifest,
        )
        outcome = run_bake(loaded, _clouds(s), options, report, s.target)
    _show(outcome.manifest, outcome.status, as_json)


def _show(shown: dict[str, Any], status: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(shown, indent=2, sort_keys=True))
        return
    if status == "planned":
        click.echo(json.dumps(shown, indent=2, sort_keys=True))
        return
    if status == "unchanged":
        click.echo(f"unchanged since build {shown['build_id']}; nothing to bake", err=True)
    for region, image in sorted(shown.get("images", {}).items()):
        click.echo(f"{region}\t{image}")


@bake.command("update")
@click.argument("recipe", type=click.Path(path_type=Path))
@click.option("--var", "variables", multiple=True, metavar="KEY=VALUE", help="Set a variable.")
@settings
def update(s: Settings, recipe: Path, variables: tuple[str, ...]) -> None:
    """Resolve RECIPE's inputs again and rewrite its lock file."""
    with _bake_errors():
        loaded = Loaded(recipe, parse_overrides(variables))
        found = update_lock(loaded, _clouds(s), Options(build_region=s.region))
    click.echo(f"locked base {found['image_id']} ({found['name']})", err=True)


def _duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> timedelta | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


@bake.command("sweep")
@click.option("--regions", help="Comma-separated regions, or all (the default).")
@click.option("--older-than", callback=_duration, help="Spare what is younger (e.g. 2h).")
@click.option("--cache-older-than", callback=_duration, help="Also remove older cache images.")
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
@settings
def sweep(
    s: Settings,
    regions: str | None,
    older_than: timedelta | None,
    cache_older_than: timedelta | None,
    as_json: bool,
) -> None:
    """Remove every leftover of dead builds (found by their tags)."""
    clouds = _clouds(s)
    if regions in (None, "all"):
        found = clouds.ec2(s.region).describe_regions()["Regions"]
        chosen = sorted(r["RegionName"] for r in found)
    else:
        chosen = [r.strip() for r in (regions or "").split(",") if r.strip()]
    with _bake_errors():
        removed = run_sweep(
            clouds,
            chosen,
            folder(),
            Reporter(),
            older_than or timedelta(0),
            cache_older_than,
        )
    if as_json:
        click.echo(json.dumps(removed, indent=2, sort_keys=True))
    else:
        counts = ", ".join(f"{len(removed[k])} {k}" for k in ("instances", "images", "snapshots"))
        click.echo(f"removed {counts} of {len(removed['builds'])} dead build(s)", err=True)
