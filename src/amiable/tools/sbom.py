"""An SBOM of the packages in the image (CycloneDX 1.5 JSON), read in the
test instance from the package databases it has: dpkg's status file, apk's
installed database, rpm's database (through `rpm -qa`)."""

import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LIST_PACKAGES = r"""
if [ -f /var/lib/dpkg/status ]; then
  awk -v RS= -F'\n' '/(^|\n)Status: [^\n]* installed/ {
    p=""; v=""; a="";
    for (i = 1; i <= NF; i++) {
      if ($i ~ /^Package: /) p = substr($i, 10);
      if ($i ~ /^Version: /) v = substr($i, 10);
      if ($i ~ /^Architecture: /) a = substr($i, 15);
    }
    print "deb\t" p "\t" v "\t" a }' /var/lib/dpkg/status
fi
if [ -f /lib/apk/db/installed ]; then
  awk -F: '/^P:/ {p=$2} /^V:/ {v=$2} /^A:/ {a=$2} /^$/ {if (p) print "apk\t" p "\t" v "\t" a; p=""}
    END {if (p) print "apk\t" p "\t" v "\t" a}' /lib/apk/db/installed
fi
if command -v rpm >/dev/null 2>&1; then
  rpm -qa --qf 'rpm\t%{NAME}\t%{VERSION}-%{RELEASE}\t%{ARCH}\n' 2>/dev/null
fi
true
"""
LISTING = "/tmp/.amiable-bake-packages"
COLLECT = f"({LIST_PACKAGES}) > {LISTING}"
_PURL_TYPE = {"deb": "deb", "apk": "apk", "rpm": "rpm"}


def components(listing: str) -> list[dict[str, Any]]:
    found = []
    for line in sorted(set(listing.splitlines())):
        parts = line.split("\t")
        if len(parts) != 4 or not parts[1]:
            continue
        kind, name, version, arch = parts
        purl = f"pkg:{_PURL_TYPE[kind]}/{name}@{version}" + (f"?arch={arch}" if arch else "")
        found.append(
            {
                "type": "library",
                "bom-ref": purl,
                "name": name,
                "version": version,
                "purl": purl,
                "properties": [{"name": "amiable:package-manager", "value": kind}],
            }
        )
    return found


def document(image_name: str, version: str, listing: str) -> dict[str, Any]:
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "amiable bake"}]},
            "component": {
                "type": "operating-system",
                "bom-ref": image_name,
                "name": image_name,
                "version": version,
            },
        },
        "components": components(listing),
    }


def encoded(doc: dict[str, Any]) -> tuple[bytes, str]:
    """The SBOM's bytes and their SHA-256."""
    data = json.dumps(doc, indent=1, sort_keys=True).encode() + b"\n"
    return data, hashlib.sha256(data).hexdigest()


def listing_of(path: Path, digest: str | None) -> str | None:
    """The package listing an earlier SBOM holds, if `path` is the SBOM with
    that digest (the one tagged on the image of the same content)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if digest is None or hashlib.sha256(data).hexdigest() != digest:
        return None
    lines = []
    for component in json.loads(data).get("components", []):
        kind = next(
            p["value"] for p in component["properties"] if p["name"] == "amiable:package-manager"
        )
        arch = component["purl"].partition("?arch=")[2]
        lines.append(f"{kind}\t{component['name']}\t{component['version']}\t{arch}")
    return "\n".join(lines)
