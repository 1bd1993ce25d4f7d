"""`ami audit` on a data home whose images break (or keep) each metadata
rule, set up through the real EC2 API: the findings (JSON), the table,
SARIF valid against its schema, JUnit XML, `--output`, exit statuses and
usage errors; the record each audit keeps in the state directory (and a
record that cannot be written changing nothing but one warning); the
time-dependent rules through the tool's own entry point with a later
`now`."""

import json
import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import amiable
from amiable.cloud.core.home import Cloud
from amiable.tools.audit import record
from amiable.tools.audit.auditing import Plan, audit
from amiable.tools.audit.facts import Selection
from amiable.tools.audit.rules_file import Config
from api_helpers import OTHER, imported_snapshot, register
from helpers import run_ami

OWNER = "000000000000"
FRIEND = "111122223333"
STRANGER = "444455556666"
ORGANIZATION = f"arn:aws:organizations::{FRIEND}:organization/o-abcd123456"
OU_INSIDE = f"arn:aws:organizations::{FRIEND}:ou/o-abcd123456/ou-ab12-cd34ef56"
GUARDED, OPEN = "us-east-1", "eu-west-1"  # block public access and Allowed AMIs on; defaults
SCHEMA = Path(__file__).parent.parent / "data" / "sarif-schema-2.1.0.json"
RULES = f"""\
rules:
  missing-tags: {{keys: [team]}}
  shared-outside:
    allowed: ["{FRIEND}", "{ORGANIZATION}"]
custom:
  - {{id: no-telnet, command: "! command -v telnet", severity: high}}
"""
IMAGE_RULES = {
    "public-image",
    "shared-outside",
    "unencrypted",
    "no-deprecation",
    "too-old",
    "deprecated-in-use",
    "missing-tags",
    "imdsv2-not-required",
    "public-snapshot",
    "revoked-ancestor",
}
# image -> the metadata rules it breaks, with RULES
EXPECTED = {
    "clean": set(),  # in use (a parameter names it), but not retired
    "public": {"public-image", "unencrypted"},  # EC2 makes no encrypted image public
    "shared": {"shared-outside"},  # with FRIEND and an OU of ORGANIZATION allowed, STRANGER not
    "plain": {"unencrypted", "imdsv2-not-required", "missing-tags", "no-deprecation"},
    "leaky": {"public-snapshot", "unencrypted"},
    "retired": {"deprecated-in-use"},  # disabled, a launch template names it
    "parent": set(),  # disabled, used by nothing
    "child": {"revoked-ancestor"},  # copied from parent, since disabled
    "orphan": {"revoked-ancestor"},  # copied from an image since deregistered
    "sound": set(),  # copied from clean
}


@dataclass(frozen=True)
class World:
    home: Path
    images: dict[str, str]  # name -> image id, in GUARDED
    theirs: str  # OTHER's image, shared with OWNER
    rules: Path

    def ami(
        self, *args: str | Path, state: Path | None = None
    ) -> "subprocess.CompletedProcess[str]":
        """`ami audit ARGS`, keeping its record in `state` (default: beside the home)."""
        where = state or self.home.parent / "state"
        return run_ami("--home", self.home, "audit", *args, env={"AMI_STATE_DIR": str(where)})

    def findings(self, *args: str | Path) -> dict[str, Any]:
        """`ami audit ARGS --format json` (its exit status 0 or 1), parsed."""
        done = self.ami(*args, "--format", "json")
        assert done.returncode in (0, 1), done.stderr
        report: dict[str, Any] = json.loads(done.stdout)
        assert report["summary"]["failed"] == (done.returncode == 1)
        return report

    def name_of(self, image_id: str | None) -> str | None:
        names = {v: k for k, v in self.images.items()}
        return names.get(image_id, image_id) if image_id else None


def _polished(ec2: Any, image_id: str) -> str:
    """Tagged and deprecated in 30 days, as every image should be."""
    ec2.create_tags(Resources=[image_id], Tags=[{"Key": "team", "Value": "web"}])
    in_30_days = datetime.now(UTC) + timedelta(days=30)
    ec2.enable_image_deprecation(ImageId=image_id, DeprecateAt=in_30_days)
    return image_id


