"""The report as SARIF 2.1.0 (what code-scanning dashboards read): the rules
run as the driver's rules, each finding a result located logically (the
image in its region, or the region), skipped checks as notifications."""

from collections import Counter
from typing import Any

from .findings import Finding, Severity
from .report import Report
from .rules import Rule

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
LEVELS: dict[Severity, str] = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "note",
}
# GitHub code scanning reads a CVSS-like score to rank security results
SCORES: dict[Severity, str] = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


def sarif(report: Report, version: str) -> dict[str, Any]:
    index = {rule.id: i for i, rule in enumerate(report.rules)}
    driver = {
        "name": "ami audit",
        "version": version,
        "rules": [_descriptor(rule) for rule in report.rules],
    }
    skipped = Counter((c.rule, c.skipped) for c in report.skipped)
    notifications = [
        {
            "level": "note",
            "message": {"text": f"skipped on {count} subject(s): {reason}"},
            "associatedRule": {"id": rule_id, "index": index[rule_id]},
        }
        for (rule_id, reason), count in skipped.items()
    ]
    run = {
        "tool": {"driver": driver},
        "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
        "results": [_result(finding, index[finding.rule]) for finding in report.findings],
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def _descriptor(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": rule.remediation},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {
            "severity": rule.severity,
            "security-severity": SCORES[rule.severity],
            "needs": rule.needs,
            "tags": ["security", "ami"],
        },
    }


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    if finding.image_id:
        where = {
            "name": finding.image_id,
            "fullyQualifiedName": f"{finding.region}/{finding.image_id}",
            "kind": "resource",
        }
    else:
        where = {"name": finding.region, "fullyQualifiedName": finding.region, "kind": "namespace"}
    return {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [{"logicalLocations": [where]}],
        "partialFingerprints": {"amiAudit/v1": where["fullyQualifiedName"] + "/" + finding.rule},
        "properties": {
            "severity": finding.severity,
            "region": finding.region,
            "imageId": finding.image_id,
            "evidence": finding.evidence,
        },
    }
