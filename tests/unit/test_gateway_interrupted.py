"""The gateway tells an error raised while a Ctrl-C unwound (in-process, the
signal lands in a handler) from a bug, so that the command still ends as
interrupted rather than with EC2's InternalError."""

import pytest

from amiable.server.gateway import _interrupted


def raised(make: "type[BaseException]", during: "type[BaseException] | None") -> BaseException:
    try:
        try:
            if during is not None:
                raise during
        finally:
            raise make("half-done work")
    except BaseException as exc:
        return exc


@pytest.mark.parametrize(
    ("during", "interrupted"),
    [(KeyboardInterrupt, True), (None, False), (OSError, False)],
)
def test_an_error_in_a_finally_of_ctrl_c_is_still_the_ctrl_c(
    during: "type[BaseException] | None", interrupted: bool
) -> None:
    assert _interrupted(raised(ValueError, during)) is interrupted


def test_an_error_raised_from_a_ctrl_c_is_the_ctrl_c() -> None:
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:
            raise RuntimeError("wrapped") from interrupt
    except RuntimeError as exc:
        assert _interrupted(exc)
