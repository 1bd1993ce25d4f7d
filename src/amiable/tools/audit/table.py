"""The report for people: a table per severity, the worst first, then what
was skipped (a line per reason, naming its rules) and the one-line verdict."""

from rich.console import Console
from rich.table import Table

from .findings import SEVERITIES, Severity
from .report import Report

STYLES: dict[Severity, str] = {
    "critical": "bold red",
    "high": "red",
    "medium": "yellow",
    "low": "cyan",
}


def show(report: Report, fail_on: Severity, console: Console) -> None:
    for severity in reversed(SEVERITIES):
        found = [f for f in report.findings if f.severity == severity]
        if not found:
            continue
        table = Table(
            title=f"{severity.upper()} ({len(found)})",
            title_justify="left",
            title_style=STYLES[severity],
        )
        for column in ("rule", "region", "image", "finding"):
            table.add_column(column)
        for f in found:
            table.add_row(f.rule, f.region, f.image_id or "-", f.message)
        console.print(table)
    reasons: dict[str, list[str]] = {}
    for check in report.skipped:
        rules = reasons.setdefault(check.skipped or "", [])
        rules.append(check.rule)
    for reason, rules in reasons.items():
        named = ", ".join(dict.fromkeys(rules))
        line = f"skipped {len(rules)} check(s) of {named}: {reason}"
        console.print(line, highlight=False, markup=False)
    console.print(report.summary_line(fail_on), highlight=False, markup=False)
