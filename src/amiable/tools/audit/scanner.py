"""What an image's own files give away: `SCAN`, a POSIX sh script run inside
the image (busybox sh and busybox's find, grep, awk, sed, stat, head, cat
suffice; no bash, no python) that writes one tab-separated line per fact to
a file, and `parse`, which reads that file back as typed results.

The script looks for private keys, AWS access keys with their secrets and
AWS credential files, SSH host keys, authorized_keys, shell histories, a
non-empty machine-id, world-writable files and directories, and setuid or
setgid files; it also prints /etc/os-release's ID and VERSION_ID and the
package inventory (`sbom.LIST_PACKAGES`, with `vulnerabilities.LIST_SOURCES`).
It never prints a secret: a finding's evidence is its path, with the key
types of a private key file, an access key id masked (AKIA************WXYZ),
or a file's mode. Symbolic links are never followed, /proc, /sys, /dev and
/run are not searched, and files over 10 MiB are not read.

`sh -c "$SCAN" sh [OUTPUT [ROOT]]`: OUTPUT defaults to `OUTPUT`, ROOT (the
file system to inspect, `/` inside an image) to `/`; the paths printed are
as seen from ROOT, so a tree inspected from outside reads like an image.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from amiable.tools.sbom import LIST_PACKAGES

from .vulnerabilities import LIST_SOURCES, Distribution, Package, inventory

# Not in /tmp: systemd-tmpfiles empties /tmp at boot, which may still be under
# way on a systemd image when the scan runs.
OUTPUT = "/var/tmp/.amiable-audit-scan"

RULES = (
    "private-key",
    "aws-credentials",
    "ssh-host-keys",
    "authorized-keys",
    "shell-history",
    "machine-id",
    "world-writable",
    "setuid",
)

DEFAULT_SETUID_ALLOWED = (
    "/usr/bin/passwd",
    "/usr/bin/su",
    "/bin/su",
    "/usr/bin/sudo",
    "/usr/bin/mount",
    "/usr/bin/umount",
    "/bin/mount",
    "/bin/umount",
    "/usr/bin/newgrp",
    "/usr/bin/chsh",
    "/usr/bin/chfn",
    "/usr/bin/gpasswd",
    "/usr/bin/chage",
    "/usr/bin/expiry",
    "/usr/bin/newuidmap",
    "/usr/bin/newgidmap",
    "/usr/bin/ping",
    "/bin/ping",
    "/usr/bin/crontab",
    "/usr/bin/at",
    "/usr/bin/wall",
    "/usr/bin/write",
    "/usr/bin/bsd-write",
    "/usr/bin/ssh-agent",
    "/usr/bin/fusermount",
    "/usr/bin/fusermount3",
    "/usr/bin/pkexec",
    "/usr/bin/dotlockfile",
    "/usr/bin/locate",
    "/usr/bin/plocate",
    "/usr/sbin/unix_chkpwd",
    "/sbin/unix_chkpwd",
    "/usr/sbin/pam_extrausers_chkpwd",
    "/usr/sbin/pam_timestamp_check",
    "/usr/sbin/mount.nfs",
    "/usr/sbin/userhelper",
    "/usr/sbin/usernetctl",
    "/usr/lib/openssh/ssh-keysign",
    "/usr/libexec/openssh/ssh-keysign",
    "/usr/lib/dbus-1.0/dbus-daemon-launch-helper",
    "/usr/libexec/dbus-1/dbus-daemon-launch-helper",
    "/usr/lib/polkit-1/polkit-agent-helper-1",
    "/usr/libexec/polkit-agent-helper-1",
    "/usr/lib/*/utempter/utempter",
    "/usr/libexec/utempter/utempter",
    "/usr/lib/snapd/snap-confine",
    "/bin/busybox",
    "/bin/bbsuid",
)
"""Setuid and setgid files usual in distribution images (fnmatch patterns)."""

_KEY_ID = "[A-Z0-9]" * 16  # spelt out: mawk 1.3.4 has no {16}
_SECRET = r"[A-Za-z0-9\/+]" * 40  # the slash escaped for the awk regex literal

# The package databases sbom.LIST_PACKAGES and LIST_SOURCES read, read under the root instead.
_PACKAGE_DATABASES = ("/var/lib/dpkg/status", "/lib/apk/db/installed")


def _rooted(script: str) -> str:
    for path in _PACKAGE_DATABASES:
        script = script.replace(path, f'"$R"{path}')
    return script


_SCRIPT = r"""# amiable content scan (amiable.tools.audit.scanner): sh -c "$SCAN" sh [OUTPUT [ROOT]]
out=${1:-@OUTPUT@}
mkdir -p "${out%/*}"
root=${2:-/}
R=${root%/}  # the root as the prefix of the paths found: empty for /
top=${R:-/}
umask 077
NL='
'
# rpm reads its own database: the one under the root
if [ -n "$R" ]; then rpm() { command rpm --root "$R" "$@"; }; fi

