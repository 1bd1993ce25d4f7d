"""The one error the cloud raises: an AWS error code, its message, its HTTP status.

Codes and messages follow EC2's (`InvalidAMIID.NotFound`, `MissingParameter`,
`DryRunOperation`, ...); the protocol layer renders them in each protocol's
error format.
"""


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def missing_parameter(name: str) -> ApiError:
    return ApiError("MissingParameter", f"The request must contain the parameter {name}")


def invalid_value(name: str, value: object, why: str = "") -> ApiError:
    detail = f" ({why})" if why else ""
    return ApiError(
        "InvalidParameterValue", f"Value ({value}) for parameter {name} is invalid.{detail}"
    )


def null_member(code: str, path: str) -> ApiError:
    """A required member that was not sent, as AWS's JSON and query services say it
    (`code`: `ValidationException`, `ValidationError`); `path` is camelCase."""
    return ApiError(
        code,
        f"1 validation error detected: Value null at '{path}' failed to satisfy constraint: "
        "Member must not be null",
    )
