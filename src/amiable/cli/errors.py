"""How a failure reads on the command line: one line, whatever raised it.

Expected failures (the API's errors, the store's, the file system's, a
database that cannot be read) say what went wrong in the words of whoever
found it; anything else is a bug in amiable and says so, with the way to see
its traceback (`AMI_DEBUG=1`). Heavy libraries are imported here only once
something has failed, so `ami store` starts as fast as before.
"""

import os

from amiable.catalog.errors import CatalogError
from amiable.store.errors import StoreError

DEBUG_VARIABLE = "AMI_DEBUG"
TRACEBACK_HINT = f"run again with {DEBUG_VARIABLE}=1 for the traceback"


def debugging() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")


def one_line(exc: Exception) -> str:
    """What to print after `error: ` for `exc`."""
    for describe in (_own, _botocore, _database, _os):
        message = describe(exc)
        if message is not None:
            return flatten(message)
    first_line = next(iter(str(exc).splitlines()), "")  # SQLAlchemy's next lines quote SQL
    return (
        f"internal error: {type(exc).__name__}: {first_line} (a bug in amiable; {TRACEBACK_HINT})"
    )


def flatten(message: str) -> str:
    """Several lines joined into one (a message is printed as exactly one line)."""
    return "; ".join(line.strip() for line in message.splitlines() if line.strip())


def _own(exc: Exception) -> str | None:
    return str(exc) if isinstance(exc, StoreError | CatalogError) else None


def _botocore(exc: Exception) -> str | None:
    from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Error"), error.get("Message", "")
        if code == "InternalError":  # from amiable a bug, whose traceback went to a log
            where = f"ami serve logs its traceback; in-process, {TRACEBACK_HINT}"
            return f"{code}: {message} (if amiable answered: {where})"
        return f"{code}: {message}"
    if isinstance(exc, ParamValidationError):
        # botocore's report is a header line and one line per bad parameter
        return "Parameter validation failed: " + flatten(exc.kwargs["report"])
    if isinstance(exc, BotoCoreError):
        return str(exc)
    return None


def _database(exc: Exception) -> str | None:
    """SQLite's own words, never the statement (SQLAlchemy adds it, and a link)."""
    import sqlite3

    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError):
        return f"catalog database: {exc.orig}"
    if isinstance(exc, sqlite3.Error):
        return f"catalog database: {exc}"
    return None


def _os(exc: Exception) -> str | None:
    if not isinstance(exc, OSError):
        return None
    if exc.strerror is None:
        return str(exc)
    names = [os.fsdecode(n) for n in (exc.filename, exc.filename2) if isinstance(n, str | bytes)]
    return exc.strerror + (f": {' -> '.join(names)}" if names else "")
