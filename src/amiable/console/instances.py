"""The Instances page: the account's instances in the region (DescribeInstances),
filtered by instance ID, tag and instance state, paged on the server; and the
Actions of a selected instance (Instance state, Image and templates, Monitor
and troubleshoot)."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .auth import Visitor, signed_in
from .instance_views import COLUMNS, INSTANCE_ID, instances_in, instances_url, row_of
from .list_page import Row, list_page
from .list_query import FilteredQuery
from .regions import region_of
from .selection import to_action

# the Actions menu of an instance, in the EC2 console's groups and words:
# (group, [(path, label)]); Terminate is marked as the dangerous one
ACTIONS = (
    (
        "Instance state",
        [
            ("start", "Start instance"),
            ("stop", "Stop instance"),
            ("reboot", "Reboot instance"),
            ("terminate", "Terminate instance"),
        ],
    ),
    ("Image and templates", [("create-image", "Create image")]),
    ("Monitor and troubleshoot", [("run-command", "Run command")]),
)
STATES = ("pending", "running", "shutting-down", "terminated", "stopping", "stopped")
_PATHS = {path for _, actions in ACTIONS for path, _ in actions}


class InstanceQuery(FilteredQuery):
    """The filters of the page (instance ID, tag, instance state) and its place in the pages."""

    ID_FILTER = "instance-id"
    STATES = STATES
    STATE_FILTER = "instance-state-name"


def _rows(found: dict[str, Any]) -> list[Row]:
    return [row_of(instance) for instance in instances_in(found)]


@signed_in
async def instances_page(request: Request, visitor: Visitor) -> Response:
    query = InstanceQuery.of(request.query_params)
    return await list_page(
        request,
        visitor,
        template="instances.html",
        title="Instances",
        action="DescribeInstances",
        params=query.describe_params(),
        rows=_rows,
        query=query,
        list_url=instances_url(region_of(request)),
        actions=ACTIONS,
        columns=COLUMNS,
        states=STATES,
    )


@signed_in
async def instance_action(request: Request, visitor: Visitor) -> Response:
    """The Actions buttons of the Instances table: the chosen action's page for
    the selected instance."""
    url = instances_url(region_of(request))
    valid = INSTANCE_ID.match
    return to_action(request, "instance_id", valid, _PATHS, url, url, "an instance")
