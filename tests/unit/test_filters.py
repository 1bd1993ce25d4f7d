"""EC2 filter wildcards and semantics."""

import pytest

from amiable.cloud.core.errors import ApiError
from amiable.cloud.core.filters import field, matches, select


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        ("eu-west-1", "eu-*", True),
        ("eu-west-1", "eu-west-?", True),
        ("eu-west-10", "eu-west-?", False),
        ("us-east-1", "eu-*", False),
        ("a*b", "a\\*b", True),
        ("axb", "a\\*b", False),
        ("a.b", "a.b", True),
        ("aXb", "a.b", False),
        ("Name", "name", False),
        ("", "*", True),
    ],
)
def test_wildcards(value: str, pattern: str, expected: bool) -> None:
    assert matches(value, pattern) is expected


ITEMS = [
    {"Name": "web", "Env": "prod", "Public": True},
    {"Name": "db", "Env": "prod", "Public": False},
    {"Name": "web-test", "Env": "test", "Public": False},
]
EXTRACT = {"name": field("Name"), "env": field("Env"), "is-public": field("Public")}


def test_and_across_filters_or_within_one() -> None:
    picked = select(
        ITEMS,
        [{"Name": "name", "Values": ["web*", "db"]}, {"Name": "env", "Values": ["prod"]}],
        EXTRACT,
    )
    assert [i["Name"] for i in picked] == ["web", "db"]


def test_booleans_filter_as_lowercase_text() -> None:
    picked = select(ITEMS, [{"Name": "is-public", "Values": ["true"]}], EXTRACT)
    assert [i["Name"] for i in picked] == ["web"]


def test_unknown_filter_name_is_invalid_parameter_value() -> None:
    with pytest.raises(ApiError) as caught:
        select(ITEMS, [{"Name": "colour", "Values": ["red"]}], EXTRACT)
    assert (caught.value.code, caught.value.message) == (
        "InvalidParameterValue",
        "The filter 'colour' is invalid",
    )
