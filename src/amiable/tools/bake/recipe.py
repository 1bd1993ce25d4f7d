"""A bake recipe: its typed model, loading it (`--var` overrides, every
`{{ name }}` checked against what is known), and rendering it once the
build's own values (timestamp, build id, base image) are known.

Only strings are templated; a template naming an unknown variable is an
error at load, with its line.
"""

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from amiable.tools.audit.findings import Severity
from amiable.tools.user_files import Duration, Strict, UserFileError, load, validate

TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
BUILT_IN = (
    "name",
    "version",
    "timestamp",
    "build_id",
    "base_image",
    "base_name",
    "build_region",
)
_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_ACCOUNT = r"^\d{12}$"
Scalar = str | int | float | bool


class Base(Strict):
    """Where the build starts: an image id, an SSM parameter naming one, or
    the newest image a DescribeImages query finds (owners required, as
    Packer requires them)."""

    image: str | None = None
    parameter: str | None = None
    owners: list[str] = []
    name: str | None = None
    filters: dict[str, str | list[str]] = {}
    include_deprecated: bool = False

    @model_validator(mode="after")
    def _one_way(self) -> "Base":
        query = bool(self.owners or self.name or self.filters)
        ways = sum((self.image is not None, self.parameter is not None, query))
        if ways != 1:
            raise ValueError("give exactly one of image, parameter, or a query (owners, name)")
        if query and not self.owners:
            raise ValueError("a query needs owners (such as [amazon] or [self])")
        return self


class CopyFiles(Strict):
    """A file or folder beside the recipe, put into the instance. `site/`
    (trailing slash) copies the folder's content into `dest`; `site` copies
    the folder itself into `dest`; a file goes to `dest`, or into it when
    `dest` ends with `/`."""

    src: str
    dest: str


STEP_KINDS = ("run", "script", "copy", "reboot")


class Step(Strict):
    name: str | None = None
    run: str | list[str] | None = None
    script: str | None = None  # a shell script beside the recipe
    copy_files: CopyFiles | None = Field(default=None, alias="copy")
    reboot: bool | None = None
    timeout: Duration = timedelta(hours=1)

    @model_validator(mode="after")
    def _one_kind(self) -> "Step":
        given = [k for k in STEP_KINDS if getattr(self, _attr(k)) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(STEP_KINDS)}")
        if self.reboot is False:
            raise ValueError("reboot: true is the only reboot step")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in STEP_KINDS if getattr(self, _attr(k)) is not None)

    def title(self, index: int) -> str:
        if self.name:
            return self.name
        if self.run is not None:
            first = self.run if isinstance(self.run, str) else " && ".join(self.run)
            first = first.strip().splitlines()[0] if first.strip() else ""
            return f"run: {first[:60]}…" if len(first) > 60 else f"run: {first}"
        if self.script is not None:
            return f"script: {self.script}"
        if self.copy_files is not None:
            return f"copy: {self.copy_files.src} → {self.copy_files.dest}"
        return "reboot"


def _attr(kind: str) -> str:
    return "copy_files" if kind == "copy" else kind


class Build(Strict):
    instance_type: str = "t3.micro"
    steps: list[Step] = []
    user_data: str | None = None


class PrepareItems(Strict):
    """The built-in clean-up before imaging, item by item, and extra commands."""

    temp_files: bool = True
    logs: bool = True
    shell_history: bool = True
    machine_id: bool = True
    ssh_host_keys: bool = True
    authorized_keys: bool = True
    cloud_init: bool = True
    package_caches: bool = True
    commands: list[str] = []


class Check(Strict):
    name: str
    run: str | list[str]
    timeout: Duration = timedelta(minutes=10)


class Audit(Strict):
    """`ami audit` in the test gate: the image rules on the candidate and
    the content rules inside its test instance; files beside the recipe."""

    fail_on: Severity = "high"
    rules: str | None = None  # a rules file (docs/audit.md)
    vuln_db: str | None = None  # an OSV database, for vulnerable-package

    def rules_path(self, folder: Path) -> Path | None:
        return folder / self.rules if self.rules else None

    def database_path(self, folder: Path) -> Path | None:
        return folder / self.vuln_db if self.vuln_db else None


class Image(Strict):
    name: str
    description: str = ""
    tags: dict[str, str] = {}
    deprecate_after: Duration | None = None
    encrypted: bool = False
    kms_key_id: str | dict[str, str] | None = None  # one key, or region -> key

    @field_validator("tags")
    @classmethod
    def _tag_keys(cls, tags: dict[str, str]) -> dict[str, str]:
        for key in tags:
            if key.lower().startswith("aws:"):
                raise ValueError(f"tag keys may not begin with aws: ({key})")
        return tags

    @model_validator(mode="after")
    def _key_needs_encryption(self) -> "Image":
        if self.kms_key_id is not None and not self.encrypted:
            raise ValueError("kms_key_id needs encrypted: true")
        return self

    def kms_key_in(self, region: str) -> str | None:
        if isinstance(self.kms_key_id, dict):
            return self.kms_key_id.get(region)
        return self.kms_key_id


