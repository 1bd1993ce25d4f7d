"""Known vulnerabilities of an image's packages, from an offline OSV
database (https://ossf.github.io/osv-schema/): a directory of OSV JSON
files, one .json file, or a .zip of them such as osv.dev's per-ecosystem
all.zip. Nothing is fetched.

This module owns which OSV ecosystems an image's distribution is, under
which name and version each installed package is looked up (Debian, Ubuntu
and Alpine records name source packages: `LIST_SOURCES` prints them next to
`sbom.LIST_PACKAGES`'s binary packages), how a record's affected ranges are
evaluated (the schema's IsVulnerable, with the distribution's own version
order from `versions`), and how severe a match is.
"""

import json
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cmp_to_key
from pathlib import Path
from typing import Any

from .findings import Severity, Skip
from .versions import COMPARE, Compare

# What matching needs beyond sbom.LIST_PACKAGES: for each installed package
# (kind, name, arch as LIST_PACKAGES prints them) its source package and the
# version the database is compared with: dpkg's `Source: name (version)`
# (the binary's own name and version when absent), apk's origin (`o:`),
# rpm's source rpm and its epoch:version-release (LIST_PACKAGES prints rpm
# versions without the epoch). Lines: kind TAB name TAB arch TAB source TAB version.
LIST_SOURCES = r"""
if [ -f /var/lib/dpkg/status ]; then
  awk -v RS= -F'\n' '/(^|\n)Status: [^\n]* installed/ {
    p=""; v=""; a=""; s="";
    for (i = 1; i <= NF; i++) {
      if ($i ~ /^Package: /) p = substr($i, 10);
      if ($i ~ /^Version: /) v = substr($i, 10);
      if ($i ~ /^Architecture: /) a = substr($i, 15);
      if ($i ~ /^Source: /) s = substr($i, 9);
    }
    sv = v;
    if (s == "") s = p;
    if (s ~ /\(/) { sv = s; sub(/^[^(]*\(/, "", sv); sub(/\).*$/, "", sv); sub(/ .*$/, "", s) }
    print "deb\t" p "\t" a "\t" s "\t" sv }' /var/lib/dpkg/status
fi
if [ -f /lib/apk/db/installed ]; then
  awk '/^P:/ {p=substr($0, 3)} /^V:/ {v=substr($0, 3)} /^A:/ {a=substr($0, 3)}
    /^o:/ {o=substr($0, 3)}
    /^$/ {if (p) print "apk\t" p "\t" a "\t" (o != "" ? o : p) "\t" v; p=""; o=""}
    END {if (p) print "apk\t" p "\t" a "\t" (o != "" ? o : p) "\t" v}' /lib/apk/db/installed
fi
if command -v rpm >/dev/null 2>&1; then
  evr='%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}'
  rpm -qa --qf "rpm\t%{NAME}\t%{ARCH}\t%{SOURCERPM}\t$evr\n" 2>/dev/null
fi
true
"""


class DatabaseError(Exception):
    """The OSV database cannot be read; the message names the file."""


class UnknownDistribution(Skip):
    """No OSV ecosystem is known for the image's distribution."""


@dataclass(frozen=True)
class Distribution:
    """An image's /etc/os-release ID and VERSION_ID."""

    id: str
    version_id: str


@dataclass(frozen=True)
class Package:
    """An installed package and what the database knows it by."""

    manager: str  # deb, apk or rpm, as sbom.LIST_PACKAGES prints it
    name: str
    version: str
    arch: str
    source: str  # the source package (the name itself when not known)
    source_version: str  # the version compared: the source's (deb), with the epoch (rpm)


@dataclass(frozen=True)
class Ecosystems:
    """The OSV ecosystems that describe one distribution release, and the
    package manager whose version order they use."""

    manager: str
    names: tuple[str, ...]
    prefixes: tuple[str, ...] = ()

    def covers(self, ecosystem: str) -> bool:
        return ecosystem in self.names or ecosystem.startswith(self.prefixes)

    def named_in(self, document: bytes) -> bool:
        """Whether a JSON document may name one of them (a cheap test on the
        bytes, to parse only the documents that do)."""
        needles = [f'"{name}"' for name in self.names] + [f'"{p}' for p in self.prefixes]
        return any(needle.encode() in document for needle in needles)


