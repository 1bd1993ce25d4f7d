"""The registry of API actions: one handler per operation, found by name.

A handler takes the request context and the parsed input (a dict shaped like
the operation's input shape) and returns a dict shaped like its output.
"""

import importlib
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
    for module in _HANDLER_MODULES:
        importlib.import_module(f"amiable.cloud.{module}")


_HANDLER_MODULES = (
    "autoscaling.groups",
    "core.regions",
    "core.tagging",
    "ebs.attachments",
    "ebs.encryption",
    "ebs.snapshot_locks",
    "ebs.snapshot_permissions",
    "ebs.snapshots",
    "ebs.volumes",
    "images.allowed_images",
    "images.attributes",
    "images.copies",
    "images.images",
    "images.launch_permissions",
    "images.lineage",
    "images.public_access",
    "images.states",
    "images.usage_reports",
    "imports.tasks",
    "instances.attributes",
    "instances.create_image",
    "instances.instance_types",
    "instances.instances",
    "instances.launch_templates",
    "instances.network_interfaces",
    "kms.kms",
    "network.account_attributes",
    "network.key_pairs",
    "network.security_group_rules",
    "network.security_groups",
    "network.subnets",
    "network.vpcs",
    "rbin.recycle_bin",
    "rbin.rules",
    "ssm.commands",
    "ssm.labels",
    "ssm.parameter_tags",
    "ssm.parameters",
    "ssm.search",
    "sts.identity",
)
