"""Matching installed packages against an offline OSV database: the
ecosystems of each distribution, source-package names, the schema's range
evaluation with each distribution's version order, severities, and the
errors of a database that cannot be read."""

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from amiable.tools.audit.findings import Skip
from amiable.tools.audit.vulnerabilities import (
    Database,
    DatabaseError,
    Distribution,
    Ecosystems,
    Match,
    Package,
    UnknownDistribution,
    cvss2_score,
    cvss3_score,
    ecosystems,
    inventory,
)

OSV = Path(__file__).parent.parent / "data" / "osv"
DEBIAN_12 = Distribution("debian", "12")

# What sbom.LIST_PACKAGES and LIST_SOURCES print for a small Debian 12 image.
DEBIAN_LISTING = """\
deb\topenssl\t3.0.9-1\tamd64
deb\tlibssl3\t3.0.9-1\tamd64
deb\tlibc6\t2.36-9+deb12u3\tamd64
deb\tcurl\t7.88.1-10+deb12u5\tamd64
"""
DEBIAN_SOURCES = """\
deb\topenssl\tamd64\topenssl\t3.0.9-1
deb\tlibssl3\tamd64\topenssl\t3.0.9-1
deb\tlibc6\tamd64\tglibc\t2.36-9+deb12u3
deb\tcurl\tamd64\tcurl\t7.88.1-10+deb12u5
"""


def deb(name: str, version: str, source: str | None = None) -> Package:
    return Package("deb", name, version, "amd64", source or name, version)


def found(matches: list[Match]) -> set[tuple[str, str, str | None]]:
    return {(m.package, m.vulnerability, m.fixed) for m in matches}