def _good(ec2: Any, snapshot: str, name: str) -> str:
    return _polished(ec2, register(ec2, snapshot, name, ImdsSupport="v2.0"))


def _copy(ec2: Any, source: str, name: str) -> str:
    copied = ec2.copy_image(SourceImageId=source, SourceRegion=GUARDED, Name=name)["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[copied], WaiterConfig={"Delay": 0.2})
    return _polished(ec2, str(copied))


def _images(session: amiable.Session, root: Path) -> dict[str, str]:
    ec2 = session.client("ec2", GUARDED)
    key = session.client("kms", GUARDED).create_key()["KeyMetadata"]["Arn"]
    sealed = imported_snapshot(ec2, root / "sealed", Encrypted=True, KmsKeyId=key)
    plain = imported_snapshot(ec2, root / "plain")
    leaky = imported_snapshot(ec2, root / "leaky")
    images = {name: _good(ec2, sealed, name) for name in ("clean", "shared", "retired", "parent")}
    images["public"] = _good(ec2, plain, "public")
    images["plain"] = register(ec2, plain, "plain")
    images["leaky"] = _good(ec2, leaky, "leaky")
    images["child"] = _copy(ec2, images["parent"], "child")
    images["sound"] = _copy(ec2, images["clean"], "sound")
    doomed = _good(ec2, sealed, "doomed")
    images["orphan"] = _copy(ec2, doomed, "orphan")
    ec2.deregister_image(ImageId=doomed)

    ec2.disable_image_block_public_access()
    ec2.modify_image_attribute(
        ImageId=images["public"], LaunchPermission={"Add": [{"Group": "all"}]}
    )
    ec2.enable_image_block_public_access(ImageBlockPublicAccessState="block-new-sharing")
    grantees = [{"UserId": FRIEND}, {"UserId": STRANGER}, {"OrganizationalUnitArn": OU_INSIDE}]
    ec2.modify_image_attribute(ImageId=images["shared"], LaunchPermission={"Add": grantees})
    ec2.modify_snapshot_attribute(
        SnapshotId=leaky, CreateVolumePermission={"Add": [{"Group": "all"}]}
    )
    ec2.enable_snapshot_block_public_access(State="block-new-sharing")
    ec2.enable_allowed_images_settings(AllowedImagesSettingsState="audit-mode")

    ec2.create_launch_template(
        LaunchTemplateName="web", LaunchTemplateData={"ImageId": images["retired"]}
    )
    session.client("ssm", GUARDED).put_parameter(
        Name="/golden/web", Value=images["clean"], Type="String", DataType="aws:ec2:image"
    )
    for name in ("retired", "parent"):
        ec2.disable_image(ImageId=images[name])
    session.client("ec2", OPEN).disable_image_block_public_access()
    return images


def _theirs(cloud: Cloud, root: Path) -> str:
    """OTHER's image, shared with OWNER."""
    cloud.accounts.create(OTHER, "other", "AKIAOTHER", "other-secret")
    ec2 = amiable.Session(cloud=cloud, account=OTHER, region=GUARDED).client("ec2")
    image = register(ec2, imported_snapshot(ec2, root), "theirs", ImdsSupport="v2.0")
    ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"UserId": OWNER}]})
    return image


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("audit")
    cloud = Cloud(base / "home")
    try:
        images = _images(amiable.Session(cloud=cloud), base / "roots")
        theirs = _theirs(cloud, base / "roots" / "theirs")
    finally:
        cloud.close()
    rules = base / "rules.yaml"
    rules.write_text(RULES)
    yield World(base / "home", images, theirs, rules)


BOTH = ("--regions", f"{GUARDED},{OPEN}")


@pytest.fixture(scope="module")
def full(world: World) -> dict[str, Any]:
    """The JSON report of both regions with RULES."""
    return world.findings("--rules", world.rules, *BOTH)


