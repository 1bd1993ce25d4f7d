"""`ami` fails in one line on stderr, exit status 1, and changes nothing."""

import socket
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from amiable.cli.main import Ami
from helpers import assert_one_line_error, run_ami


def one_error_line(done: "subprocess.CompletedProcess[str]") -> str:
    """The only line a failed `ami` printed (exit status 1, nothing on stdout)."""
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    return assert_one_line_error(done)


def test_a_home_that_is_a_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a directory\n")
    line = one_error_line(run_ami("--home", home, "images"))
    assert line == f"error: the data home {home} is not a directory"
    assert home.read_text() == "not a directory\n"
    assert sorted(tmp_path.iterdir()) == [home]


def test_a_home_that_cannot_be_created() -> None:
    line = one_error_line(run_ami("--home", "/proc/nope", "images"))
    assert line == (
        "error: cannot open the data home /proc/nope: No such file or directory: /proc/nope"
    )
    assert not Path("/proc/nope").exists()


def test_a_store_that_cannot_be_created() -> None:
    line = one_error_line(run_ami("store", "init", "--store", "/proc/x"))
    assert line == "error: No such file or directory: /proc/x"
    assert not Path("/proc/x").exists()


@pytest.mark.parametrize("where", ["before", "after"])
def test_an_endpoint_without_a_scheme(tmp_path: Path, where: str) -> None:
    home, option = tmp_path / "home", ("--endpoint-url", "localhost:4566")
    args = [*option, "images"] if where == "before" else ["images", *option]
    line = one_error_line(run_ami("--home", home, *args))
    assert line == (
        "error: --endpoint-url localhost:4566: not an http:// or https:// URL "
        "(such as http://localhost:4566)"
    )
    assert not home.exists()


def test_an_endpoint_that_refuses_connections(tmp_path: Path) -> None:
    with socket.socket() as bound:  # bound, not listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound.getsockname()[1]}"
        line = one_error_line(run_ami("--home", tmp_path / "home", "--endpoint-url", url, "images"))
    assert line == f'error: Could not connect to the endpoint URL: "{url}/"'
    assert not (tmp_path / "home").exists()


def test_client_side_validation_names_the_parameter(tmp_path: Path) -> None:
    line = one_error_line(
        run_ami("--home", tmp_path / "home", "create-image", "i-1", "--name", "ab")
    )
    assert line == (
        "error: Parameter validation failed: "
        "Invalid length for parameter Name, value: 2, valid min length: 3"
    )


def test_a_damaged_catalog_shows_sqlite_words_not_sql(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "global.db").write_bytes(b"this is not a database" * 100)
    line = one_error_line(run_ami("--home", home, "images"))
    assert (
        line == f"error: cannot open the data home {home}: catalog database: file is not a database"
    )
    assert (home / "global.db").read_bytes() == b"this is not a database" * 100
    assert sorted(p.name for p in home.iterdir()) == ["global.db"]


def test_accounts_work_on_a_data_home_only(tmp_path: Path) -> None:
    done = run_ami(
        "--home", tmp_path / "home", "--endpoint-url", "http://127.0.0.1:1", "accounts", "list"
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: ami accounts list works on a data home (--home), not over the API "
        "(--endpoint-url, --profile) (see 'ami accounts list --help')"
    ]
    assert not (tmp_path / "home").exists()


def _buggy_group() -> Ami:
    @click.command()
    def broken() -> None:
        {}["missing"]  # a bug: what a command must never let out as a traceback

    return Ami(name="ami", commands=[broken])


def test_a_bug_is_one_line_that_says_how_to_see_the_traceback() -> None:
    done = CliRunner().invoke(_buggy_group(), ["broken"], env={"AMI_DEBUG": ""})
    assert done.exit_code == 1
    assert done.stderr == (
        "error: internal error: KeyError: 'missing' "
        "(a bug in amiable; run again with AMI_DEBUG=1 for the traceback)\n"
    )


def test_with_ami_debug_a_bug_shows_its_traceback_too() -> None:
    done = CliRunner().invoke(_buggy_group(), ["broken"], env={"AMI_DEBUG": "1"})
    assert done.exit_code == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert done.stderr.splitlines()[-1].startswith("error: internal error: KeyError")


def test_usage_errors_keep_status_2(tmp_path: Path) -> None:
    done = run_ami("images", "--no-such-option")
    assert done.returncode == 2
    assert done.stderr == ("error: No such option '--no-such-option'. (see 'ami images --help')\n")
