"""Where the console may send a browser back to after signing in: a path under
`/console` on this server, never another site (no open redirect)."""

from urllib.parse import urlsplit

HOME = "/console"


def safe_next(value: str | None) -> str:
    """`value` if it is a plain path under /console, else /console."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return HOME
    if "\\" in value or any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        return HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.fragment:
        return HOME
    if parts.path != HOME and not parts.path.startswith(HOME + "/"):
        return HOME
    if ".." in parts.path.split("/") or "." in parts.path.split("/"):
        return HOME
    return value
