"""The global options before or after the command's name, and every help text's examples."""

import json
import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from amiable.cli.main import cli
from helpers import run_ami, run_ami_json, tiny_rootfs

GLOBAL = ("--home", "--region", "--endpoint-url", "--profile")


def image_ids(*args: str | Path) -> list[str]:
    return [image["ImageId"] for image in run_ami_json(*args)]


def test_home_and_region_after_the_command(tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = run_ami(
        "import",
        tiny_rootfs(tmp_path / "root"),
        "--name",
        "west",
        "--home",
        home,
        "--region",
        "eu-west-1",
    )
    assert made.returncode == 0, made.stderr
    image = made.stdout.strip()

    assert image_ids("images", "--home", home, "--region", "eu-west-1") == [image]
    assert image_ids("--home", home, "--region", "eu-west-1", "images") == [image]
    assert image_ids("images", "--home", home) == []  # the default region has none


def test_the_later_option_wins(tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    made = run_ami(
        "--home",
        home,
        "--region",
        "eu-west-1",
        "import",
        tiny_rootfs(tmp_path / "r"),
        "--name",
        "golden",
    )
    assert made.returncode == 0, made.stderr
    first = ("--home", elsewhere, "--region", "us-east-1")
    seen = image_ids(*first, "images", "--home", home, "--region", "eu-west-1")
    assert seen == [made.stdout.strip()]
    assert not elsewhere.exists()
    assert (
        run_ami_json("--region", "eu-west-1", "--home", home, "snapshots", "--region", "us-east-1")
        == []
    )


def test_nested_groups_take_them_too(tmp_path: Path) -> None:
    home = tmp_path / "home"
    created = run_ami(
        "accounts", "create", "--home", home, "--account-id", "111122223333", "--json"
    )
    assert created.returncode == 0, created.stderr
    listed = run_ami_json("accounts", "list", "--home", home)
    assert "111122223333" in [a["AccountId"] for a in listed]
    assert run_ami_json("--home", home, "accounts", "list") == listed


def _leaves(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        subs = [(name, command.get_command(ctx, name)) for name in command.list_commands(ctx)]
        return [leaf for name, sub in subs if sub for leaf in _leaves(sub, (*path, name))]
    return [path]


def _options_of(path: tuple[str, ...]) -> set[str]:
    done = CliRunner().invoke(cli, [*path, "--help"])
    assert done.exit_code == 0, done.output
    return set(re.findall(r"^  (--[a-z-]+)", done.output, re.MULTILINE))


EXPECTED = {
    "store": set(),
    "serve": {"--home"},
    "accounts": {"--home"},
    "bootstrap": {"--home", "--region"},
}


@pytest.mark.parametrize("path", _leaves(cli), ids=" ".join)
def test_every_command_takes_the_global_options_that_make_sense_for_it(
    path: tuple[str, ...],
) -> None:
    expected = EXPECTED.get(path[0], set(GLOBAL))
    assert _options_of(path) & set(GLOBAL) == expected


def test_the_store_takes_no_data_home_options(tmp_path: Path) -> None:
    done = run_ami("store", "init", "--store", tmp_path / "s", "--region", "eu-west-1")
    assert done.returncode == 2
    assert "No such option '--region'" in done.stderr
    assert not (tmp_path / "s").exists()


def _filter_examples() -> list[tuple[str, str]]:
    """(command, filter) for every `e.g. A or B` in a command's --filter help."""
    found = []
    for path in _leaves(cli):
        done = CliRunner().invoke(
            cli, [*path, "--help"], terminal_width=1000, max_content_width=1000
        )
        help_line = next((line for line in done.output.splitlines() if "--filter" in line), "")
        if (examples := re.search(r"e\.g\. (\S+) or (\S+) ", help_line)) is not None:
            found += [(path[0], example) for example in examples.groups()]
    return found


FILTER_EXAMPLES = _filter_examples()


def test_filter_examples_were_found() -> None:
    assert {command for command, _ in FILTER_EXAMPLES} == {"images", "snapshots", "volumes"}


@pytest.mark.parametrize(("command", "example"), FILTER_EXAMPLES)
def test_every_filter_example_works_on_its_command(
    tmp_path: Path, command: str, example: str
) -> None:
    done = run_ami("--home", tmp_path / "home", command, "--filter", example, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def _command_examples() -> list[tuple[str, str]]:
    """(the command whose help it is in, example) for every `ami ...` quoted in a help text."""
    found = []
    for path in [(), *_leaves(cli)]:
        done = CliRunner().invoke(cli, [*path, "--help"])
        quoted = re.findall(r"`(ami [^`]+)`", done.output)
        found += [(" ".join(path), " ".join(example.split())) for example in quoted]
    return found


COMMAND_EXAMPLES = _command_examples()


def test_command_examples_were_found() -> None:
    assert ("", "ami images --region eu-west-1") in COMMAND_EXAMPLES


@pytest.mark.parametrize(("where", "example"), COMMAND_EXAMPLES)
def test_every_command_example_in_a_help_text_works(
    tmp_path: Path, where: str, example: str
) -> None:
    done = run_ami(*shlex.split(example)[1:], env={"AMI_HOME": str(tmp_path / "home")})
    assert done.returncode == 0, (where, done.stderr)