def write_records(directory: Path, *records: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for record in records:
        (directory / f"{record['id'].replace(':', '-')}.json").write_text(json.dumps(record))
    return directory


def record(name: str, events: list[dict[str, str]], **more: Any) -> dict[str, Any]:
    """A Debian 12 record of `name` with one ECOSYSTEM range."""
    affected = {
        "package": {"ecosystem": "Debian:12", "name": name},
        "ranges": [{"type": "ECOSYSTEM", "events": events}],
    }
    return {"id": more.pop("id", f"TEST-{name}"), "affected": [affected], **more}


def test_debian_packages_match_their_source_package() -> None:
    packages = inventory(DEBIAN_LISTING, DEBIAN_SOURCES)
    matches = Database(OSV).matches(DEBIAN_12, packages)
    assert found(matches) == {
        ("libc6", "DEBIAN-CVE-2024-2961", None),  # not fixed in bookworm
        ("libc6", "DSA-5611-1", "2.36-9+deb12u4"),
        ("libssl3", "DSA-5532-1", "3.0.11-1~deb12u1"),
        ("openssl", "DSA-5532-1", "3.0.11-1~deb12u1"),
    }  # not DLA-3530-1 (Debian 10), not the withdrawn DSA-5999-1
    dsa = next(m for m in matches if m.package == "libssl3")
    assert dsa.version == "3.0.9-1"
    assert dsa.osv_package == "openssl"
    assert dsa.ecosystem == "Debian:12"
    assert dsa.summary == "openssl - security update"
    assert dsa.aliases == ("CVE-2023-2975", "CVE-2023-3446", "CVE-2023-3817", "CVE-2023-5363")
    assert (dsa.severity, dsa.severity_basis) == ("medium", "unknown: medium assumed")
    debian_cve = next(m for m in matches if m.vulnerability.startswith("DEBIAN-CVE"))
    assert debian_cve.aliases == ("CVE-2024-2961",)
    assert debian_cve.summary.startswith("The iconv() function in the GNU C Library")


@pytest.mark.parametrize("version", ["3.0.11-1~deb12u1", "3.0.11-1~deb12u2", "3.0.13-1~deb12u1"])
def test_fixed_versions_do_not_match(version: str) -> None:
    packages = [deb("openssl", version), deb("libssl3", version, "openssl")]
    assert Database(OSV).matches(DEBIAN_12, packages) == []


def test_binary_names_are_not_looked_up_for_debian() -> None:
    # A record naming a binary package does not describe it: OSV's Debian names sources.
    assert Database(OSV).matches(DEBIAN_12, [deb("libssl3", "3.0.9-1", "libssl3")]) == []


def test_alpine_packages_match_their_origin() -> None:
    listing = "apk\tlibcrypto3\t3.1.3-r0\tx86_64\napk\tcurl\t8.5.0-r0\tx86_64\n"
    sources = "apk\tlibcrypto3\tx86_64\topenssl\t3.1.3-r0\napk\tcurl\tx86_64\tcurl\t8.5.0-r0\n"
    matches = Database(OSV).matches(Distribution("alpine", "3.19.1"), inventory(listing, sources))
    assert found(matches) == {("libcrypto3", "ALPINE-CVE-2023-5678", "3.1.4-r1")}
    assert matches[0].aliases == ("CVE-2023-5678",)


@pytest.mark.parametrize(
    ("version", "affected"), [("7.68.0-r0", False), ("8.3.0-r0", True), ("8.4.0-r0", False)]
)
def test_alpine_introduced_and_fixed(version: str, affected: bool) -> None:
    curl = Package("apk", "curl", version, "x86_64", "curl", version)
    matches = Database(OSV).matches(Distribution("alpine", "3.18.4"), [curl])
    assert bool(matches) is affected
    if affected:
        assert (matches[0].severity, matches[0].severity_basis) == ("critical", "CVSS_V3 9.8")


def test_ubuntu_lts_and_its_priority() -> None:
    libc = deb("libc6", "2.35-0ubuntu3.1", "glibc")
    (match,) = Database(OSV).matches(Distribution("ubuntu", "22.04"), [libc])
    assert (match.vulnerability, match.fixed) == ("UBUNTU-CVE-2023-4911", "2.35-0ubuntu3.4")
    assert (match.severity, match.severity_basis) == ("high", "Ubuntu priority high")
    assert match.ecosystem == "Ubuntu:22.04:LTS"


def test_almalinux_matches_binary_and_source_names_once_with_the_epoch() -> None:
    listing = "rpm\topenssl-libs\t3.0.7-24.el9\tx86_64\n"
    sources = "rpm\topenssl-libs\tx86_64\topenssl-3.0.7-24.el9.src.rpm\t1:3.0.7-24.el9\n"
    alma = Distribution("almalinux", "9.3")
    (match,) = Database(OSV).matches(alma, inventory(listing, sources))
    assert (match.package, match.vulnerability) == ("openssl-libs", "ALSA-2024:0310")
    assert match.fixed == "1:3.0.7-25.el9_3"
    assert (match.severity, match.severity_basis) == ("high", "summary Important")
    updated = sources.replace("1:3.0.7-24.el9", "1:3.0.7-27.el9")
    assert Database(OSV).matches(alma, inventory(listing, updated)) == []


def test_rocky_linux_severity_from_cvss() -> None:
    bash = Package("rpm", "bash", "5.1.8-6.el9", "x86_64", "bash", "5.1.8-6.el9")
    (match,) = Database(OSV).matches(Distribution("rocky", "9.3"), [bash])
    assert (match.severity, match.severity_basis) == ("high", "CVSS_V3 7.8")


def test_red_hat_streams_of_the_release_only() -> None:
    sudo = Package("rpm", "sudo", "1.9.5p2-9.el9", "x86_64", "sudo", "1.9.5p2-9.el9")
    (match,) = Database(OSV).matches(Distribution("rhel", "9.3"), [sudo])
    assert match.ecosystem == "Red Hat:enterprise_linux:9::baseos"  # not rhel_eus:9.2
    assert match.fixed == "0:1.9.5p2-10.el9_3"
    assert (match.severity, match.severity_basis) == ("medium", "summary Moderate")


def test_other_package_managers_are_not_matched() -> None:
    openssl = Package("rpm", "openssl", "1.0-1", "x86_64", "openssl", "1.0-1")
    assert Database(OSV).matches(DEBIAN_12, [openssl]) == []


def test_a_distribution_osv_does_not_describe_is_skipped() -> None:
    with pytest.raises(UnknownDistribution, match="amzn 2023") as raised:
        Database(OSV).matches(Distribution("amzn", "2023"), [deb("openssl", "1")])
    assert isinstance(raised.value, Skip)


@pytest.mark.parametrize(
    ("distribution", "expected"),
    [
        (Distribution("debian", "12"), Ecosystems("deb", ("Debian:12", "Debian"))),
        (Distribution("debian", ""), None),  # testing and unstable have no VERSION_ID
        (Distribution("ubuntu", "22.04"), Ecosystems("deb", ("Ubuntu:22.04:LTS",))),
        (Distribution("ubuntu", "23.10"), Ecosystems("deb", ("Ubuntu:23.10",))),
        (Distribution("alpine", "3.19.1"), Ecosystems("apk", ("Alpine:v3.19",))),
        (Distribution("almalinux", "9.3"), Ecosystems("rpm", ("AlmaLinux:9", "AlmaLinux"))),
        (Distribution("rocky", "8.9"), Ecosystems("rpm", ("Rocky Linux:8", "Rocky Linux"))),
        (
            Distribution("rhel", "9.4"),
            Ecosystems("rpm", ("Red Hat:enterprise_linux:9",), ("Red Hat:enterprise_linux:9::",)),
        ),
        (Distribution("amzn", "2023"), None),
        (Distribution("sles", "15.5"), None),
    ],
)
def test_ecosystems_of_each_distribution(
    distribution: Distribution, expected: Ecosystems | None
) -> None:
    assert ecosystems(distribution) == expected


def test_inventory_joins_packages_and_sources() -> None:
    listing = (
        "deb\tlibfoo1\t1.2-3+b1\tamd64\n"
        "deb\tlibfoo1\t1.2-3+b1\ti386\n"
        "deb\tbar\t2.0-1\tall\n"
        "rpm\tgpg-pubkey\tfd431d51-4ae0493b\t(none)\n"
        "rpm\tbash\t5.1.8-6.el9\tx86_64\n"
        "garbage line\n"
    )
    sources = (
        "deb\tlibfoo1\tamd64\tfoo\t1.2-3\n"
        "rpm\tgpg-pubkey\t(none)\t(none)\tfd431d51-4ae0493b\n"
        "rpm\tbash\tx86_64\tbash-5.1.8-6.el9.src.rpm\t5.1.8-6.el9\n"
    )
    assert inventory(listing, sources) == [
        Package("deb", "bar", "2.0-1", "all", "bar", "2.0-1"),
        Package("deb", "libfoo1", "1.2-3+b1", "amd64", "foo", "1.2-3"),
        Package("deb", "libfoo1", "1.2-3+b1", "i386", "libfoo1", "1.2-3+b1"),  # no source line
        Package("rpm", "bash", "5.1.8-6.el9", "x86_64", "bash", "5.1.8-6.el9"),
        Package(
            "rpm", "gpg-pubkey", "fd431d51-4ae0493b", "(none)", "gpg-pubkey", "fd431d51-4ae0493b"
        ),
    ]


@pytest.mark.parametrize(
    ("events", "version", "fixed"),
    [
        # Two introduced/fixed pairs, written out of order: sorted before evaluation.
        (
            [{"introduced": "2.0"}, {"fixed": "2.5"}, {"introduced": "0"}, {"fixed": "1.5"}],
            "1.0",
            "1.5",
        ),
        (
            [{"introduced": "2.0"}, {"fixed": "2.5"}, {"introduced": "0"}, {"fixed": "1.5"}],
            "1.7",
            False,
        ),
        (
            [{"introduced": "2.0"}, {"fixed": "2.5"}, {"introduced": "0"}, {"fixed": "1.5"}],
            "2.1",
            "2.5",
        ),
        (
            [{"introduced": "2.0"}, {"fixed": "2.5"}, {"introduced": "0"}, {"fixed": "1.5"}],
            "3.0",
            False,
        ),
        # last_affected: that version still is, the next is not.
        ([{"introduced": "0"}, {"last_affected": "1.2"}], "1.2", None),
        ([{"introduced": "0"}, {"last_affected": "1.2"}], "1.2.1", False),
        # limit: nothing at or above it is in the range.
        ([{"introduced": "0"}, {"limit": "2.0"}], "1.9", None),
        ([{"introduced": "0"}, {"limit": "2.0"}], "2.0", False),
        ([{"introduced": "0"}, {"limit": "*"}], "9.0", None),
        # dpkg's order: ~ before the release, the epoch first.
        ([{"introduced": "0"}, {"fixed": "1.0"}], "1.0~rc1", "1.0"),
        ([{"introduced": "0"}, {"fixed": "1.0"}], "1:0.5", False),
    ],
)
def test_range_evaluation(
    tmp_path: Path, events: list[dict[str, str]], version: str, fixed: str | bool | None
) -> None:
    database = Database(write_records(tmp_path / "osv", record("pkg", events)))
    matches = database.matches(DEBIAN_12, [deb("pkg", version)])
    assert found(matches) == (set() if fixed is False else {("pkg", "TEST-pkg", fixed)})


def test_listed_versions_match_without_a_range(tmp_path: Path) -> None:
    listed = record("pkg", [], id="TEST-listed")
    listed["affected"][0]["versions"] = ["1.1-1"]
    database = Database(write_records(tmp_path / "osv", listed))
    assert found(database.matches(DEBIAN_12, [deb("pkg", "1.1-1")])) == {
        ("pkg", "TEST-listed", None)
    }
    assert database.matches(DEBIAN_12, [deb("pkg", "1.1-2")]) == []


def test_git_and_semver_ranges_are_not_evaluated(tmp_path: Path) -> None:
    git = record("pkg", [], id="TEST-git")
    git["affected"][0]["ranges"] = [
        {"type": "GIT", "repo": "https://example.org/pkg.git", "events": [{"introduced": "0"}]},
        {"type": "SEMVER", "events": [{"introduced": "0"}]},
    ]
    database = Database(write_records(tmp_path / "osv", git))
    assert database.matches(DEBIAN_12, [deb("pkg", "1.0")]) == []


@pytest.mark.parametrize(
    ("more", "severity", "basis"),
    [
        ({"database_specific": {"severity": "HIGH"}}, "high", "database_specific severity HIGH"),
        ({"summary": "Critical: pkg security update"}, "critical", "summary Critical"),
        (
            {"severity": [{"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:P/I:P/A:P"}]},
            "high",
            "CVSS_V2 7.5",
        ),
        (
            {
                "severity": [
                    {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N"}
                ]
            },
            "medium",
            "CVSS_V3 5.9",
        ),
        (
            {
                "severity": [
                    {
                        "type": "CVSS_V4",
                        "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                    }
                ]
            },
            "medium",
            "unknown: medium assumed",
        ),
    ],
)
def test_severity(tmp_path: Path, more: dict[str, Any], severity: str, basis: str) -> None:
    events = [{"introduced": "0"}]
    database = Database(write_records(tmp_path / "osv", record("pkg", events, **more)))
    (match,) = database.matches(DEBIAN_12, [deb("pkg", "1.0")])
    assert (match.severity, match.severity_basis) == (severity, basis)


def test_affected_entry_severity_comes_before_the_record_one(tmp_path: Path) -> None:
    both = record("pkg", [{"introduced": "0"}], database_specific={"severity": "low"})
    both["affected"][0]["ecosystem_specific"] = {"severity": "critical"}
    database = Database(write_records(tmp_path / "osv", both))
    (match,) = database.matches(DEBIAN_12, [deb("pkg", "1.0")])
    assert match.severity == "critical"


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ("CVSS:3.1/AV:N/AC:L", None),
    ],
)
def test_cvss3_base_scores(vector: str, score: float | None) -> None:
    assert cvss3_score(vector) == score


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5),
        ("AV:N/AC:M/Au:N/C:N/I:P/A:N", 4.3),
        ("AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0),
        ("AV:N/AC:L/Au:N/C:N/I:N/A:N", 0.0),
        ("AV:N", None),
    ],
)
def test_cvss2_base_scores(vector: str, score: float | None) -> None:
    assert cvss2_score(vector) == score


