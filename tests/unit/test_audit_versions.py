"""Version ordering of dpkg, apk and rpm, checked against the orderings
those projects' own test suites assert."""

import pytest

from amiable.tools.audit.versions import (
    apk_compare,
    dpkg_compare,
    rpm_compare,
    rpmvercmp,
)

# dpkg's scripts/t/100_Dpkg_Version.t (its __DATA__ section): "a b result".
DPKG = """
    1.0-1 2.0-2 -1
    2.2~rc-4 2.2-1 -1
    2.2-1 2.2~rc-4 1
    1.0000-1 1.0-1 0
    1 0:1 0
    0 0:0-0 0
    2:2.5 1:7.5 1
    1:foo foo 1
    0:foo foo 0
    foo foo 0
    foo- foo 0
    foo- foo-0 0
    foo fo 1
    foo- foo+ -1
    foo~1 foo -1
    foo~foo+Bar foo~foo+bar -1
    foo~~ foo~ -1
    1~ 1 -1
    12345+that-really-is-some-ver-0 12345+that-really-is-some-ver-10 -1
    foo-0 foo-01 -1
    foo.bar foobar 1
    foo.bar foo1bar 1
    foo.bar foo0bar 1
    1foo-1 foo-1 -1
    foo2.0 foo2 1
    foo2.0.0 foo2.10.0 -1
    foo2.0 foo2.0.0 -1
    foo2.0 foo2.10 -1
    foo2.1 foo2.10 -1
    1.09 1.9 0
    1.0.8+nmu1 1.0.8 1
    3.11 3.10+nmu1 1
    0.9j-20080306-4 0.9i-20070324-2 1
    1.2.0~b7-1 1.2.0~b6-1 1
    1.011-1 1.06-2 1
    0.0.9+dfsg1-1 0.0.8+dfsg1-3 1
    4.6.99+svn6582-1 4.6.99+svn6496-1 1
    53 52 1
    0.9.9~pre122-1 0.9.9~pre111-1 1
    2:2.3.2-2+lenny2 2:2.3.2-2 1
    1:3.8.1-1 3.8.GA-1 1
    1.0.1+gpl-1 1.0.1-2 1
    1a 1000a -1
"""

