"""The registry of API actions: one handler per operation, found by name.

A handler takes the request context and the parsed input (a dict shaped like
the operation's input shape) and returns a dict shaped like its output.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Handler = Callable[["Context", dict[str, Any]], dict[str, Any]]

HANDLERS: dict[tuple[str, str], Handler] = {}


@dataclass(frozen=True)
class Context:
    """Who asks, where, and which cloud answers."""

    cloud: Any  # amiable.cloud.home.Cloud (typed loosely to avoid an import cycle)
    account_id: str
    region: str
    request_id: str


def action(service: str, name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[(service, name)] = handler
        return handler

    return register


def handler_for(service: str, name: str) -> Handler | None:
    _load_handlers()
    return HANDLERS.get((service, name))


def _load_handlers() -> None:
    from . import (  # noqa: F401
        allowed_images,
        encryption,
        image_attributes,
        image_copies,
        image_lineage,
        image_states,
        images,
        imports,
        instance_attributes,
        instance_images,
        instances,
        kms,
        launch_permissions,
        launch_templates,
        public_access,
        recycle_bin,
        recycle_bin_rules,
        regions,
        snapshot_locks,
        snapshot_permissions,
        snapshots,
        ssm,
        tagging,
        volume_attachments,
        volumes,
    )