# finding RULE FILE DETAIL: the path as seen from the root comes last (it may hold tabs)
finding() {
  printf 'finding\t%s\t%s\t%s\t%s\n' "$1" "$3" "$(stat -c %Y "$2")" "${2#"$R"}"
}

os_release() {
  for f in "$R/etc/os-release" "$R/usr/lib/os-release"; do
    if [ -f "$f" ] && [ ! -L "$f" ]; then
      awk -F= '$1 == "ID" { id = $2 } $1 == "VERSION_ID" { version = $2 }
        END { gsub(/["\047]/, "", id); gsub(/["\047]/, "", version)
          print "os\t" id "\t" version }' "$f"
      return
    fi
  done
  printf 'os\t\t\n'
}

# the masked access key ids of file $1: all of them with $2 = all, else
# only those with a secret (a 40-character base64 string with both cases,
# or an aws_secret_access_key) on their line or within 3 lines
key_ids() {
  awk -v all="$2" '
    function secret(s,   t, k) {
      if (tolower(s) ~ /aws_secret_access_key|secretaccesskey/) return 1
      t = " " s " "
      while (match(t, /[^A-Za-z0-9\/+]@SECRET@[^A-Za-z0-9\/+]/)) {
        k = substr(t, RSTART + 1, 40)
        if (k ~ /[a-z]/ && k ~ /[A-Z]/) return 1
        t = substr(t, RSTART + 41)
      }
      return 0
    }
    function confirm(id) {
      if (id in shown) return
      shown[id] = 1
      ids = ids (ids == "" ? "" : ",") substr(id, 1, 4) "************" substr(id, 17, 4)
    }
    {
      if (secret($0)) { near = NR; for (id in waiting) if (NR - waiting[id] <= 3) confirm(id) }
      t = " " $0 " "
      while (match(t, /[^A-Z0-9](AKIA|ASIA)@KEY_ID@[^A-Z0-9]/)) {
        id = substr(t, RSTART + 1, 20); t = substr(t, RSTART + 21)
        if (id ~ /EXAMPLE$/) continue
        if (all != "" || (near != "" && NR - near <= 3)) confirm(id); else waiting[id] = NR
      }
    }
    END { print ids }' "$1"
}

key_types() {
  # a BEGIN line of its own followed by a base64 (or PEM header) line: the text of a key,
  # not the bare marker that TLS libraries carry among their strings
  awk '
    begun != "" {
      if ($0 ~ /^[A-Za-z0-9+\/=]+\r?$/ || $0 ~ /^Proc-Type: /)
        if (!(begun in shown)) { shown[begun] = 1; types = types (types == "" ? "" : ",") begun }
      begun = ""
    }
    /^-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----\r?$/ {
      begun = $0; sub(/^-----BEGIN /, "", begun); sub(/ ?PRIVATE KEY-----\r?$/, "", begun)
      if (begun == "") begun = "PKCS8"
    }
    END { print types }' "$1"
}

# files holding a private key or an access key id
contents() {
  find "$top" \( -path "$R/proc" -o -path "$R/sys" -o -path "$R/dev" -o -path "$R/run" \) -prune \
    -o -type f -size -10241k ! -path "*$NL*" ! -path "$out" \
    -exec grep -l -E -e '-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----|(AKIA|ASIA)[A-Z0-9]{16}' {} + |
  while IFS= read -r f; do
    case ${f#"$R"} in
      /etc/ssh/ssh_host_*_key | */.aws/credentials) continue ;;  # reported by name
    esac
    types=$(key_types "$f")
    [ -n "$types" ] && finding private-key "$f" "$types"
    ids=$(key_ids "$f" "")
    [ -n "$ids" ] && finding aws-credentials "$f" "$ids"
  done
}

