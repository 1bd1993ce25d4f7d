"""Package version ordering as each distribution's package manager defines
it: dpkg's (Debian policy §5.6.12, lib/dpkg/version.c), apk-tools' (Alpine,
src/version.c) and rpm's (rpmio/rpmvercmp.c with epoch:version-release).

Each comparison returns -1, 0 or 1 as `a` is older than, the same as, or
newer than `b`. They are total: a string the package manager would refuse
is still ordered, the way its comparison code orders it.
"""

from collections.abc import Callable

Compare = Callable[[str, str], int]


def _sign(number: int) -> int:
    return (number > 0) - (number < 0)


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"


def _is_letter(char: str) -> bool:
    return "a" <= char <= "z" or "A" <= char <= "Z"


def _dpkg_weight(char: str) -> int:
    """dpkg's order(): digits and the end weigh 0, `~` sorts before
    everything (even the end), letters before the other characters."""
    if char == "" or _is_digit(char):
        return 0
    if _is_letter(char):
        return ord(char)
    if char == "~":
        return -1
    return ord(char) + 256


def _dpkg_part_compare(a: str, b: str) -> int:
    """dpkg's verrevcmp: alternating non-digit runs (character by character,
    weighted) and digit runs (numerically), for an upstream version or a
    revision."""
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and not _is_digit(a[i])) or (j < len(b) and not _is_digit(b[j])):
            weight_a = _dpkg_weight(a[i] if i < len(a) else "")
            weight_b = _dpkg_weight(b[j] if j < len(b) else "")
            if weight_a != weight_b:
                return _sign(weight_a - weight_b)
            i, j = i + 1, j + 1
        start_a, start_b = i, j
        while i < len(a) and _is_digit(a[i]):
            i += 1
        while j < len(b) and _is_digit(b[j]):
            j += 1
        number_a, number_b = int(a[start_a:i] or "0"), int(b[start_b:j] or "0")
        if number_a != number_b:
            return _sign(number_a - number_b)
    return 0


def _dpkg_parts(version: str) -> tuple[int, str, str]:
    """epoch, upstream version and revision, split as dpkg's parseversion():
    the epoch up to the first colon, the revision after the last hyphen."""
    version = version.strip()
    epoch, colon, rest = version.partition(":")
    if not colon or not epoch.isascii() or not epoch.isdigit():
        epoch, rest = "0", version
    upstream, hyphen, revision = rest.rpartition("-")
    if not hyphen:
        upstream, revision = rest, ""
    return int(epoch), upstream, revision


def dpkg_compare(a: str, b: str) -> int:
    """Debian and Ubuntu package versions, `[epoch:]upstream[-revision]`."""
    epoch_a, upstream_a, revision_a = _dpkg_parts(a)
    epoch_b, upstream_b, revision_b = _dpkg_parts(b)
    if epoch_a != epoch_b:
        return _sign(epoch_a - epoch_b)
    return _dpkg_part_compare(upstream_a, upstream_b) or _dpkg_part_compare(revision_a, revision_b)


# apk-tools' tokens, in the order the grammar allows them:
# digit{.digit}...{letter}{_suffix{number}}...{~hash}{-rN}
_INITIAL_DIGIT, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NUMBER = range(5)
_HASH, _REVISION, _END, _INVALID = range(5, 9)
# Suffixes below "none" (a version with no suffix) are pre-releases.
_APK_SUFFIXES = ("alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg", "p")
_APK_NO_SUFFIX = _APK_SUFFIXES.index("")
_HEX = frozenset("0123456789abcdefABCDEF")


class _ApkTokens:
    """The tokens of one apk version, read one at a time as apk-tools'
    token_first()/token_next() read them."""

    def __init__(self, version: str) -> None:
        self.text = version
        self.at = 0
        self.kind = _INITIAL_DIGIT
        self.value = ""
        self.suffix = 0
        self._digits()

    def _digits(self) -> None:
        start = self.at
        while self.at < len(self.text) and _is_digit(self.text[self.at]):
            self.at += 1
        self.value = self.text[start : self.at]
        if not self.value:
            self.kind = _INVALID

    def _run(self, allowed: Callable[[str], bool]) -> str:
        start = self.at
        while self.at < len(self.text) and allowed(self.text[self.at]):
            self.at += 1
        return self.text[start : self.at]

    def next(self) -> None:
        if self.at >= len(self.text):
            self.kind = _END
            return
        char, previous = self.text[self.at], self.kind
        if "a" <= char <= "z" and previous <= _DIGIT:
            self.value, self.kind, self.at = char, _LETTER, self.at + 1
        elif (char == "." and previous <= _DIGIT) or _is_digit(char):
            self.at += char == "."
            self._number_after(previous)
        elif char == "_" and previous <= _SUFFIX_NUMBER:
            self.at += 1
            self.value = self._run(lambda c: "a" <= c <= "z")
            self.suffix = _APK_SUFFIXES.index(self.value) if self.value in _APK_SUFFIXES else -1
            self.kind = _SUFFIX if self.value and self.suffix >= 0 else _INVALID
        elif char == "~" and previous < _HASH:
            self.at += 1
            self.value = self._run(lambda c: c in _HEX)
            self.kind = _HASH if self.value else _INVALID
        elif self.text.startswith("-r", self.at) and previous < _REVISION:
            self.at += 2
            self.kind = _REVISION
            self._digits()
        else:
            self.kind = _INVALID

    def _number_after(self, previous: int) -> None:
        if previous in (_INITIAL_DIGIT, _DIGIT):
            self.kind = _DIGIT
        elif previous == _SUFFIX:
            self.kind = _SUFFIX_NUMBER
        else:
            self.kind = _INVALID
            return
        self._digits()


