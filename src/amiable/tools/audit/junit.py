"""The report as JUnit XML (what CI test tabs read): a test suite per region,
a test case per check — classname the rule, name the image (or the region
for a region's rules) — failed by its finding or skipped with the reason."""

import json
import xml.etree.ElementTree as ET

from .findings import Check
from .report import Report


def junit(report: Report) -> str:
    suites = ET.Element("testsuites", name="ami audit")
    for region in report.images:
        checks = [check for check in report.checks if check.region == region]
        suite = ET.SubElement(suites, "testsuite", name=region)
        for check in checks:
            _case(suite, check)
        _count(suite, checks)
    _count(suites, report.checks)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _case(suite: ET.Element, check: Check) -> None:
    case = ET.SubElement(suite, "testcase", classname=check.rule, name=check.subject)
    if check.finding is not None:
        failure = ET.SubElement(
            case, "failure", message=check.finding.message, type=check.finding.severity
        )
        failure.text = json.dumps(check.finding.evidence, sort_keys=True)
    elif check.skipped is not None:
        ET.SubElement(case, "skipped", message=check.skipped)


def _count(element: ET.Element, checks: list[Check]) -> None:
    element.set("tests", str(len(checks)))
    element.set("failures", str(sum(c.finding is not None for c in checks)))
    element.set("errors", "0")
    element.set("skipped", str(sum(c.skipped is not None for c in checks)))