# apk-tools' test/version.data: "a op b" (most of its lines).
APK = """
    2.34 > 0.1.0_alpha
    23_foo > 4_beta
    1.0 < 1.0bc
    0.1.0_alpha = 0.1.0_alpha
    0.1.0_alpha < 0.1.3_alpha
    0.1.3_alpha > 0.1.0_alpha
    0.1.0_alpha2 > 0.1.0_alpha
    0.1.0_alpha < 2.2.39-r1
    2.2.39-r1 > 1.0.4-r3
    1.0.4-r3 < 1.0.4-r4
    1.0.4-r4 < 1.6
    1.6 > 1.0.2
    1.0.2 > 0.7-r1
    0.7-r1 < 1.0.0
    1.0.0 < 1.0.1
    1.0.1 < 1.1
    1.1 > 1.1_alpha1
    1.1_alpha1 < 1.2.1
    1.2.1 > 1.2
    1.2 < 1.3_alpha
    1.3_alpha < 1.3_alpha2
    1.3_alpha2 < 1.3_alpha3
    1.3_alpha8 > 0.6.0
    0.6.0 < 0.6.1
    0.6.1 < 0.7.0
    0.7.0 < 0.8_beta1
    0.8_beta1 < 0.8_beta2
    0.8_beta4 < 4.8-r1
    4.8-r1 > 3.10.18-r1
    3.10.18-r1 > 2.3.0b-r1
    2.3.0b-r1 < 2.3.0b-r2
    2.3.0b-r4 > 0.12.1
    0.12.3 > 0.12
    0.12 < 0.13_beta1
    0.13_beta5 > 0.9.12
    0.9.13 > 0.0.16
    0.0.16 < 0.6
    0.6 < 2.1.13-r3
    2.1.15-r3 > 1.2.11
    1.2.11 < 1.2.12.1
    1.2.12.1 < 1.2.13
    0.2.0-r1 = 0.2.0-r1
    0.2.0-r1 < 3.1_p16
    3.1_p16 < 3.1_p17
    3.1_p17 > 1.06-r6
    1.06-r6 < 006
    006 > 1.0.0
    1.2.2-r1 > 1.2.2
    9.3.4-r2 > 9.3.4
    2.16.1-r3 = 2.16.1-r3
    1.0.6-r3 > 0.11
    1.2.2.1 < 1.4.1-r1
    2.59 < 20050718-r1
    20050718-r2 > 3.9.8-r5
    3.9.8-r5 > 2.01.01_alpha10
    2.01.01_alpha10 > 0.94
    1.0 > 0.99.3.20040818
    0.99.3.20040818 > 0.7
    1.39 > 1.00_beta2
    1.00_beta2 > 0.9.2
    7.15.1-r1 > 1.02
    1.02 < 1.03-r1
    2.8.0.6-r1 > 0.5.2.7
    0.5.2.7 < 4.2.52_p2-r1
    4.2.52_p2-r1 < 4.2.52_p4-r2
    4.2.52_p4-r2 > 1.02.07
    1.02.07 < 1.02.10-r1
    2.18.3-r10 > 1.05-r18
    1.05-r18 < 1.05-r19
    2.38 < 20050405
    10-r1 > 4
    20060720 > 3.0.20060720
    3.0.20060720 < 20060720
    1.4.4-r1 < 2.1.9.200602141850
    2.5.1-r8 < 2.5.1a-r1
    2.5.1a-r1 > 1.19.2-r1
    1.3.5-r10 > 1.3.5-r8
    20040401 > 2.0.0_rc3-r1
    2.0.2 > 0.99.163
    0.99.163 < 2.6.15.20060110
    3.0.0-r2 < 021109-r3
    021109-r3 < 20060512
    0.9.16-r1 < 3.9_pre20060124
    3.9_pre20060124 > 0.01
    1.1.7 < 6b-r7
    6b-r7 > 1.12-r7
    0.10.0-r1 > 0.10.0
    0.10.0 < 0.10.1_rc1
    0.10.1_rc1 > 0.9.11
    0.9.11 < 394
    2.0.2 > 1.1a
    1.1a < 1.3a
    1.0-r1 > 0.15.1b
    0.15.1b < 1.0.1
    1.06-r2 > 0.15.1b-r2
    0.15.1b-r2 > 0.15.1b
    22.7-r1 < 22.7.3-r1
    22.7.3-r1 > 22.7
    22.7 > 2.1_pre20
    2.1_pre20 < 2.1_pre26
    2.10.1 > 02.08.01b
    02.08.01b < 4.77
    8.1.2.20040524-r1 < 8.1.2.20050715-r1
    8.1.2.20050715-r1 < 20030215
    3.81 > 1.6d
    1.6d > 1.2.07.8
    1.2.07.8 < 1.2.12.04
    1.2.12.04 < 1.2.12.05
    1.07-r1 < 1.07.5
    1.07.5 > 1.07
    20061003 > 0.1_pre20060810
    0.1_pre20060810 < 0.1_pre20060817
    3.3.17 > 0.59s-r11
    0.59s-r11 < 0.65
    1.60-r12 < 110-r8
    4.20 > 0.20070118
    0.20070118 < 0.20070207_rc1
    0.20070207_rc1 < 1.0
    2.3.30-r2 < 3.7_p1
    3.7_p1 > 1.3
    0.10.1 < 4.3_p2-r1
    4.3_p2-r1 < 4.3_p2-r5
    4.3_p2-r5 < 4.4_p1-r6
    4.5_p1-r1 > 4.5_p1
    4.5_p1 > 0.9.8c-r1
    0.9.8c-r1 < 0.9.8d
    2.2.3-r2 < 013
    013 < 014-r1
    0.1.23 < 5b-r9
    5b-r9 > 2.2.10
    3.2.7 > 0.3.1_rc8
    0.3.1_rc8 < 22.2
    5.7-r3 > 5.1_p4
    1.7 < 1.7b
    1.7b < 1.8.4-r3
    1.8.5 < 1.8.5_p2
    1.4.9-r2 < 2.9.11_pre20051101-r2
    2.9.11_pre20051101-r3 > 2.9.11_pre20051101
    2.9.11_pre20051101 < 2.9.11_pre20061021-r1
    1.3.2-r3 < 1.6.8_p12-r1
    1.6.8_p12-r1 > 1.6.8_p9-r2
    0.40-r1 < 2.25b-r5
    1.0.5 < 1.4_p12-r2
    0.9.28-r2 < 0.9.28.1
    0.9.28.1 < 087-r1
    087-r1 < 103
    104-r11 > 104-r9
    5.52-r1 > 1.2.5_rc2
    20040406-r1 > 2.12r-r4
    2.12r-r4 < 2.12r-r5
    7.0.17 < 7.0.174
    1.1.1-r3 > 0.3.4_pre20061029
    0.3.4_pre20061029 < 0.4.0
    1.3-r0 < 1.3.1-r0
    1.3_pre1-r1 < 1.3.2
    1.0_p10-r0 > 1.0_p9-r0
    0.1.0_alpha_pre2 < 0.1.0_alpha
    1.0.0_pre20191002222144-r0 < 1.0.0_pre20210530193627-r0
"""

