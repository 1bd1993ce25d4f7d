"""`ami audit`: images, and the settings of their regions, checked against
rules (amiable.tools.audit; see docs/audit.md), on the data home, over
`--endpoint-url`, or on AWS with `--profile`.

Exit statuses: 0 no finding at or above `--fail-on`, 1 some, 2 the audit
could not be made (a usage error, a bad rules file, an image not found, an
API error), 130 interrupted.

After each audit its record is kept in the state directory for the
console's Audit page (tools/audit/record.py); a record that cannot be
written is one warning line and changes nothing else.
"""

import io
import json
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console

from amiable import __version__
from amiable.store.fsutil import write_atomic
from amiable.tools.audit import record
from amiable.tools.audit.auditing import NotFound, Plan
from amiable.tools.audit.auditing import audit as run_audit
from amiable.tools.audit.facts import Selection
from amiable.tools.audit.findings import SEVERITIES, Severity
from amiable.tools.audit.inspection import ContentOptions
from amiable.tools.audit.junit import junit
from amiable.tools.audit.report import Report
from amiable.tools.audit.rules_file import Config
from amiable.tools.audit.sarif import sarif
from amiable.tools.audit.table import show
from amiable.tools.audit.vulnerabilities import Database, DatabaseError
from amiable.tools.user_files import UserFileError

from . import errors
from .context import Settings, settings

FORMATS = ("table", "json", "sarif", "junit")
UNUSABLE = 2  # the audit could not be made; 1 is for findings
TABLE_WIDTH = 200  # when the table is not on a terminal: rows kept whole


@click.command()
@click.option(
    "--regions",
    multiple=True,
    help="Regions to audit: comma-separated or repeated, or all (default: --region).",
)
@click.option(
    "--owners",
    multiple=True,
    help="Whose images: self, an account id, amazon... (default self, or any with --image-ids).",
)
@click.option("--image-ids", multiple=True, help="Audit these images, whoever owns them.")
@click.option(
    "--rules",
    "rules_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A rules file: rules turned off, their parameters and severities, custom rules.",
)
@click.option("--content", is_flag=True, help="Also run the content rules, inside each image.")
@click.option(
    "--format", "output_format", type=click.Choice(FORMATS), default="table", show_default=True
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the report to this file (whole or not at all) instead of stdout.",
)
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITIES),
    default="high",
    show_default=True,
    help="Exit 1 if a finding is at least this severe.",
)
@click.option(
    "--vuln-db",
    type=click.Path(path_type=Path, exists=True),
    help="The vulnerability database of vulnerable-package (with --content).",
)
@click.option(
    "--sbom-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write each image's CycloneDX SBOM here (with --content).",
)
@settings
def audit(
    s: Settings,
    regions: tuple[str, ...],
    owners: tuple[str, ...],
    image_ids: tuple[str, ...],
    rules_file: Path | None,
    content: bool,
    output_format: str,
    output: Path | None,
    fail_on: Severity,
    vuln_db: Path | None,
    sbom_dir: Path | None,
) -> None:
    """Audit images and their regions: public or shared images, snapshots,
    encryption, age, deprecation, tags, IMDSv2, block public access,
    Allowed AMIs, ancestry, and (--content) what the images hold."""
    if (vuln_db or sbom_dir) and not content:
        raise click.UsageError("--vuln-db and --sbom-dir are for content audits: add --content")
    with _failures():
        config = Config.load(rules_file)  # its mistakes before any API call
        plan = Plan(
            regions=_regions(s, _listed(regions)),
            selection=_selection(_listed(owners), _listed(image_ids)),
            config=config,
            content=content,
            inspection=ContentOptions(Database(vuln_db) if vuln_db else None, sbom_dir),
        )
        report = run_audit(s.client, plan)
        _emit(report, output_format, output, fail_on)
    _keep(report, fail_on, s, plan.regions)
    sys.exit(1 if report.failed(fail_on) else 0)


def _listed(values: tuple[str, ...]) -> list[str]:
    """Repeated options, each possibly comma-separated, as one list."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _regions(s: Settings, asked: list[str]) -> list[str]:
    if not asked:
        return [s.region]
    known = sorted(r["RegionName"] for r in s.client("ec2").describe_regions()["Regions"])
    if "all" in asked:
        return known
    unknown = [region for region in asked if region not in known]
    if unknown:
        raise click.UsageError(f"--regions {', '.join(unknown)}: not a region of this cloud")
    return list(dict.fromkeys(asked))


def _selection(owners: list[str], image_ids: list[str]) -> Selection:
    if image_ids:
        return Selection(owners=owners or None, image_ids=list(dict.fromkeys(image_ids)))
    return Selection(owners=owners or ["self"])


def _emit(report: Report, output_format: str, output: Path | None, fail_on: Severity) -> None:
    """The report on stdout or in `output`; the one-line verdict on stderr
    unless the table on stdout already ends with it."""
    if output_format == "table" and output is None:
        console = Console()
        show(report, fail_on, console if console.is_terminal else Console(width=TABLE_WIDTH))
        return
    text = _rendered(report, output_format, fail_on)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_atomic(output, text.encode(), output.parent)
    click.echo(report.summary_line(fail_on), err=True)


def _keep(report: Report, fail_on: Severity, s: Settings, regions: list[str]) -> None:
    """The audit's record for the console; if it cannot be written (a full
    disk...), one warning line, and the audit's output and status stay."""
    try:
        record.keep(report, fail_on, s.target, regions)
    except (OSError, ValueError) as exc:
        click.echo(f"warning: the audit's record was not kept: {errors.one_line(exc)}", err=True)


def _rendered(report: Report, output_format: str, fail_on: Severity) -> str:
    if output_format == "json":
        return json.dumps(report.as_json(fail_on), indent=2) + "\n"
    if output_format == "sarif":
        return json.dumps(sarif(report, __version__), indent=2) + "\n"
    if output_format == "junit":
        return junit(report)
    buffer = io.StringIO()
    show(report, fail_on, Console(file=buffer, width=TABLE_WIDTH, color_system=None))
    return buffer.getvalue()


def _stop(message: str) -> NoReturn:
    click.echo(f"error: {errors.flatten(message)}", err=True)
    sys.exit(UNUSABLE)


@contextmanager
def _failures() -> Iterator[None]:
    """Whatever stops the audit is one line and exit status 2 (1 means findings)."""
    try:
        yield
    except click.UsageError:
        raise  # one line, its hint and status 2 from ami's main
    except click.ClickException as exc:
        _stop(exc.format_message())
    except (UserFileError, NotFound, DatabaseError) as exc:
        _stop(str(exc))
    except Exception as exc:
        if errors.debugging():
            traceback.print_exc()
        _stop(errors.one_line(exc))
