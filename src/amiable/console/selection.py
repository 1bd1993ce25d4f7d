"""The Actions buttons of a list: a GET form naming the selected row (a radio
button) and the chosen action, sent on to that action's page for the row;
without a selection, back to the list asking for one."""

from collections.abc import Callable, Collection
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .render import notify


def to_action(
    request: Request,
    field: str,
    valid: Callable[[str], object],
    actions: Collection[str],
    base: str,
    back: str,
    what: str,
) -> Response:
    """To `{base}/{id}/{action}` for the row the form's `field` names (`valid`
    says an id is well formed); otherwise to `back` with *Select `what` first.*"""
    chosen_id = request.query_params.get(field, "")
    chosen = request.query_params.get("action", "")
    if not valid(chosen_id) or chosen not in actions:
        notify(request, f"Select {what} first.")
        return RedirectResponse(back, status_code=303)
    return RedirectResponse(f"{base}/{quote(chosen_id)}/{quote(chosen)}", status_code=303)
