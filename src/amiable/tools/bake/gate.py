"""The test gate and the verification of copies: the recipe's tests run on a
fresh instance of an image — never the build instance — in its region.

The gate tests the candidate in the build region, and reads the image's
packages there for the SBOM; nothing is copied, shared or published until
every test passes, and a failure removes the candidate (exit status 3).
Verification reruns the tests on each region's copy, all regions at once;
a copy that fails is removed so that the next run copies it again.
"""

import time
from typing import Any

from amiable.tools import sbom
from amiable.tools.audit.report import Report
from amiable.tools.parallel import each_region
from amiable.tools.remote import Remote
from amiable.tools.waiting import wait_for_instances

from . import audit_gate, manifest, tags
from .errors import DistributionFailed, TestsFailed
from .pipeline import Bake
from .resources import launch, remove_image, tagged_images

ROLE_TEST = "test-instance"
ROLE_VERIFY = "verify-instance"


def run_tests(
    bake: Bake, region: str, image_id: str, role: str, packages: bool = False
) -> tuple[list[dict[str, Any]], str, Report | None]:
    """Each test's result on a new instance of the image, and (if asked: the
    gate) the package listing read there and the recipe's audit made there."""
    ec2 = bake.clouds.ec2(region)
    instance = launch(
        ec2,
        image_id,
        bake.recipe.build.instance_type,
        bake.labels(role, Name=f"bake {bake.recipe.name} {role}"),
        bake.token(f"{role}-{region}"),
    )
    bake.journal.made("instance", region, instance, role)
    wait_for_instances(ec2, [instance], "running")
    remote = Remote(bake.clouds.ssm(region), instance)
    remote.wait_online()
    echo = bake.report.output if len(bake.regions) == 1 or role == ROLE_TEST else None
    results = []
    for check in bake.recipe.tests:
        script = check.run if isinstance(check.run, str) else "\n".join(["set -e", *check.run])
        outcome = remote.run(script, check.timeout, echo)
        result = {
            "name": check.name,
            "region": region,
            "passed": outcome.ok,
            "seconds": round(outcome.seconds, 3),
        }
        if not outcome.ok:
            result["output"] = outcome.tail()
        results.append(result)
        bake.report.line(f"    test {check.name!r} in {region}: {_verdict(outcome.ok)}")
    listing, audited = "", None
    if packages and all(r["passed"] for r in results):
        remote.check(sbom.COLLECT, "listing the packages")
        listing = remote.read(sbom.LISTING).decode(errors="replace")
        audited = audit_gate.audit(bake, region, image_id, remote)
    return results, listing, audited


def _verdict(passed: bool) -> str:
    return "passed" if passed else "FAILED"


def _failed(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in results if not r["passed"]]


def _passed(bake: Bake, region: str, image_id: str) -> None:
    """Tag the image with the tests it passed, for later builds of the same content."""
    labels = {tags.TESTED: bake.tests_key(region)}
    bake.clouds.ec2(region).create_tags(Resources=[image_id], Tags=tags.pairs(labels))


def _passed_before(bake: Bake, region: str) -> list[dict[str, Any]]:
    return [
        {"name": c.name, "region": region, "passed": True, "seconds": 0.0, "cached": True}
        for c in bake.recipe.tests
    ]


def _verified_before(bake: Bake, region: str) -> bool:
    """Whether an image of the same content passed the tests in `region`."""
    labels = {tags.CONTENT: bake.content_key(), tags.TESTED: bake.tests_key(region)}
    return bool(bake.options.cache and tagged_images(bake.clouds.ec2(region), labels))


class TestGate:
    name = "test"
    title = "test the candidate on a fresh instance"

    def run(self, bake: Bake) -> dict[str, Any]:
        built = bake.journal.data["stages"]["build"]
        key = bake.tests_key(bake.build_region)
        listing = sbom.listing_of(manifest.beside(bake.loaded, "sbom.json"), built.get("sbom"))
        if bake.options.cache and built.get("tested") == key and listing is not None:
            bake.report.line(f"    the same content passed these tests in {built['same_as']}")
            return {"tests": _passed_before(bake, bake.build_region), "packages": listing}
        bake.terminate_all(ROLE_TEST)
        candidate = built["candidate"]
        results, listing, audited = run_tests(bake, bake.build_region, candidate, ROLE_TEST, True)
        bake.terminate_all(ROLE_TEST, wait=False)
        failed = _failed(results)
        if failed:
            bake.journal.data["tests"] = results
            names = ", ".join(repr(r["name"]) for r in failed)
            output = "\n\n".join(f"--- {r['name']}\n{r['output']}" for r in failed)
            raise TestsFailed(f"the test gate failed: {names}; nothing was published", output)
        if audited is not None and bake.recipe.audit is not None:
            broken = audit_gate.failures(audited, bake.recipe.audit.fail_on)
            if broken:
                bake.journal.data["tests"] = results
                raise TestsFailed(
                    f"the audit failed (fail_on {bake.recipe.audit.fail_on}): "
                    f"{len(broken)} finding(s); nothing was published",
                    "\n".join(broken),
                )
        _passed(bake, bake.build_region, candidate)
        return {"tests": results, "packages": listing}

    def cleanup(self, bake: Bake, discard: bool) -> None:
        bake.terminate_all(ROLE_TEST)


class VerifyCopies:
    name = "verify"
    title = "verify every copy on a fresh instance"

    def run(self, bake: Bake) -> dict[str, Any]:
        copies = bake.journal.data["stages"]["copy"]["images"]
        targets = [r for r in bake.regions[1:] if r in copies]
        if not (bake.recipe.distribute and bake.recipe.distribute.verify) or not targets:
            return {"tests": []}
        before = [r for r in targets if _verified_before(bake, r)]
        for region in before:
            bake.report.line(f"    the same content passed these tests in {region} before")
        targets = [r for r in targets if r not in before]
        if not targets:
            return {"tests": [t for r in before for t in _passed_before(bake, r)]}
        bake.terminate_all(ROLE_VERIFY)
        started = time.monotonic()
        tested = each_region(lambda r: run_tests(bake, r, copies[r], ROLE_VERIFY)[0], targets)
        outcomes = dict(zip(targets, tested, strict=True))
        bake.terminate_all(ROLE_VERIFY, wait=False)
        broken = [r for r, results in outcomes.items() if _failed(results)]
        for region in broken:  # copied again by the next run
            remove_image(bake.clouds.ec2(region), copies[region])
            bake.journal.gone(copies[region])
        if broken:
            bake.journal.forget("copy")
            raise DistributionFailed(
                f"the copies in {', '.join(broken)} failed their tests; nothing was published",
                "\n".join(
                    f"--- {r['name']} in {r['region']}\n{r['output']}"
                    for region in broken
                    for r in _failed(outcomes[region])
                ),
            )
        for region in targets:
            _passed(bake, region, copies[region])
        results = [
            *(t for r in before for t in _passed_before(bake, r)),
            *(r for region in targets for r in outcomes[region]),
        ]
        return {"tests": results, "seconds": round(time.monotonic() - started, 3)}

    def cleanup(self, bake: Bake, discard: bool) -> None:
        bake.terminate_all(ROLE_VERIFY)
