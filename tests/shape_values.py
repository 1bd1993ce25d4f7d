"""Hypothesis values for any botocore shape: what a boto3 user could pass or get back.

Used by the protocol tests to run every operation of a service model through
botocore's own serializers and parsers against ours.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

MAX_DEPTH = 4
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8)
# How finely a protocol carries timestamps: botocore writes JSON request
# timestamps as whole seconds, and responses carry milliseconds.
SECONDS, MILLIS, MICROS = 1_000_000, 1000, 1


def values(
    shape: Any, depth: int = 0, precision: int = MICROS, required: bool = False
) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if kind == "structure":
        members = {
            name: values(member, depth + 1, precision, name in shape.required_members)
            for name, member in shape.members.items()
            if depth < MAX_DEPTH or name in shape.required_members
        }
        if getattr(shape, "is_tagged_union", False):  # exactly one member is set
            return st.one_of(*(st.fixed_dictionaries({k: v}) for k, v in members.items()))
        required_members = {k: v for k, v in members.items() if k in shape.required_members}
        optional = {k: v for k, v in members.items() if k not in required_members}
        return st.fixed_dictionaries(required_members, optional=optional)
    if kind == "list":
        if depth >= MAX_DEPTH:
            return st.just([])
        return st.lists(values(shape.member, depth + 1, precision), min_size=required, max_size=2)
    if kind == "map":
        if depth >= MAX_DEPTH:
            return st.just({})
        return st.dictionaries(
            scalars(shape.key, precision), values(shape.value, depth + 1, precision), max_size=2
        )
    return scalars(shape, precision)


def scalars(shape: Any, precision: int) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if kind == "string":
        enum = getattr(shape, "enum", None)
        return st.sampled_from(enum) if enum else TEXT.map(str.strip)
    if kind == "integer":
        return st.integers(-(2**31), 2**31 - 1)
    if kind == "long":
        return st.integers(0, 2**62)
    if kind == "boolean":
        return st.booleans()
    if kind in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if kind == "timestamp":
        stamps = st.datetimes(
            min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        )
        return stamps.map(
            lambda d: (
                d.replace(microsecond=d.microsecond // precision * precision)
                if precision < SECONDS
                else d.replace(microsecond=0)
            )
        )
    if kind == "blob":
        return st.binary(max_size=8)
    raise AssertionError(f"unexpected shape type {kind}")


def without_empty(value: Any, lists_sent: bool = False) -> Any:
    """What survives a query string: empty structures and maps are not sent, nor
    empty lists unless `lists_sent` (the query protocol sends them as `Name=`)."""
    sent = _sent(value, lists_sent)
    if sent is None:
        return {} if isinstance(value, dict) else []
    return sent


def _sent(value: Any, lists_sent: bool) -> Any:
    """`value` as a query string carries it; None when nothing of it is sent."""
    if isinstance(value, dict):
        kept = {k: v for k, v in ((k, _sent(v, lists_sent)) for k, v in value.items())}
        return {k: v for k, v in kept.items() if v is not None} or None
    if isinstance(value, list):
        if not value:
            return [] if lists_sent else None
        return [v for v in (_sent(v, lists_sent) for v in value) if v is not None] or None
    return value


def loses_required(shape: Any, value: Any, lists_sent: bool = False) -> bool:
    """True when a required member is empty, so a query string does not carry it."""
    if shape.type_name == "structure":
        return any(
            _sent(value.get(name), lists_sent) is None for name in shape.required_members
        ) or any(loses_required(shape.members[k], v, lists_sent) for k, v in value.items())
    if shape.type_name == "list":
        return any(loses_required(shape.member, v, lists_sent) for v in value)
    return False


@st.composite
def operation_inputs(draw: st.DrawFn, model: Any, precision: int = MICROS) -> tuple[Any, Any]:
    operation = model.operation_model(draw(st.sampled_from(sorted(model.operation_names))))
    shape = operation.input_shape
    return operation, (draw(values(shape, precision=precision)) if shape is not None else {})


@st.composite
def operation_outputs(draw: st.DrawFn, model: Any) -> tuple[Any, Any]:
    names = sorted(n for n in model.operation_names if model.operation_model(n).output_shape)
    operation = model.operation_model(draw(st.sampled_from(names)))
    return operation, draw(values(operation.output_shape, precision=MILLIS))


def per_service(
    services: tuple[str, ...], cases: Callable[[str], st.SearchStrategy[Any]]
) -> st.SearchStrategy[tuple[str, Any]]:
    """(service, case) for a service drawn from `services`, its case from `cases(service)`."""
    return st.sampled_from(services).flatmap(lambda s: st.tuples(st.just(s), cases(s)))