# rpm's tests/rpmvercmp.at: RPMVERCMP(a, b, result), tilde and caret cases included.
RPMVERCMP = """
    1.0 1.0 0
    1.0 2.0 -1
    2.0 1.0 1
    2.0.1 2.0.1 0
    2.0 2.0.1 -1
    2.0.1 2.0 1
    2.0.1a 2.0.1a 0
    2.0.1a 2.0.1 1
    2.0.1 2.0.1a -1
    5.5p1 5.5p1 0
    5.5p1 5.5p2 -1
    5.5p2 5.5p1 1
    5.5p10 5.5p10 0
    5.5p1 5.5p10 -1
    5.5p10 5.5p1 1
    10xyz 10.1xyz -1
    10.1xyz 10xyz 1
    xyz10 xyz10 0
    xyz10 xyz10.1 -1
    xyz10.1 xyz10 1
    xyz.4 xyz.4 0
    xyz.4 8 -1
    8 xyz.4 1
    xyz.4 2 -1
    2 xyz.4 1
    5.5p2 5.6p1 -1
    5.6p1 5.5p2 1
    5.6p1 6.5p1 -1
    6.5p1 5.6p1 1
    6.0.rc1 6.0 1
    6.0 6.0.rc1 -1
    10b2 10a1 1
    10a2 10b2 -1
    1.0aa 1.0aa 0
    1.0a 1.0aa -1
    1.0aa 1.0a 1
    10.0001 10.0001 0
    10.0001 10.1 0
    10.1 10.0001 0
    10.0001 10.0039 -1
    10.0039 10.0001 1
    4.999.9 5.0 -1
    5.0 4.999.9 1
    20101121 20101121 0
    20101121 20101122 -1
    20101122 20101121 1
    2_0 2_0 0
    2.0 2_0 0
    2_0 2.0 0
    a a 0
    a+ a+ 0
    a+ a_ 0
    a_ a+ 0
    +a +a 0
    +a _a 0
    _a +a 0
    +_ +_ 0
    _+ +_ 0
    _+ _+ 0
    + _ 0
    _ + 0
    1.0~rc1 1.0~rc1 0
    1.0~rc1 1.0 -1
    1.0 1.0~rc1 1
    1.0~rc1 1.0~rc2 -1
    1.0~rc2 1.0~rc1 1
    1.0~rc1~git123 1.0~rc1~git123 0
    1.0~rc1~git123 1.0~rc1 -1
    1.0~rc1 1.0~rc1~git123 1
    1.0^ 1.0^ 0
    1.0^ 1.0 1
    1.0 1.0^ -1
    1.0^git1 1.0^git1 0
    1.0^git1 1.0 1
    1.0 1.0^git1 -1
    1.0^git1 1.0^git2 -1
    1.0^git2 1.0^git1 1
    1.0^git1 1.01 -1
    1.01 1.0^git1 1
    1.0^20160101 1.0^20160101 0
    1.0^20160101 1.0.1 -1
    1.0.1 1.0^20160101 1
    1.0^20160101^git1 1.0^20160101^git1 0
    1.0^20160102 1.0^20160101^git1 1
    1.0^20160101^git1 1.0^20160102 -1
    1.0~rc1^git1 1.0~rc1^git1 0
    1.0~rc1^git1 1.0~rc1 1
    1.0~rc1 1.0~rc1^git1 -1
    1.0^git1~pre 1.0^git1~pre 0
    1.0^git1 1.0^git1~pre 1
    1.0^git1~pre 1.0^git1 -1
"""

OPERATORS = {"<": -1, "=": 0, ">": 1}


def triples(table: str) -> list[tuple[str, str, int]]:
    found = []
    for line in table.strip().splitlines():
        a, middle, last = line.split()
        if middle in OPERATORS:
            found.append((a, last, OPERATORS[middle]))
        else:
            found.append((a, middle, int(last)))
    return found