class Distribute(Strict):
    regions: list[str] = []  # none: the build region only
    accounts: list[str] = []
    organizations: list[str] = []
    organizational_units: list[str] = []
    public: bool = False
    parameter: str | None = None
    launch_templates: list[str] = []
    verify: bool = True

    @field_validator("accounts")
    @classmethod
    def _accounts(cls, accounts: list[str]) -> list[str]:
        for account in accounts:
            if not re.match(_ACCOUNT, account):
                raise ValueError(f"{account!r} is not a 12-digit account id (quote it)")
        return accounts

    @field_validator("regions")
    @classmethod
    def _regions(cls, regions: list[str]) -> list[str]:
        if len(set(regions)) != len(regions):
            raise ValueError("a region is named twice")
        return regions


class Recipe(Strict):
    name: str = Field(pattern=_NAME)
    version: str = "0"
    description: str = ""
    vars: dict[str, Scalar] = {}
    base: Base
    build: Build = Build()
    prepare: bool | list[str] | PrepareItems = True
    tests: list[Check] = []
    audit: Audit | None = None
    image: Image
    distribute: Distribute | None = None

    @field_validator("vars")
    @classmethod
    def _var_names(cls, given: dict[str, Scalar]) -> dict[str, Scalar]:
        for key in given:
            if key in BUILT_IN:
                raise ValueError(f"{key} is a built-in variable")
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
                raise ValueError(f"{key!r} is not a variable name (letters, digits, _)")
        return given

    @model_validator(mode="after")
    def _encrypted_is_never_public(self) -> "Recipe":
        if self.image.encrypted and self.distribute and self.distribute.public:
            raise ValueError("distribute.public: AWS never makes an encrypted image public")
        return self

    def regions(self, default: str) -> list[str]:
        """Every target region, the build region first."""
        return (
            list(self.distribute.regions)
            if self.distribute and self.distribute.regions
            else [default]
        )

    def prepare_items(self) -> PrepareItems | None:
        if self.prepare is False:
            return None
        if self.prepare is True:
            return PrepareItems()
        if isinstance(self.prepare, list):
            return PrepareItems(commands=self.prepare)
        return self.prepare


class Loaded:
    """A recipe file as written, with its variables settled; `rendered`
    gives the recipe with every template filled in."""

    def __init__(self, path: Path, overrides: dict[str, str]) -> None:
        self.path = path.absolute()
        self.folder = self.path.parent
        self.written, self._marked = load(path, Recipe, "recipe")
        unknown = sorted(set(overrides) - set(self.written.vars))
        if unknown:
            declared = ", ".join(sorted(self.written.vars)) or "none"
            raise UserFileError(
                f"{path}: --var {unknown[0]}: not a variable of the recipe (declared: {declared})"
            )
        self.variables = {k: _text(v) for k, v in self.written.vars.items()} | overrides
        self._check_templates(self._marked.data, ())

    def _check_templates(self, value: Any, at: tuple[str | int, ...]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if at != () or key != "vars":
                    self._check_templates(item, (*at, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self._check_templates(item, (*at, index))
        elif isinstance(value, str):
            for name in TEMPLATE.findall(value):
                if name not in self.variables and name not in BUILT_IN:
                    raise self._marked.error(at, f"{{{{ {name} }}}} is not a variable")

    def values(self, built_in: dict[str, str]) -> dict[str, str]:
        return {
            "name": self.written.name,
            "version": self.written.version,
            **self.variables,
            **built_in,
        }

    def rendered(self, built_in: dict[str, str]) -> Recipe:
        """The recipe with every `{{ name }}` replaced (a built-in not yet
        known stays as written)."""
        values = self.values(built_in)
        return validate(self._marked, _render_tree(self._marked.data, values), Recipe)


def render(text: str, values: dict[str, str]) -> str:
    return TEMPLATE.sub(lambda m: values.get(m[1], m[0]), text)


def _render_tree(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _render_tree(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_tree(v, values) for v in value]
    return render(value, values) if isinstance(value, str) else value


def _text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_overrides(pairs: tuple[str, ...]) -> dict[str, str]:
    """`--var key=value` pairs."""
    overrides: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserFileError(f"--var {pair}: give key=value")
        overrides[key] = value
    return overrides
