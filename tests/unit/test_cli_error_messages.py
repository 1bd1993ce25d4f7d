"""How the failures `ami` meets read: one line each, in the words of whoever found them."""

import sqlite3

from botocore.exceptions import ClientError, ParamValidationError
from sqlalchemy.exc import OperationalError

from amiable.cli.errors import one_line
from amiable.store.errors import SnapshotNotFound


def test_api_errors_are_code_and_message() -> None:
    error = {"Error": {"Code": "InvalidAMIID.NotFound", "Message": "The image id does not exist"}}
    assert one_line(ClientError(error, "DescribeImages")) == (
        "InvalidAMIID.NotFound: The image id does not exist"
    )


def test_an_internal_error_says_where_its_traceback_is() -> None:
    error = {"Error": {"Code": "InternalError", "Message": "An internal error has occurred"}}
    assert one_line(ClientError(error, "DescribeImages")) == (
        "InternalError: An internal error has occurred (if amiable answered: ami serve logs "
        "its traceback; in-process, run again with AMI_DEBUG=1 for the traceback)"
    )


def test_client_side_validation_is_one_line_naming_every_parameter() -> None:
    report = (
        "Invalid length for parameter Name, value: 2, valid min length: 3\n"
        'Missing required parameter in input: "InstanceId"'
    )
    assert one_line(ParamValidationError(report=report)) == (
        "Parameter validation failed: Invalid length for parameter Name, value: 2, valid min "
        'length: 3; Missing required parameter in input: "InstanceId"'
    )


def test_database_errors_never_show_sql() -> None:
    wrapped = OperationalError(
        "SELECT secret_access_key FROM access_keys",
        {},
        sqlite3.OperationalError("database is locked"),
    )
    assert "SELECT" in str(wrapped)  # what SQLAlchemy would print
    assert one_line(wrapped) == "catalog database: database is locked"


def test_file_system_errors_name_their_paths() -> None:
    assert one_line(FileNotFoundError(2, "No such file or directory", "/a")) == (
        "No such file or directory: /a"
    )
    assert one_line(OSError(18, "Invalid cross-device link", "/a", None, "/b")) == (
        "Invalid cross-device link: /a -> /b"
    )


def test_the_store_speaks_for_itself() -> None:
    assert one_line(SnapshotNotFound("no snapshot matches 1a2b")) == "no snapshot matches 1a2b"


def test_a_bug_is_one_line_with_the_way_to_its_traceback() -> None:
    assert one_line(ValueError("first\n[SQL: SELECT 1]")) == (
        "internal error: ValueError: first "
        "(a bug in amiable; run again with AMI_DEBUG=1 for the traceback)"
    )