def _broken(world: World, report: dict[str, Any]) -> dict[str | None, set[str]]:
    """Image name (None for a region) -> the rules it breaks."""
    broken: dict[str | None, set[str]] = {}
    for finding in report["findings"]:
        subject = world.name_of(finding["image_id"]) or finding["region"]
        broken.setdefault(subject, set()).add(finding["rule"])
    return broken


def test_each_metadata_rule_finds_what_breaks_it_and_nothing_else(
    world: World, full: dict[str, Any]
) -> None:
    broken = _broken(world, full)
    for name, rules in EXPECTED.items():
        assert broken.get(name, set()) == rules, name
    assert broken.get(GUARDED, set()) == set()
    assert broken[OPEN] == {"public-access-block-off", "allowed-images-off"}
    assert set(broken) == {*[n for n, r in EXPECTED.items() if r], OPEN}
    assert {r for rules in EXPECTED.values() for r in rules} == IMAGE_RULES - {"too-old"}
    assert full["summary"]["regions"] == [GUARDED, OPEN]
    assert full["summary"]["images"] == len(EXPECTED)  # the deregistered one is gone


def test_findings_carry_their_evidence(world: World, full: dict[str, Any]) -> None:
    by = {(world.name_of(f["image_id"]) or f["region"], f["rule"]): f for f in full["findings"]}
    shared = by["shared", "shared-outside"]
    assert (shared["severity"], shared["evidence"]) == ("high", {"accounts": [STRANGER]})
    assert by["public", "public-image"]["severity"] == "critical"
    retired = by["retired", "deprecated-in-use"]
    assert retired["message"].startswith("disabled, yet 1 resource(s) still use it")
    assert retired["evidence"]["references"][0].startswith(
        f"arn:aws:ec2:{GUARDED}:{OWNER}:launch-template/"
    )
    (ancestor,) = by["child", "revoked-ancestor"]["evidence"]["ancestors"]
    assert ancestor == {"image_id": world.images["parent"], "region": GUARDED, "reason": "disabled"}
    assert by["orphan", "revoked-ancestor"]["evidence"]["ancestors"][0]["reason"] == "gone"
    assert by["plain", "missing-tags"]["evidence"] == {"missing": ["team"]}
    blocks = by[OPEN, "public-access-block-off"]
    assert blocks["image_id"] is None
    assert blocks["evidence"] == {"images": "unblocked", "snapshots": "unblocked"}
    assert by[OPEN, "allowed-images-off"]["evidence"] == {"state": "disabled"}
    assert set(full["findings"][0]) == {
        "rule",
        "severity",
        "region",
        "image_id",
        "message",
        "evidence",
    }


def test_content_rules_are_skipped_saying_why(world: World) -> None:
    clean = world.images["clean"]
    without = world.findings("--rules", world.rules, "--image-ids", clean)
    reasons = {(s["rule"], s["reason"]) for s in without["skipped"]}
    assert (
        "no-telnet",
        "a content rule: it runs inside the image (ami audit --content)",
    ) in reasons
    assert ("private-key", "a content rule: it runs inside the image (ami audit --content)") in (
        reasons
    )
    skipped = {s["rule"] for s in without["skipped"]}
    assert {"no-telnet", "vulnerable-package", "setuid", "machine-id"} <= skipped
    ids = {rule["id"]: rule for rule in without["rules"]}
    assert (ids["no-telnet"]["needs"], ids["no-telnet"]["severity"]) == ("content", "high")
    assert ids["private-key"]["needs"] == "content"


