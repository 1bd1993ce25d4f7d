"""How a bake ends, as exit statuses for CI: 0 published, 1 a recipe or
usage error, 2 a build step failed, 3 the test gate failed, 4 distribution
or publication failed (the build can be continued), 130 interrupted (the
build can be continued)."""

PUBLISHED = 0
USAGE = 1
STEP_FAILED = 2
TESTS_FAILED = 3
DISTRIBUTION_FAILED = 4
INTERRUPTED = 130


class BakeFailed(Exception):
    """The bake stopped; `status` is its exit status."""

    status = USAGE

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output  # what the failing command printed, shown after the line


class RecipeProblem(BakeFailed):
    status = USAGE


class StepFailed(BakeFailed):
    status = STEP_FAILED


class TestsFailed(BakeFailed):
    status = TESTS_FAILED


class DistributionFailed(BakeFailed):
    status = DISTRIBUTION_FAILED
