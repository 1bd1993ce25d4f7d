"""The audit in the test gate (a recipe's `audit:`): `ami audit`'s image
rules on the candidate and its content rules inside the test instance, after
the tests pass. A finding at or above `fail_on` fails the gate like a test
(exit status 3, nothing published). The report is written beside the
recipe, `<recipe>.audit.json`, whatever the verdict."""

import json
from dataclasses import dataclass

from amiable.store.fsutil import write_atomic
from amiable.tools.audit.auditing import audit_candidate
from amiable.tools.audit.findings import Severity, rank
from amiable.tools.audit.inspection import ContentOptions
from amiable.tools.audit.report import Report
from amiable.tools.audit.rules_file import Config
from amiable.tools.audit.vulnerabilities import Database, DatabaseError
from amiable.tools.remote import Remote
from amiable.tools.user_files import UserFileError

from . import manifest
from .errors import RecipeProblem
from .pipeline import Bake
from .recipe import Loaded, Recipe


@dataclass(frozen=True)
class AuditSettings:
    config: Config
    options: ContentOptions


def settings(loaded: Loaded, recipe: Recipe) -> AuditSettings | None:
    """The audit's rules and database, read before anything is built."""
    if recipe.audit is None:
        return None
    try:
        config = Config.load(recipe.audit.rules_path(loaded.folder))
        database = recipe.audit.database_path(loaded.folder)
        return AuditSettings(config, ContentOptions(Database(database) if database else None))
    except (UserFileError, DatabaseError) as exc:
        raise RecipeProblem(f"audit: {exc}") from exc


def audit(bake: Bake, region: str, image_id: str, remote: Remote) -> Report | None:
    """The candidate audited on its running test instance (None: no audit asked)."""
    chosen = settings(bake.loaded, bake.recipe)
    if chosen is None or bake.recipe.audit is None:
        return None
    report = audit_candidate(
        bake.clouds.client, region, image_id, chosen.config, remote, chosen.options
    )
    fail_on = bake.recipe.audit.fail_on
    text = json.dumps(report.as_json(fail_on), indent=2) + "\n"
    path = manifest.beside(bake.loaded, "audit.json")
    write_atomic(path, text.encode(), path.parent)
    bake.report.line(f"    audit: {report.summary_line(fail_on)}")
    return report


def failures(report: Report, fail_on: Severity) -> list[str]:
    """The findings that fail the gate, one line each."""
    return [
        f"{f.severity} {f.rule} {f.image_id}: {f.message}"
        for f in report.findings
        if rank(f.severity) >= rank(fail_on)
    ]