def test_rules_file_parameters_and_switches(world: World, tmp_path: Path) -> None:
    rules = tmp_path / "strict.yaml"
    rules.write_text(
        "rules:\n"
        "  too-old: {max_age: 0s}\n"
        "  allowed-images-off: {accept_audit_mode: false}\n"
        "  public-access-block-off: {snapshots: false}\n"
        "  imdsv2-not-required: {enabled: false}\n"
        "  unencrypted: {severity: critical}\n"
    )
    report = world.findings("--rules", rules, *BOTH)
    broken = _broken(world, report)
    assert all("too-old" in broken[name] for name in EXPECTED)
    assert "imdsv2-not-required" not in broken["plain"]
    assert report["summary"]["disabled"] == ["imdsv2-not-required"]
    assert "imdsv2-not-required" not in {rule["id"] for rule in report["rules"]}
    assert "allowed-images-off" in broken[GUARDED]  # audit-mode no longer passes
    blocks = next(f for f in report["findings"] if f["rule"] == "public-access-block-off")
    assert blocks["evidence"] == {"images": "unblocked"}
    assert {f["severity"] for f in report["findings"] if f["rule"] == "unencrypted"} == {"critical"}
    too_old = next(f for f in report["findings"] if f["rule"] == "too-old")
    assert too_old["message"].startswith("created ")
    assert too_old["evidence"]["max_age_seconds"] == 0


def test_owners_and_image_ids_choose_the_images(world: World) -> None:
    mine = world.findings("--rules", world.rules)
    audited = {f["image_id"] for f in mine["findings"]} | {s["image_id"] for s in mine["skipped"]}
    assert world.theirs not in audited
    assert mine["summary"]["images"] == len(EXPECTED)

    theirs = world.findings("--rules", world.rules, "--image-ids", world.theirs)
    assert theirs["summary"]["images"] == 1
    assert {f["rule"] for f in theirs["findings"]} == {"unencrypted", "no-deprecation"}
    skipped = {s["rule"]: s["reason"] for s in theirs["skipped"] if s["image_id"]}
    assert skipped["shared-outside"] == "only the image's owner may read its launch permissions"
    assert (
        skipped["public-snapshot"] == "only the image's owner may read its snapshots' permissions"
    )
    assert skipped["missing-tags"] == "only the image's owner may read its tags"

    by_owner = world.findings("--owners", OTHER, "--rules", world.rules)
    assert by_owner["summary"]["images"] == 1


def test_all_regions(world: World) -> None:
    ec2 = amiable.Session(home=world.home).client("ec2")
    every = sorted(r["RegionName"] for r in ec2.describe_regions()["Regions"])
    report = world.findings("--regions", "all", "--image-ids", world.images["clean"])
    assert report["summary"]["regions"] == every
    assert report["summary"]["images"] == 1


def test_the_table_groups_findings_by_severity_worst_first(world: World) -> None:
    done = world.ami("--rules", world.rules, *BOTH)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    headings = [line.strip() for line in lines if re.fullmatch(r"[A-Z]+ \(\d+\)", line.strip())]
    assert headings == ["CRITICAL (2)", "HIGH (2)", "MEDIUM (8)", "LOW (2)"]
    public_rows = [line for line in lines if world.images["public"] in line]
    assert ["public-image" in row for row in public_rows] == [True, False]  # critical first
    assert any("block public access is off for images and snapshots" in line for line in lines)
    assert any(line.startswith("skipped ") and "no-telnet" in line for line in lines)
    assert lines[-1].endswith("failed (--fail-on high)")
    assert lines[-1].startswith(
        "14 finding(s) (2 critical, 2 high, 8 medium, 2 low) in 10 image(s)"
    )


def test_sarif_is_valid_and_holds_every_finding(world: World, full: dict[str, Any]) -> None:
    done = world.ami("--rules", world.rules, *BOTH, "--format", "sarif")
    assert done.returncode == 1, done.stderr
    log = json.loads(done.stdout)
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft4Validator(schema).validate(log)
    (run,) = log["runs"]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    results = run["results"]
    assert [r["ruleId"] for r in results] == [f["rule"] for f in full["findings"]]
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in results)
    public = next(r for r in results if r["ruleId"] == "public-image")
    assert public["level"] == "error"
    (where,) = public["locations"][0]["logicalLocations"]
    assert where["fullyQualifiedName"] == f"{GUARDED}/{world.images['public']}"
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert any(n["associatedRule"]["id"] == "no-telnet" for n in notes)


