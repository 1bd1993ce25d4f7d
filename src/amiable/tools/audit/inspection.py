"""Content audits (docs/audit.md): each image launched without network,
scanned from inside through SSM Run Command (`scanner.SCAN`), and
terminated however the audit ends — on public APIs only, the same on AWS.

What the scan reports becomes the content rules' checks: files that give
something away (host keys, machine ids and authorized keys the scanned
instance's own boot made are left out: they are not in the image), setuid
files against the rule's allowed list, the packages against an offline OSV
database, and the custom rules' commands. The package inventory is also
written as a CycloneDX SBOM, by the same code as `ami bake`'s.
"""

import shlex
import uuid
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from amiable.store.fsutil import write_atomic
from amiable.tools import sbom
from amiable.tools.remote import Remote, RemoteError
from amiable.tools.waiting import wait_for_instances

from .content import Setuid, VulnerablePackage
from .findings import Check, Skip, rank
from .rules import ContentRule, Problem
from .rules_file import CommandRule
from .scanner import OUTPUT, SCAN, Exposure, Scan, ScanError, parse, unexpected_setuid
from .vulnerabilities import Database, Match

INSTANCE_TYPE = "t3.micro"
SCAN_TIMEOUT = timedelta(hours=1)
COMMAND_TIMEOUT = timedelta(minutes=10)
NO_NETWORK = {"Key": "amiable:network", "Value": "none"}  # amiable's; AWS ignores the tag
SHOWN_PATHS = 20
BOOT_MADE = ("ssh-host-keys", "machine-id", "authorized-keys")


@dataclass(frozen=True)
class ContentOptions:
    vuln_db: Database | None = None
    sbom_dir: Path | None = None


def audit_image(
    ec2: Any,
    ssm: Any,
    region: str,
    image_id: str,
    rules: list[ContentRule],
    options: ContentOptions,
) -> list[Check]:
    """The content rules on one image, on an instance of its own."""
    instance_id = None
    try:
        instance_id = _launch(ec2, image_id)
        wait_for_instances(ec2, [instance_id], "running")
        remote = Remote(ssm, instance_id)
        remote.wait_online()
        return inspect(remote, region, image_id, rules, options)
    except (RemoteError, ScanError, ClientError, BotoCoreError, RuntimeError) as exc:
        reason = f"the image could not be inspected: {exc}"
        return [Check(rule.id, region, image_id, skipped=reason) for rule in rules]
    finally:
        if instance_id is not None:
            with suppress(ClientError, BotoCoreError):
                ec2.terminate_instances(InstanceIds=[instance_id])


def _launch(ec2: Any, image_id: str) -> str:
    tags = [NO_NETWORK, {"Key": "Name", "Value": f"ami audit {image_id}"}]
    reservation = ec2.run_instances(
        ImageId=image_id,
        InstanceType=INSTANCE_TYPE,
        MinCount=1,
        MaxCount=1,
        ClientToken=f"ami-audit-{uuid.uuid4().hex}",
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )
    return str(reservation["Instances"][0]["InstanceId"])


def inspect(
    remote: Remote, region: str, image_id: str, rules: list[ContentRule], options: ContentOptions
) -> list[Check]:
    """The content rules on a running instance of the image (the bake's
    test gate passes its own)."""
    remote.check(f"sh -c {shlex.quote(SCAN)} sh {OUTPUT}", "the content scan", SCAN_TIMEOUT)
    scan = parse(remote.read(OUTPUT).decode(errors="replace"))
    remote.check(f"rm -f {OUTPUT}", "removing the scan's output")
    if options.sbom_dir is not None:
        document = sbom.document(image_id, scan.distribution.version_id, scan.listing)
        data, _ = sbom.encoded(document)
        options.sbom_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(options.sbom_dir / f"{image_id}.cdx.json", data, options.sbom_dir)
    return [_checked(rule, scan, remote, region, image_id, options) for rule in rules]


def _checked(
    rule: ContentRule,
    scan: Scan,
    remote: Remote,
    region: str,
    image_id: str,
    options: ContentOptions,
) -> Check:
    try:
        problem = _problem(rule, scan, remote, options)
    except Skip as skip:
        return Check(rule.id, region, image_id, skipped=str(skip))
    if problem is None:
        return Check(rule.id, region, image_id)
    finding = rule.finding(problem, region, image_id)
    worst = problem.evidence.get("worst")
    if isinstance(rule, VulnerablePackage) and rule.settings.severity is None and worst:
        finding = replace(finding, severity=worst)
    return Check(rule.id, region, image_id, finding=finding)


def _problem(
    rule: ContentRule, scan: Scan, remote: Remote, options: ContentOptions
) -> Problem | None:
    if isinstance(rule, CommandRule):
        return _command(rule, remote)
    if isinstance(rule, VulnerablePackage):
        if options.vuln_db is None:
            raise Skip("no vulnerability database (--vuln-db)")
        return _vulnerable(options.vuln_db.matches(scan.distribution, scan.packages))
    found = [e for e in scan.exposures if e.rule == rule.id and _in_image(e, scan)]
    if isinstance(rule, Setuid):
        found = unexpected_setuid(found, rule.settings.allowed)
    return _exposed(rule, found)


def _in_image(exposure: Exposure, scan: Scan) -> bool:
    """Not one of the files a boot makes (host keys, the machine id, the key
    pair's authorized_keys) changed since the scanned instance booted. The
    boot time is known to the second, and systemd writes the machine id in
    the second it starts: a file of that second is the boot's (the image was
    made before the instance was launched, so none of its files is that
    recent)."""
    if exposure.rule not in BOOT_MADE or scan.booted is None:
        return True
    return exposure.modified < scan.booted


def _exposed(rule: ContentRule, found: list[Exposure]) -> Problem | None:
    if not found:
        return None
    paths = [e.path for e in found]
    shown = ", ".join(paths[:SHOWN_PATHS]) + (" …" if len(paths) > SHOWN_PATHS else "")
    evidence: dict[str, Any] = {"paths": paths}
    details = {e.path: e.detail for e in found if e.detail}
    if details:
        evidence["details"] = details
    return Problem(f"{rule.title.lower()}: {shown}", evidence)


def _vulnerable(matches: list[Match]) -> Problem | None:
    if not matches:
        return None
    worst = max((m.severity for m in matches), key=rank)
    listed = [
        {
            "package": m.package,
            "version": m.version,
            "id": m.vulnerability,
            "aliases": list(m.aliases),
            "severity": m.severity,
            "fixed": m.fixed,
            "summary": m.summary,
        }
        for m in matches
    ]
    packages = sorted({m.package for m in matches})
    message = (
        f"{len(matches)} known vulnerabilit{'y' if len(matches) == 1 else 'ies'} in "
        f"{len(packages)} package(s): {', '.join(packages[:SHOWN_PATHS])}"
    )
    return Problem(message, {"worst": worst, "vulnerabilities": listed})


def _command(rule: CommandRule, remote: Remote) -> Problem | None:
    outcome = remote.run(rule.command, COMMAND_TIMEOUT)
    if outcome.ok:
        return None
    evidence = {"command": rule.command, "exit_code": outcome.exit_code, "output": outcome.tail()}
    return Problem(f"`{rule.command}` exited {outcome.exit_code}", evidence)
