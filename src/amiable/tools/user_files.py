"""Files users write (bake recipes, lifecycle policies, audit rules): YAML
read with the line of every value, validated by a pydantic model, and every
problem told as one line naming the file, the line and the field:

    web.yaml:12: build.steps[1].run: not a valid string

Durations (`90d`, `12h`, `30m`, `45s`, `2w`) are a type of their own here.
"""

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

Location = tuple[str | int, ...]
Model = TypeVar("Model", bound=BaseModel)


class Strict(BaseModel):
    """A part of a user file: unknown keys are errors, values are not coerced
    from other types (a number is not a string)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


class UserFileError(Exception):
    """One line: `FILE:LINE: FIELD: what is wrong`."""


class Marked:
    """A YAML document as plain values, and the line each value starts on."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines: dict[Location, int] = {}
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark else 1
            problem = getattr(exc, "problem", None) or str(exc)
            raise UserFileError(f"{path}:{line}: not valid YAML: {problem}") from exc
        self.data = self._value(node, ()) if node is not None else {}

    def _value(self, node: yaml.Node, at: Location) -> Any:
        self.lines[at] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            mapping: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in mapping:
                    raise UserFileError(
                        f"{self.path}:{key_node.start_mark.line + 1}: {_field((*at, key))}: "
                        "given twice"
                    )
                mapping[key] = self._value(value_node, (*at, key))
            return mapping
        if isinstance(node, yaml.SequenceNode):
            return [self._value(item, (*at, i)) for i, item in enumerate(node.value)]
        return yaml.SafeLoader(" ").construct_object(node)

    def line_of(self, at: Location) -> int:
        """The line of the value at `at`, or of its nearest enclosing value."""
        while at not in self.lines and at:
            at = at[:-1]
        return self.lines.get(at, 1)

    def error(self, at: Location, message: str) -> UserFileError:
        where = f"{_field(at)}: " if at else ""
        return UserFileError(f"{self.path}:{self.line_of(at)}: {where}{message}")


def load(path: Path, model: type[Model], what: str = "file") -> tuple[Model, Marked]:
    """The file validated as `model`, and its marked document."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserFileError(f"{path}: cannot read the {what}: {exc}") from exc
    marked = Marked(path, text)
    if not isinstance(marked.data, dict):
        raise marked.error((), f"a {what} is a mapping of keys to values")
    return validate(marked, marked.data, model), marked


def validate(marked: Marked, data: Any, model: type[Model]) -> Model:
    """`data` (the marked document, or a rendering of it) validated as `model`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        at = _data_location(data, tuple(first["loc"]))
        if first["type"] == "missing":
            at = (*at, first["loc"][-1])
        raise marked.error(at, _message(first)) from exc


def _data_location(data: Any, loc: Location) -> Location:
    """The keys and indexes of pydantic's location that lead into the
    document (the names of union members it adds are left out)."""
    kept: list[str | int] = []
    value = data
    for part in loc:
        inside = (isinstance(value, dict) and part in value) or (
            isinstance(value, list) and isinstance(part, int) and part < len(value)
        )
        if inside:
            value = value[part]
            kept.append(part)
    return tuple(kept)


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "missing (it is required)"
    if kind == "string_type" and isinstance(error.get("input"), int | float):
        return f"{error['input']} is a number here; quote it to make it a string"
    text = str(error["msg"])
    text = text.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return text[0].lower() + text[1:] if text else kind


def _field(at: Location) -> str:
    text = ""
    for part in at:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """`90d`, `12h`, `30m`, `45s`, `2w`, or a whole number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"{value!r} is not a duration such as 90d, 12h, 30m or 45s")
    return timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]])


def format_duration(delay: timedelta) -> str:
    """The shortest text `parse_duration` reads back as `delay` (`7d`, `90m`)."""
    seconds = int(delay.total_seconds())
    for unit in "dhm":
        if seconds and seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
