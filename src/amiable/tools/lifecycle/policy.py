"""A lifecycle policy file: which images form each family, which of them
are kept, and the delays of the stages an image goes through once it leaves
the keep set (docs/lifecycle.md). YAML, validated by pydantic; every error
names the file, the line and the field."""

import fnmatch
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from amiable.tools.user_files import Duration, Strict, load

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_ROLE_ARN = r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$"


class Account(Strict):
    """Whose images: an AWS profile (none: the default credentials), or a
    role assumed with it (AWS only)."""

    profile: str | None = None
    role_arn: str | None = Field(default=None, pattern=_ROLE_ARN)


class Select(Strict):
    """The account's own images whose name matches `name` (a shell pattern)
    and that carry every tag of `tags`."""

    name: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _something(self) -> "Select":
        if self.name is None and not self.tags:
            raise ValueError("select needs a name pattern, tags, or both")
        return self

    def matches(self, name: str, tags: dict[str, str]) -> bool:
        if self.name is not None and not fnmatch.fnmatchcase(name, self.name):
            return False
        return all(tags.get(k) == v for k, v in self.tags.items())


class Keep(Strict):
    """An image is kept when any criterion keeps it (per region and account)."""

    newest: int = Field(default=1, ge=0)
    younger_than: Duration | None = None
    tagged: dict[str, str] = Field(default_factory=dict)


class Stages(Strict):
    """Delays after an image leaves the keep set; `disable` may be left out."""

    deprecate: Duration = timedelta(0)
    disable: Duration | None = None
    deregister: Duration | None = None

    @model_validator(mode="after")
    def _in_order(self) -> "Stages":
        delays = [d for d in (self.deprecate, self.disable, self.deregister) if d is not None]
        if delays != sorted(delays):
            raise ValueError(
                "the stages' delays must not decrease (deprecate, disable, then deregister)"
            )
        return self


class InUse(Strict):
    """How far use is looked for."""

    version_depth: int = Field(default=20, ge=1, le=10000)
    last_launched_within: Duration = timedelta(days=14)


class Family(Strict):
    name: str = Field(pattern=_NAME)
    select: Select
    keep: Keep = Keep()
    stages: Stages = Stages()


class Policy(Strict):
    regions: list[str] | Literal["all"] = Field(min_length=1)
    accounts: list[Account] = Field(default_factory=lambda: [Account()], min_length=1)
    in_use: InUse = InUse()
    families: list[Family] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_families(self) -> "Policy":
        names = [f.name for f in self.families]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"family {twice[0]} is named twice")
        return self

    def family_of(self, name: str, tags: dict[str, str]) -> Family | None:
        """The first family that selects an image, if any."""
        return next((f for f in self.families if f.select.matches(name, tags)), None)


def load_policy(path: Path) -> Policy:
    policy, _ = load(path, Policy, "policy")
    return policy