def test_a_zip_of_records_is_the_same_database(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for file in sorted(OSV.rglob("*.json")):
            zipped.write(file, file.name)
    packages = inventory(DEBIAN_LISTING, DEBIAN_SOURCES)
    assert Database(archive).matches(DEBIAN_12, packages) == Database(OSV).matches(
        DEBIAN_12, packages
    )


def test_one_json_file_holding_a_list_of_records() -> None:
    sudo = Package("rpm", "sudo", "1.9.5p2-9.el9", "x86_64", "sudo", "1.9.5p2-9.el9")
    database = Database(OSV / "rpm" / "RHSA-2024-1234.json")
    assert found(database.matches(Distribution("rhel", "9.3"), [sudo])) == {
        ("sudo", "RHSA-2024:1234", "0:1.9.5p2-10.el9_3")
    }


def test_tens_of_thousands_of_records(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for number in range(20000):
            other = record(f"pkg{number % 500}", [{"introduced": "0"}], id=f"OTHER-{number}")
            other["affected"][0]["package"]["ecosystem"] = "Debian:11"
            zipped.writestr(f"OTHER-{number}.json", json.dumps(other))
        for number in range(3000):
            ours = record(
                f"pkg{number}", [{"introduced": "0"}, {"fixed": "2.0"}], id=f"OURS-{number}"
            )
            zipped.writestr(f"OURS-{number}.json", json.dumps(ours))
    packages = [deb(f"pkg{number}", "1.0") for number in range(0, 3000, 3)]
    matches = Database(archive).matches(DEBIAN_12, packages)
    assert {m.vulnerability for m in matches} == {f"OURS-{n}" for n in range(0, 3000, 3)}


def one_line_error(path: Path) -> str:
    with pytest.raises(DatabaseError) as raised:
        Database(path).matches(DEBIAN_12, [deb("pkg", "1.0")])
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_missing_database(tmp_path: Path) -> None:
    assert one_line_error(tmp_path / "nowhere").startswith(f"{tmp_path / 'nowhere'}: not an OSV")


def test_not_json(tmp_path: Path) -> None:
    broken = tmp_path / "osv" / "DSA-1-1.json"
    broken.parent.mkdir()
    broken.write_text('{"id": "DSA-1-1", "affected": [{"package": {"ecosystem": "Debian:12"')
    assert one_line_error(broken.parent).startswith(f"{broken}: not JSON")


def test_not_a_zip(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    archive.write_bytes(b"not a zip at all")
    assert one_line_error(archive).startswith(f"{archive}: not a readable zip file")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"affected": [{"package": {"ecosystem": "Debian:12"}}]}', "id: expected str"),
        ('["Debian:12"]', "expected dict, found str"),
        (
            '{"id": "X-1", "affected": [{"package": {"ecosystem": "Debian:12", "name": "pkg"},'
            ' "ranges": {"type": "ECOSYSTEM"}}]}',
            "X-1: affected[0].ranges: expected list, found dict",
        ),
        (
            '{"id": "X-2", "affected": [{"package": {"ecosystem": "Debian:12", "name": "pkg"},'
            ' "ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": 2}]}]}]}',
            "X-2: affected[0].ranges[0].events[0].fixed: expected str, found int",
        ),
    ],
)
def test_malformed_records(tmp_path: Path, raw: str, expected: str) -> None:
    file = tmp_path / "osv" / "bad.json"
    file.parent.mkdir()
    file.write_text(raw)
    message = one_line_error(file.parent)
    assert message.startswith(f"{file}: ")
    assert expected in message