def test_junit_has_a_case_per_rule_and_image(world: World, full: dict[str, Any]) -> None:
    done = world.ami("--rules", world.rules, *BOTH, "--format", "junit")
    assert done.returncode == 1, done.stderr
    suites = ET.fromstring(done.stdout)
    assert [s.get("name") for s in suites.findall("testsuite")] == [GUARDED, OPEN]
    cases = {
        (case.get("classname"), world.name_of(case.get("name")) or case.get("name")): case
        for case in suites.iter("testcase")
    }
    assert len(cases) == int(suites.get("tests", "")) == full["summary"]["checks"]
    assert int(suites.get("failures", "")) == len(full["findings"])
    assert int(suites.get("skipped", "")) == len(full["skipped"])
    failure = cases["shared-outside", "shared"].find("failure")
    assert failure is not None and failure.get("type") == "high"
    assert cases["shared-outside", "clean"].find("failure") is None
    assert cases["public-access-block-off", OPEN].find("failure") is not None
    skipped = cases["no-telnet", "clean"].find("skipped")
    assert skipped is not None and "--content" in skipped.get("message", "")


def test_output_writes_the_report_to_a_file(world: World, tmp_path: Path) -> None:
    target = tmp_path / "out" / "audit.json"
    target.parent.mkdir()
    done = world.ami("--image-ids", world.images["plain"], "--format", "json", "--output", target)
    assert done.returncode == 0, done.stderr  # nothing high or critical
    assert done.stdout == ""
    assert done.stderr.strip().endswith("passed (--fail-on high)")
    assert {f["rule"] for f in json.loads(target.read_text())["findings"]} >= {"unencrypted"}
    assert [p.name for p in target.parent.iterdir()] == ["audit.json"]
    table = tmp_path / "out" / "audit.txt"
    world.ami("--image-ids", world.images["plain"], "--output", table)
    assert "MEDIUM" in table.read_text() and "\x1b[" not in table.read_text()


@pytest.mark.parametrize(("fail_on", "status"), [("high", 0), ("medium", 1)])
def test_fail_on_sets_the_exit_status(world: World, fail_on: str, status: int) -> None:
    done = world.ami("--image-ids", world.images["plain"], "--fail-on", fail_on, "--format", "json")
    assert done.returncode == status, done.stderr  # plain's worst is medium


