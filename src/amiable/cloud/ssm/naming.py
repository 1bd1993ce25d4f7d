"""Parameter Store names as PutParameter documents them, `name:version` and
`name:label` selectors, and parameter ARNs.

A name uses `a-zA-Z0-9_.-` and `/`, which divides a hierarchy: a
hierarchical name starts with `/`, has no empty level and at most 15 levels.
A new name may not start with `aws` or `ssm` (case-insensitive, after the
leading `/`), and the name with the ARN before it is at most 1011
characters. Spaces around a name are dropped. The ARN of `/a/b` and of `a/b`
is `arn:aws:ssm:REGION:ACCOUNT:parameter/a/b`: no double slash.
"""

import re
from dataclasses import dataclass

from amiable.cloud.core.errors import ApiError

_CHARACTERS = re.compile(r"[a-zA-Z0-9_.\-/]+")
MAX_LEVELS = 15
MAX_WITH_ARN = 1011  # "includes the characters in the ARN that precede the name"
INVALID = (
    'Parameter name: can\'t be prefixed with "ssm" (case-insensitive). If formed as a path, '
    "it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix "
    "of letters, numbers and the following 3 symbols .-_"
)
RESERVED = 'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive).'


def validation(message: str) -> ApiError:
    return ApiError("ValidationException", message)


def arn_prefix(region: str, account_id: str) -> str:
    return f"arn:aws:ssm:{region}:{account_id}:parameter/"


def parameter_arn(region: str, account_id: str, name: str) -> str:
    return arn_prefix(region, account_id) + name.removeprefix("/")


def well_formed(name: str) -> bool:
    if not _CHARACTERS.fullmatch(name):
        return False
    if "/" not in name:
        return True
    return name.startswith("/") and "" not in name[1:].split("/")


def checked(name: str) -> str:
    """A name to read by (trimmed), or ValidationException."""
    name = name.strip()
    if not well_formed(name):
        raise validation(INVALID)
    return name


def new_name(name: str, region: str, account_id: str) -> str:
    """A name PutParameter may create (trimmed), or the error AWS answers."""
    name = checked(name)
    if name.lstrip("/").lower().startswith(("aws", "ssm")):
        path = name.count("/") > 1
        if path and name.lower().startswith("/aws"):
            raise ApiError(
                "AccessDeniedException", f"No access to reserved parameter name: {name}."
            )
        raise validation(INVALID if path else RESERVED)
    if len(name.strip("/").split("/")) > MAX_LEVELS:
        raise ApiError(
            "HierarchyLevelLimitExceededException",
            f"A hierarchy can have a maximum of {MAX_LEVELS} levels.",
        )
    if len(parameter_arn(region, account_id, name)) > MAX_WITH_ARN:
        raise validation(
            f"Parameter name: the name with its ARN can be at most {MAX_WITH_ARN} characters."
        )
    return name


@dataclass(frozen=True)
class Reference:
    """What GetParameter and `resolve:ssm:` name: the parameter's possible names
    (an ARN without a hierarchy fits `a` and `/a`) and a selector, without its colon."""

    names: tuple[str, ...]
    selector: str | None

    @property
    def version(self) -> int | None:
        return int(self.selector) if self.selector and self.selector.isdigit() else None


def reference(text: str, region: str, account_id: str) -> Reference:
    """`name`, `name:selector`, `ARN` or `ARN:selector`; an ARN of another
    account or region names nothing here (no names)."""
    text = text.strip()
    if text.startswith("arn:"):
        prefix = arn_prefix(region, account_id)
        if not text.startswith(prefix):
            return Reference((), None)
        body, selector = _selected(text[len(prefix) :])
        names = (f"/{body}",) if "/" in body else (body, f"/{body}")
        return Reference(tuple(checked(n) for n in names), selector)
    body, selector = _selected(text)
    return Reference((checked(body),), selector)


def _selected(text: str) -> tuple[str, str | None]:
    body, colon, selector = text.rpartition(":")
    return (body, selector) if colon and selector else (text, None)