@dataclass(frozen=True)
class Match:
    """One installed package affected by one OSV record."""

    package: str
    arch: str
    version: str  # as installed
    vulnerability: str  # the record's id
    aliases: tuple[str, ...]  # the ids it gives as aliases, upstream or related
    summary: str
    fixed: str | None  # the first fixed version above the installed one, if known
    severity: Severity
    severity_basis: str  # where the severity comes from; "unknown: medium assumed" if nowhere
    ecosystem: str
    osv_package: str  # the name the record gives the package


def ecosystems(distribution: Distribution) -> Ecosystems | None:
    """The OSV ecosystems of a distribution release, None for one OSV does
    not describe (Amazon Linux, SUSE, Fedora...)."""
    version = distribution.version_id
    major = version.split(".")[0]
    release = re.match(r"(\d+)\.(\d+)", version)
    if distribution.id == "debian" and major.isdigit():
        return Ecosystems("deb", (f"Debian:{major}", "Debian"))
    if distribution.id == "ubuntu" and release:
        lts = int(release[1]) % 2 == 0 and release[2] == "04"
        return Ecosystems("deb", (f"Ubuntu:{version}:LTS" if lts else f"Ubuntu:{version}",))
    if distribution.id == "alpine" and release:
        return Ecosystems("apk", (f"Alpine:v{release[1]}.{release[2]}",))
    if distribution.id == "almalinux" and major.isdigit():
        return Ecosystems("rpm", (f"AlmaLinux:{major}", "AlmaLinux"))
    if distribution.id == "rocky" and major.isdigit():
        return Ecosystems("rpm", (f"Rocky Linux:{major}", "Rocky Linux"))
    if distribution.id == "rhel" and major.isdigit():
        stream = f"Red Hat:enterprise_linux:{major}"
        return Ecosystems("rpm", (stream,), (f"{stream}::",))
    return None


def _source_rpm_name(source_rpm: str) -> str:
    """`openssl-3.0.7-27.el9.src.rpm` -> `openssl`; "" for `(none)`."""
    stem = re.sub(r"\.(no)?src\.rpm$", "", source_rpm)
    parts = stem.rsplit("-", 2)
    return parts[0] if len(parts) == 3 and stem != source_rpm else ""


def inventory(listing: str, sources: str) -> list[Package]:
    """The packages of `sbom.LIST_PACKAGES`'s output, each with its source
    from `LIST_SOURCES`'s output (itself when it has none there)."""
    origin: dict[tuple[str, str, str], tuple[str, str]] = {}
    for line in sources.splitlines():
        parts = line.split("\t")
        if len(parts) == 5 and parts[0] in COMPARE and parts[1]:
            kind, name, arch, source, version = parts
            if kind == "rpm":
                source = _source_rpm_name(source)
            origin[(kind, name, arch)] = (source or name, version)
    packages = []
    for line in sorted(set(listing.splitlines())):
        parts = line.split("\t")
        if len(parts) == 4 and parts[0] in COMPARE and parts[1]:
            kind, name, version, arch = parts
            source, source_version = origin.get((kind, name, arch), (name, version))
            packages.append(Package(kind, name, version, arch, source, source_version or version))
    return packages


@dataclass(frozen=True)
class _Record:
    id: str
    aliases: tuple[str, ...]
    summary: str


@dataclass(frozen=True)
class _Affected:
    record: _Record
    ecosystem: str
    name: str
    ranges: tuple[tuple[tuple[str, str], ...], ...]  # ECOSYSTEM ranges' (event, version)s
    versions: frozenset[str]
    severity: Severity
    severity_basis: str


_EVENTS = ("introduced", "fixed", "last_affected", "limit")