def test_a_clean_image_passes(world: World) -> None:
    done = world.ami(
        "--rules", world.rules, "--image-ids", world.images["clean"], "--fail-on", "low"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("0 finding(s) in 1 image(s), 1 region(s)")


def _usage_error(done: "subprocess.CompletedProcess[str]") -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    return line


def test_a_bad_rules_file_is_one_line_and_status_2(world: World, tmp_path: Path) -> None:
    rules = tmp_path / "bad.yaml"
    rules.write_text("rules:\n  too-old:\n    max_age: soon\n")
    assert _usage_error(world.ami("--rules", rules)) == (
        f"error: {rules}:3: rules.too-old.max_age: 'soon' is not a duration such as "
        "90d, 12h, 30m or 45s"
    )
    rules.write_text("rules:\n  no-such-rule: {enabled: false}\n")
    assert _usage_error(world.ami("--rules", rules)) == (
        f"error: {rules}:2: rules.no-such-rule: unknown key"
    )
    missing = tmp_path / "none.yaml"
    assert _usage_error(world.ami("--rules", missing)).startswith(
        f"error: {missing}: cannot read the rules file"
    )


def test_usage_errors_are_status_2(world: World) -> None:
    assert "--fail-on" in _usage_error(world.ami("--fail-on", "severe"))
    assert _usage_error(world.ami("--regions", "mars-north-1")).startswith(
        "error: --regions mars-north-1: not a region of this cloud"
    )
    assert _usage_error(world.ami("--vuln-db", str(world.rules))).startswith(
        "error: --vuln-db and --sbom-dir are for content audits"
    )
    missing = "ami-0123456789abcdef0"
    assert _usage_error(world.ami("--image-ids", missing)) == (
        f"error: InvalidAMIID.NotFound: {missing} not found in {GUARDED}"
    )


def test_each_audit_keeps_its_record_for_the_console(world: World, tmp_path: Path) -> None:
    state = tmp_path / "state"
    chosen = ("--image-ids", world.images["plain"], "--regions", f"{OPEN},{GUARDED}")
    done = world.ami(*chosen, "--format", "json", state=state)
    assert done.returncode == 1, done.stderr  # OPEN's block public access is off: kept anyway
    path = record.path_of(OWNER, f"home:{world.home.absolute()}", state)
    kept = json.loads(path.read_text())
    assert set(kept) == {"account", "target", "finished", "regions", "report"}
    assert kept["account"] == OWNER and kept["target"] == f"home:{world.home.absolute()}"
    assert kept["regions"] == [OPEN, GUARDED]
    assert kept["report"] == json.loads(done.stdout)
    finished = datetime.fromisoformat(kept["finished"])
    assert timedelta(0) <= datetime.now(UTC) - finished < timedelta(minutes=5)
    again = world.ami("--image-ids", world.images["clean"], "--output", tmp_path / "t", state=state)
    assert again.returncode == 0, again.stderr
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # replaced whole, no temp file
    replaced = json.loads(path.read_text())
    assert replaced["regions"] == [GUARDED] and replaced["finished"] >= kept["finished"]
    assert replaced["report"]["summary"]["images"] == 1


def test_a_record_that_cannot_be_written_is_one_warning_and_changes_nothing_else(
    world: World, tmp_path: Path
) -> None:
    chosen = ("--image-ids", world.images["plain"], "--fail-on", "medium")
    kept_as = record.path_of(OWNER, f"home:{world.home.absolute()}", tmp_path / "taken")
    kept_as.mkdir(parents=True)  # the record's name is taken by a folder: the rename fails
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")  # the state directory is a file: no folder can be made
    for output in ("json", "table"):
        ok = world.ami(*chosen, "--format", output, state=tmp_path / f"ok-{output}")
        assert ok.returncode == 1, ok.stderr  # plain's worst is medium
        for state in (tmp_path / "taken", not_a_folder):
            done = world.ami(*chosen, "--format", output, state=state)
            assert (done.returncode, done.stdout) == (ok.returncode, ok.stdout)
            *same, warning = done.stderr.splitlines()
            assert same == ok.stderr.splitlines()
            assert warning.startswith("warning: the audit's record was not kept: "), warning
    assert list(kept_as.parent.iterdir()) == [kept_as]  # no temp file left
    assert list(kept_as.iterdir()) == []
    assert not_a_folder.read_text() == ""


def test_deprecation_as_time_passes(world: World) -> None:
    """In 31 days `clean` is past its deprecation, yet a parameter names it,
    and `sound` descends from it; through the tool, with a later now."""
    cloud = Cloud(world.home)
    try:
        plan = Plan(
            regions=[GUARDED],
            selection=Selection(image_ids=[world.images["clean"], world.images["sound"]]),
            config=Config.load(world.rules),
            now=datetime.now(UTC) + timedelta(days=31),
        )
        report = audit(
            lambda service, region: amiable.Session(cloud=cloud, region=region).client(service),
            plan,
        )
    finally:
        cloud.close()
    found = {(world.name_of(f.image_id), f.rule): f for f in report.findings}
    assert set(found) == {("clean", "deprecated-in-use"), ("sound", "revoked-ancestor")}
    in_use = found["clean", "deprecated-in-use"]
    assert in_use.message.startswith("deprecated since ")
    assert in_use.evidence["references"] == [f"arn:aws:ssm:{GUARDED}:{OWNER}:parameter/golden/web"]
    assert found["sound", "revoked-ancestor"].evidence["ancestors"] == [
        {"image_id": world.images["clean"], "region": GUARDED, "reason": "deprecated"}
    ]
