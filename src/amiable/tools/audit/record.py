"""The last report of `ami audit`, kept in the user's state directory for
the console's Audit page: one record per account and target (the cloud
audited, as journals name it), `audits/<account>/<target digest>.json`,
written whole (tools/files.py) after every audit:

    {"account", "target", "finished" (UTC, ISO 8601), "regions",
     "report": the JSON report (report.py)}
"""

import hashlib
import re
from pathlib import Path
from typing import Any

from amiable.tools.files import write_json
from amiable.tools.journal import stamp, state_home

from .findings import Severity
from .report import Report

ACCOUNT = re.compile(r"\d{12}")  # an account id, a folder's name


def folder(account: str, state: Path | None = None) -> Path:
    """Where the records of `account`'s audits are."""
    return (state or state_home()) / "audits" / account


def path_of(account: str, target: str, state: Path | None = None) -> Path:
    digest = hashlib.sha256(target.encode()).hexdigest()[:32]
    return folder(account, state) / f"{digest}.json"


def keep(
    report: Report,
    fail_on: Severity,
    target: str,
    regions: list[str],
    state: Path | None = None,
) -> None:
    """Write the audit's record (OSError if it cannot be written; ValueError
    if the endpoint named no account id)."""
    if not ACCOUNT.fullmatch(report.account):
        raise ValueError(f"the account audited is {report.account!r}, not a 12-digit id")
    path = path_of(report.account, target, state)
    path.parent.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "account": report.account,
        "target": target,
        "finished": stamp(),
        "regions": regions,
        "report": report.as_json(fail_on),
    }
    write_json(path, record)