@pytest.mark.parametrize(("a", "b", "expected"), triples(DPKG))
def test_dpkg_orders_as_dpkg(a: str, b: str, expected: int) -> None:
    assert dpkg_compare(a, b) == expected
    assert dpkg_compare(b, a) == -expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # lib/dpkg/t/t-version.c, test_version_parse: strings that parse to equal versions.
        ("0", "0:0"),
        ("0:0-", "0"),
        ("0:0-0", "0-0"),
        ("0:0.0-0.0", "0.0-0.0"),
        ("1:0", "1:0-"),
        ("0:0-0-0", "0-0-0"),  # upstream "0-0", revision "0"
        ("0:0:0-0", "0:0:0-0"),  # upstream "0:0"
        ("  \t0:0-1", "0:0-1  "),  # surrounding white space is ignored
        # lib/dpkg/t/t-version.c, test_version_compare
        ("0:0-00", "0:00-0"),
    ],
)
def test_dpkg_parses_as_dpkg(a: str, b: str) -> None:
    assert dpkg_compare(a, b) == 0


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # lib/dpkg/t/t-version.c, test_version_compare: epoch, then upstream, then revision.
        ("1:0-0", "0:0-0", 1),
        ("0:a-0", "0:b-0", -1),
        ("0:0-a", "0:0-b", -1),
        ("0:1-1", "0:2-1", -1),
        ("0:1-1", "0:1-2", -1),
        # The upstream version decides before the revision does.
        ("1.2-9", "1.10-1", -1),
        # Debian security updates and backports (deb-version(7)'s examples of ~ and +).
        ("1.1.1n-0+deb11u5", "1.1.1n-0+deb11u4", 1),
        ("2.36-9+deb12u4", "2.36-9", 1),
        ("1.0~bpo1", "1.0", -1),
    ],
)
def test_dpkg_epoch_upstream_revision(a: str, b: str, expected: int) -> None:
    assert dpkg_compare(a, b) == expected
    assert dpkg_compare(b, a) == -expected


@pytest.mark.parametrize(("a", "b", "expected"), triples(APK))
def test_apk_orders_as_apk_tools(a: str, b: str, expected: int) -> None:
    assert apk_compare(a, b) == expected
    assert apk_compare(b, a) == -expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # The suffix ranks of apk-tools' src/version.c: pre-releases, none, post-releases.
        ("1.0_alpha", "1.0_beta", -1),
        ("1.0_beta", "1.0_pre", -1),
        ("1.0_pre", "1.0_rc", -1),
        ("1.0_rc", "1.0", -1),
        ("1.0", "1.0_cvs", -1),
        ("1.0_cvs", "1.0_svn", -1),
        ("1.0_svn", "1.0_git", -1),
        ("1.0_git", "1.0_hg", -1),
        ("1.0_hg", "1.0_p", -1),
        ("1.0_p1", "1.0_p1-r1", -1),
        # Commit hashes (`~hash`) sort after suffixes, before the revision.
        ("1.0_git20240101~abc1", "1.0_git20240101~abc2", -1),
        ("1.0~abc1-r1", "1.0~abc1-r2", -1),
        # Real Alpine openssl updates.
        ("3.1.4-r5", "3.1.4-r6", -1),
        ("3.1.4-r6", "3.1.5-r0", -1),
    ],
)
def test_apk_suffixes_hashes_revisions(a: str, b: str, expected: int) -> None:
    assert apk_compare(a, b) == expected
    assert apk_compare(b, a) == -expected


@pytest.mark.parametrize(("a", "b", "expected"), triples(RPMVERCMP))
def test_rpmvercmp_orders_as_rpm(a: str, b: str, expected: int) -> None:
    assert rpmvercmp(a, b) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # Epochs decide first; no epoch is epoch 0 (rpm's parseEVR / rpmverCmp).
        ("1:1.0-1", "2.0-1", 1),
        ("0:1.0-1", "1.0-1", 0),
        ("1:3.0.7-27.el9", "1:3.0.7-25.el9_3", 1),
        ("3.0.7-27.el9", "1:3.0.7-25.el9", -1),
        # Then the version, then the release.
        ("1.0-10.el9", "1.0-9.el9", 1),
        ("1.10-1", "1.9-2", 1),
        ("4.4.20-4.el8_6", "4.4.20-4.el8", 1),
        # A release missing on either side is not compared.
        ("1.0", "1.0-5.el9", 0),
        ("1:1.0-5.el9", "1:1.0", 0),
        # The release follows the last hyphen.
        ("1.0-rc1-2", "1.0-rc1-10", -1),
    ],
)
def test_rpm_epoch_version_release(a: str, b: str, expected: int) -> None:
    assert rpm_compare(a, b) == expected
    assert rpm_compare(b, a) == -expected