# files found by name, and by mode
names() {
  find "$top" \( -path "$R/proc" -o -path "$R/sys" -o -path "$R/dev" -o -path "$R/run" \) -prune \
    -o ! -path "*$NL*" \( \
      -type f \( -name .bash_history -o -name .ash_history -o -name .zsh_history \
        -o -name .sh_history -o -name .python_history -o -name .mysql_history \
        -o -name .psql_history -o -name .lesshst -o -name .viminfo \
        -o -name authorized_keys -o -name authorized_keys2 -o -name machine-id \
        -o -name 'ssh_host_*_key' -o -path '*/.aws/credentials' \) -print \
      -o -type f \( -perm -4000 -o -perm -2000 -o -perm -0002 \) -print \
      -o -type d -perm -0002 ! -perm -1000 -print \) |
  while IFS= read -r f; do
    p=${f#"$R"}
    [ -f "$f" ] && [ -s "$f" ] && case $p in
      /etc/ssh/ssh_host_*_key) finding ssh-host-keys "$f" "" ;;
      /etc/machine-id | /var/lib/dbus/machine-id)
        [ "$(head -c 64 "$f")" != uninitialized ] && finding machine-id "$f" "" ;;
      */.aws/credentials) finding aws-credentials "$f" "$(key_ids "$f" all)" ;;
      */authorized_keys | */authorized_keys2) finding authorized-keys "$f" "" ;;
      */.bash_history | */.ash_history | */.zsh_history | */.sh_history | */.python_history | \
        */.mysql_history | */.psql_history | */.lesshst | */.viminfo)
        finding shell-history "$f" "" ;;
    esac
    mode=$(stat -c %a "$f")
    [ -f "$f" ] && [ $((0$mode & 06000)) -ne 0 ] && finding setuid "$f" "$mode"
    case $p in
      /tmp | /tmp/* | /var/tmp | /var/tmp/* | /dev/shm | /dev/shm/*) ;;
      *) [ $((0$mode & 02)) -ne 0 ] && { [ -f "$f" ] || [ $((0$mode & 01000)) -eq 0 ]; } &&
          finding world-writable "$f" "$mode" ;;
    esac
  done
}

{
  os_release
  # when PID 1 started (boot time + its start in ticks of 1/100 s): the instance's boot,
  # in a container as on a virtual machine (/proc/stat's btime alone is the host's)
  awk -v btime="$(awk '$1 == "btime" { print $2 }' /proc/stat)" \
    '{ sub(/^.*\) /, ""); print "booted\t" int(btime + $20 / 100) }' /proc/1/stat
  ( @PACKAGES@ ) | awk '{ print "package\t" $0 }'
  ( @SOURCES@ ) | awk '{ print "source\t" $0 }'
  contents
  names
  printf 'end\n'
} > "$out" 2>/dev/null
"""

SCAN = (
    _SCRIPT.replace("@OUTPUT@", OUTPUT)
    .replace("@SECRET@", _SECRET)
    .replace("@KEY_ID@", _KEY_ID)
    .replace("@PACKAGES@", _rooted(LIST_PACKAGES))
    .replace("@SOURCES@", _rooted(LIST_SOURCES))
)


class ScanError(Exception):
    """The scan's output is not that of a finished scan."""


@dataclass(frozen=True)
class Exposure:
    """One thing an image's files give away."""

    rule: str  # one of RULES
    path: str  # as seen inside the image
    detail: str  # key types, masked access key ids, or the octal mode; "" for the others
    modified: int  # the file's mtime, seconds since the epoch


@dataclass(frozen=True)
class Scan:
    """What one image's scan found."""

    distribution: Distribution
    booted: int | None  # when the scanned system booted: later files were made by its boot
    listing: str  # sbom.LIST_PACKAGES's output, for sbom.components
    packages: tuple[Package, ...]  # with their sources, for vulnerabilities.Database.matches
    exposures: tuple[Exposure, ...]  # by path, then rule


def parse(output: str) -> Scan:
    """The scan's output file read back; `ScanError` if it did not finish."""
    lines = output.splitlines()
    if not lines or lines[-1] != "end":
        raise ScanError("the content scan did not finish: its output has no end line")
    distribution, booted = Distribution("", ""), None
    listing, sources, exposures = [], [], set()
    for line in lines:
        kind, _, rest = line.partition("\t")
        fields = rest.split("\t", 3)
        if kind == "os" and len(fields) == 2:
            distribution = Distribution(*fields)
        elif kind == "booted" and rest.isdigit():
            booted = int(rest)
        elif kind == "package":
            listing.append(rest)
        elif kind == "source":
            sources.append(rest)
        elif kind == "finding" and len(fields) == 4 and fields[0] in RULES:
            rule, detail, modified, path = fields
            exposures.add(Exposure(rule, path, detail, int(modified) if modified.isdigit() else 0))
    text = "\n".join(listing)
    return Scan(
        distribution,
        booted,
        text,
        tuple(inventory(text, "\n".join(sources))),
        tuple(sorted(exposures, key=lambda e: (e.path, e.rule, e.detail))),
    )


def unexpected_setuid(
    exposures: Iterable[Exposure], allowed: Iterable[str] = DEFAULT_SETUID_ALLOWED
) -> list[Exposure]:
    """The setuid/setgid files that match none of the `allowed` patterns."""
    patterns = tuple(allowed)
    return [
        e
        for e in exposures
        if e.rule == "setuid" and not any(fnmatchcase(e.path, p) for p in patterns)
    ]