def _apk_token_compare(a: _ApkTokens, b: _ApkTokens) -> int:
    """Two tokens of the same kind, as apk-tools' token_cmp()."""
    if a.kind == _DIGIT and (a.value.startswith("0") or b.value.startswith("0")):
        return _sign((a.value > b.value) - (a.value < b.value))  # a leading zero: as strings
    if a.kind in (_INITIAL_DIGIT, _DIGIT, _SUFFIX_NUMBER, _REVISION):
        return _sign(int(a.value) - int(b.value))
    if a.kind == _SUFFIX:
        return _sign(a.suffix - b.suffix)
    return _sign((a.value > b.value) - (a.value < b.value))  # letters, commit hashes


def apk_compare(a: str, b: str) -> int:
    """Alpine package versions, `1.2.3b_rc1_p2~abc0-r4`."""
    tokens_a, tokens_b = _ApkTokens(a), _ApkTokens(b)
    while tokens_a.kind == tokens_b.kind and tokens_a.kind < _END:
        order = _apk_token_compare(tokens_a, tokens_b)
        if order:
            return order
        tokens_a.next()
        tokens_b.next()
    if tokens_a.kind == tokens_b.kind:
        return 0
    # Equal so far: the longer is newer, unless what it goes on with is a pre-release suffix.
    if tokens_a.kind == _SUFFIX and tokens_a.suffix < _APK_NO_SUFFIX:
        return -1
    if tokens_b.kind == _SUFFIX and tokens_b.suffix < _APK_NO_SUFFIX:
        return 1
    return _sign(tokens_b.kind - tokens_a.kind)


def _rpm_separator(char: str) -> bool:
    """What rpmvercmp skips between segments: all but letters, digits, `~`, `^`."""
    return not (_is_digit(char) or _is_letter(char) or char in "~^")


def rpmvercmp(a: str, b: str) -> int:
    """rpm's segment comparison of one version or one release: digit runs
    numerically and newer than letter runs, other characters only separate,
    `~` sorts before everything (even the end), `^` after everything but
    the end."""
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        while i < len(a) and _rpm_separator(a[i]):
            i += 1
        while j < len(b) and _rpm_separator(b[j]):
            j += 1
        char_a, char_b = a[i : i + 1], b[j : j + 1]
        if "~" in (char_a, char_b):
            if char_a != char_b:
                return -1 if char_a == "~" else 1
            i, j = i + 1, j + 1
            continue
        if "^" in (char_a, char_b):
            if not char_a:
                return -1
            if not char_b:
                return 1
            if char_a != char_b:
                return -1 if char_a == "^" else 1
            i, j = i + 1, j + 1
            continue
        if not (char_a and char_b):
            break
        in_segment = _is_digit if _is_digit(char_a) else _is_letter
        start_a, start_b = i, j
        while i < len(a) and in_segment(a[i]):
            i += 1
        while j < len(b) and in_segment(b[j]):
            j += 1
        segment_a, segment_b = a[start_a:i], b[start_b:j]
        if not segment_b:  # one run of digits, the other of letters
            return 1 if in_segment is _is_digit else -1
        if in_segment is _is_digit:
            segment_a, segment_b = segment_a.lstrip("0"), segment_b.lstrip("0")
            if len(segment_a) != len(segment_b):
                return _sign(len(segment_a) - len(segment_b))
        if segment_a != segment_b:
            return -1 if segment_a < segment_b else 1
    if i >= len(a) and j >= len(b):
        return 0
    return -1 if i >= len(a) else 1


def _rpm_parts(evr: str) -> tuple[str, str, str | None]:
    """epoch, version and release, split as rpm's parseEVR(): the epoch is
    the leading digits before a colon (0 when none), the release follows
    the last hyphen (None when none)."""
    digits = len(evr) - len(evr.lstrip("0123456789"))
    epoch, rest = ("0", evr)
    if evr[digits : digits + 1] == ":":
        epoch, rest = evr[:digits] or "0", evr[digits + 1 :]
    version, hyphen, release = rest.rpartition("-")
    if not hyphen:
        return epoch, rest, None
    return epoch, version, release


def rpm_compare(a: str, b: str) -> int:
    """rpm package versions, `[epoch:]version[-release]`, as rpmverCmp():
    a release missing on either side is not compared."""
    epoch_a, version_a, release_a = _rpm_parts(a)
    epoch_b, version_b, release_b = _rpm_parts(b)
    order = rpmvercmp(epoch_a, epoch_b) or rpmvercmp(version_a, version_b)
    if order or release_a is None or release_b is None:
        return order
    return rpmvercmp(release_a, release_b)


COMPARE: dict[str, Compare] = {"deb": dpkg_compare, "apk": apk_compare, "rpm": rpm_compare}
"""The comparison for each package manager, by the kind `sbom.LIST_PACKAGES` prints."""