def _documents(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every JSON document of the database."""
    try:
        if path.is_dir():
            for file in sorted(path.rglob("*.json")):
                if file.is_file():
                    yield str(file), file.read_bytes()
        elif path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                for member in archive.infolist():
                    if member.filename.endswith(".json") and not member.is_dir():
                        yield f"{path}:{member.filename}", _member(archive, path, member)
        else:
            yield str(path), path.read_bytes()
    except zipfile.BadZipFile as error:
        raise DatabaseError(f"{path}: not a readable zip file ({error})") from None
    except OSError as error:
        raise DatabaseError(f"{error.filename or path}: cannot read: {error.strerror}") from None


def _member(archive: zipfile.ZipFile, path: Path, member: zipfile.ZipInfo) -> bytes:
    try:
        return archive.read(member)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError) as error:
        raise DatabaseError(f"{path}:{member.filename}: cannot read: {error}") from None


def _expect(value: Any, kind: type, where: str) -> Any:
    if not isinstance(value, kind):
        raise DatabaseError(f"{where}: expected {kind.__name__}, found {type(value).__name__}")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    return tuple(_expect(item, str, where) for item in _expect(value, list, where))


def _record(raw: Any, where: str) -> _Record:
    _expect(raw, dict, where)
    record_id = _expect(raw.get("id"), str, f"{where}: id")
    where = f"{where}: {record_id}"
    aliases = [
        alias
        for field in ("aliases", "upstream", "related")
        for alias in _strings(raw.get(field, []), f"{where}: {field}")
    ]
    summary = _expect(raw.get("summary", ""), str, f"{where}: summary")
    details = _expect(raw.get("details", ""), str, f"{where}: details")
    summary = summary or details.strip().split("\n")[0][:200]
    return _Record(record_id, tuple(dict.fromkeys(aliases)), summary)


def _events(raw: Any, where: str) -> tuple[tuple[str, str], ...]:
    events = []
    for index, event in enumerate(_expect(raw, list, where)):
        for kind, version in _expect(event, dict, f"{where}[{index}]").items():
            if kind in _EVENTS:
                events.append((kind, _expect(version, str, f"{where}[{index}].{kind}")))
    return tuple(events)


def _affected(record: _Record, raw_record: dict[str, Any], raw: Any, where: str) -> _Affected:
    _expect(raw, dict, where)
    package = _expect(raw.get("package"), dict, f"{where}.package")
    ranges = []
    for index, each in enumerate(_expect(raw.get("ranges", []), list, f"{where}.ranges")):
        each = _expect(each, dict, f"{where}.ranges[{index}]")
        if each.get("type") == "ECOSYSTEM":
            ranges.append(_events(each.get("events"), f"{where}.ranges[{index}].events"))
    return _Affected(
        record,
        _expect(package.get("ecosystem"), str, f"{where}.package.ecosystem"),
        _expect(package.get("name"), str, f"{where}.package.name"),
        tuple(ranges),
        frozenset(_strings(raw.get("versions", []), f"{where}.versions")),
        *_severity(record.summary, raw, raw_record),
    )


def _entries(raw: Any, where: str, scope: Ecosystems) -> Iterator[_Affected]:
    """The affected entries of a record that are in the ecosystems; none of
    a withdrawn record."""
    record = _record(raw, where)
    if "withdrawn" in raw:
        return
    where = f"{where}: {record.id}"
    for index, each in enumerate(_expect(raw.get("affected", []), list, f"{where}: affected")):
        package = _expect(each, dict, f"{where}: affected[{index}]").get("package")
        if isinstance(package, dict) and scope.covers(str(package.get("ecosystem"))):
            yield _affected(record, raw, each, f"{where}: affected[{index}]")


def _in_range(
    version: str, events: tuple[tuple[str, str], ...], compare: Compare
) -> tuple[bool, str | None]:
    """The schema's IncludedInRanges for one range: whether `version` is in
    it, and then the first fixed version above it if there is one."""
    limits = [limit for kind, limit in events if kind == "limit"]
    if limits and not any("*" in limit or compare(version, limit) < 0 for limit in limits):
        return False, None

    def order(a: tuple[str, str], b: tuple[str, str]) -> int:
        lowest_a, lowest_b = a == ("introduced", "0"), b == ("introduced", "0")
        if lowest_a or lowest_b:
            return lowest_b - lowest_a
        return compare(a[1], b[1])

    vulnerable, fixed = False, None
    for kind, at in sorted((e for e in events if e[0] != "limit"), key=cmp_to_key(order)):
        if kind == "introduced":
            if at == "0" or compare(version, at) >= 0:
                vulnerable, fixed = True, None
        elif _ended(kind, version, at, compare):
            vulnerable = False
        elif kind == "fixed" and vulnerable and fixed is None:
            fixed = at
    return vulnerable, fixed if vulnerable else None


def _ended(kind: str, version: str, at: str, compare: Compare) -> bool:
    """Whether a fixed (at or before it) or last_affected (before it) event
    ends the affected range below `version`."""
    order = compare(version, at)
    return order >= 0 if kind == "fixed" else order > 0


def _affects(entry: _Affected, version: str, compare: Compare) -> tuple[bool, str | None]:
    """Whether `version` is affected (in a range or listed), and its fixed version if known."""
    for events in entry.ranges:
        affected, fixed = _in_range(version, events, compare)
        if affected:
            return True, fixed
    return version in entry.versions, None


_WORDS: dict[str, Severity] = {
    "negligible": "low",
    "unimportant": "low",
    "low": "low",
    "moderate": "medium",
    "medium": "medium",
    "important": "high",
    "high": "high",
    "critical": "critical",
}
_V3 = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "CIA": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_V3_PRIVILEGES = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}
_V2 = {
    "AV": {"L": 0.395, "A": 0.646, "N": 1.0},
    "AC": {"H": 0.35, "M": 0.61, "L": 0.71},
    "Au": {"M": 0.45, "S": 0.56, "N": 0.704},
    "CIA": {"N": 0.0, "P": 0.275, "C": 0.660},
}


def _metrics(vector: str) -> dict[str, str]:
    return dict(part.split(":", 1) for part in vector.strip("()").split("/") if ":" in part)


def _unharmed(weights: dict[str, float], metrics: dict[str, str]) -> float:
    """How much confidentiality, integrity and availability are left: the
    product of (1 - impact) over the three."""
    left = 1.0
    for name in ("C", "I", "A"):
        left *= 1 - weights[metrics[name]]
    return left


def _roundup(value: float) -> float:
    """CVSS v3.1's Roundup (its Appendix A): up to one decimal, free of float noise."""
    integer = round(value * 100000)
    return integer / 100000 if integer % 10000 == 0 else (integer // 10000 + 1) / 10


def cvss3_score(vector: str) -> float | None:
    """The base score of a CVSS v3.0/v3.1 vector, None if it is incomplete."""
    m = _metrics(vector)
    try:
        scope = m["S"]
        harm = 1 - _unharmed(_V3["CIA"], m)
        exploitability = 8.22 * _V3["AV"][m["AV"]] * _V3["AC"][m["AC"]] * _V3["UI"][m["UI"]]
        exploitability *= _V3_PRIVILEGES[scope][m["PR"]]
    except KeyError:
        return None
    if scope == "U":
        impact = 6.42 * harm
        total = impact + exploitability
    else:
        impact = 7.52 * (harm - 0.029) - 3.25 * (harm - 0.02) ** 15
        total = 1.08 * (impact + exploitability)
    return 0.0 if impact <= 0 else _roundup(min(total, 10))


def cvss2_score(vector: str) -> float | None:
    """The base score of a CVSS v2 vector, None if it is incomplete."""
    m = _metrics(vector)
    try:
        impact = 10.41 * (1 - _unharmed(_V2["CIA"], m))
        exploitability = 20 * _V2["AV"][m["AV"]] * _V2["AC"][m["AC"]] * _V2["Au"][m["Au"]]
    except KeyError:
        return None
    if impact == 0:
        return 0.0
    return round((0.6 * impact + 0.4 * exploitability - 1.5) * 1.176, 1)


def _rating(score: float, scale: tuple[float, ...]) -> Severity:
    return ("low", "medium", "high", "critical")[sum(score >= bound for bound in scale)]


def _scored(entries: list[Any]) -> tuple[Severity, str] | None:
    """The severity of an OSV `severity` list: the Ubuntu priority, else the
    CVSS v3 score, else the CVSS v2 score (v4 vectors are not scored here)."""
    scores = {
        str(e.get("type")): e["score"]
        for e in entries
        if isinstance(e, dict) and isinstance(e.get("score"), str)
    }
    priority = scores.get("Ubuntu", "")
    if priority.lower() in _WORDS:
        return _WORDS[priority.lower()], f"Ubuntu priority {priority}"
    for kind, score_of, scale in (
        ("CVSS_V3", cvss3_score, (4.0, 7.0, 9.0)),
        ("CVSS_V2", cvss2_score, (4.0, 7.0)),
    ):
        score = score_of(scores[kind]) if kind in scores else None
        if score is not None:
            return _rating(score, scale), f"{kind} {score}"
    return None


def _severity(
    summary: str, affected: dict[str, Any], record: dict[str, Any]
) -> tuple[Severity, str]:
    """The severity of an affected entry and where it comes from: the
    distribution's own word (a database_specific or ecosystem_specific
    `severity`, a Red Hat style `Important: ...` summary), else a score,
    else medium."""
    for where, specific in (
        ("affected ecosystem_specific", affected.get("ecosystem_specific")),
        ("affected database_specific", affected.get("database_specific")),
        ("database_specific", record.get("database_specific")),
    ):
        word = specific.get("severity") if isinstance(specific, dict) else None
        if isinstance(word, str) and word.lower() in _WORDS:
            return _WORDS[word.lower()], f"{where} severity {word}"
    prefix = summary.partition(":")[0]
    if prefix.lower() in ("low", "moderate", "important", "critical"):
        return _WORDS[prefix.lower()], f"summary {prefix}"
    for entries in (affected.get("severity"), record.get("severity")):
        scored = _scored(entries) if isinstance(entries, list) else None
        if scored:
            return scored
    return "medium", "unknown: medium assumed"


def _osv_names(package: Package) -> tuple[str, ...]:
    """The names records give a package: Debian, Ubuntu and Alpine name the
    source package; Red Hat, AlmaLinux and Rocky Linux binary or source rpms."""
    if package.manager == "rpm":
        return tuple(dict.fromkeys((package.name, package.source)))
    return (package.source,)


class Database:
    """An OSV database on disk. Each set of ecosystems is read from it once,
    when first matched; documents that name none of them are not parsed."""

    def __init__(self, path: Path) -> None:
        if not (path.is_dir() or (path.is_file() and path.suffix in (".json", ".zip"))):
            raise DatabaseError(
                f"{path}: not an OSV database (a directory of .json files, a .json file or a .zip)"
            )
        self.path = path
        self._indexes: dict[Ecosystems, dict[str, list[_Affected]]] = {}

    def _index(self, scope: Ecosystems) -> dict[str, list[_Affected]]:
        if scope not in self._indexes:
            index: dict[str, list[_Affected]] = {}
            for name, document in _documents(self.path):
                if not scope.named_in(document):
                    continue
                try:
                    parsed = json.loads(document)
                except ValueError as error:
                    raise DatabaseError(f"{name}: not JSON: {error}") from None
                for raw in parsed if isinstance(parsed, list) else [parsed]:
                    for entry in _entries(raw, name, scope):
                        index.setdefault(entry.name, []).append(entry)
            self._indexes[scope] = index
        return self._indexes[scope]

    def matches(self, distribution: Distribution, packages: Iterable[Package]) -> list[Match]:
        """Every (package, record) where the installed version is affected,
        by package then record id; `UnknownDistribution` if OSV has no
        ecosystem for the distribution."""
        scope = ecosystems(distribution)
        if scope is None:
            raise UnknownDistribution(
                f"the OSV database has no ecosystem for {distribution.id} {distribution.version_id}"
            )
        index, compare = self._index(scope), COMPARE[scope.manager]
        found: dict[tuple[str, str, str], Match] = {}
        for package in packages:
            if package.manager != scope.manager:
                continue
            for name in _osv_names(package):
                for entry in index.get(name, []):
                    key = (package.name, package.arch, entry.record.id)
                    affected, fixed = _affects(entry, package.source_version, compare)
                    if affected and (key not in found or not found[key].fixed):
                        found[key] = _match(package, entry, fixed)
        return [found[key] for key in sorted(found)]


def _match(package: Package, entry: _Affected, fixed: str | None) -> Match:
    return Match(
        package.name,
        package.arch,
        package.version,
        entry.record.id,
        entry.record.aliases,
        entry.record.summary,
        fixed,
        entry.severity,
        entry.severity_basis,
        entry.ecosystem,
        entry.name,
    )
