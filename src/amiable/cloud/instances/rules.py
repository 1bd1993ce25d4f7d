"""The life of an instance, without I/O: EC2's states, their codes, and which
action may move an instance from which state.

| action | from | through | to |
|---|---|---|---|
| RunInstances | — | pending | running |
| StopInstances | pending, running | stopping | stopped |
| StartInstances | stopped | pending | running |
| RebootInstances | running | (stays running) | running |
| TerminateInstances | any but terminated | shutting-down | terminated |

A stopped instance is left alone by StopInstances, a running one by
StartInstances, a terminated one by TerminateInstances (EC2 answers with the
unchanged state). Anything else is `IncorrectInstanceState`.
"""

from amiable.cloud.core.errors import ApiError
from amiable.cloud.instances import instance_types

CODES = {
    "pending": 0,
    "running": 16,
    "shutting-down": 32,
    "terminated": 48,
    "stopping": 64,
    "stopped": 80,
}

ALLOWED = {
    "stop": {"pending", "running", "stopping", "stopped"},
    "start": {"stopped", "pending", "running"},
    "reboot": {"running"},
    "terminate": set(CODES),
}

UNCHANGED = {
    "stop": {"stopping", "stopped"},
    "start": {"pending", "running"},
    "terminate": {"shutting-down", "terminated"},
}
_DONE = {"stop": "stopped", "start": "started", "reboot": "rebooted", "terminate": "terminated"}


def state(name: str) -> dict[str, object]:
    return {"Code": CODES[name], "Name": name}


def check(instance_id: str, current: str, action: str) -> bool:
    """Whether `action` changes the instance (False: nothing to do);
    IncorrectInstanceState when it may not be done now."""
    if current not in ALLOWED[action]:
        raise ApiError(
            "IncorrectInstanceState",
            f"The instance '{instance_id}' is not in a state from which it can be {_DONE[action]}.",
        )
    return current not in UNCHANGED.get(action, set())


SHUTDOWN_BEHAVIORS = ("stop", "terminate")


def check_instance_type(value: str) -> str:
    """A type an instance may have: one offered here. InvalidParameterValue for a
    name EC2 does not know; Unsupported, as EC2 answers a type that no zone of
    the region offers, for one it knows that this host does not offer."""
    if value not in instance_types.known_types():
        raise ApiError("InvalidParameterValue", f"Invalid value '{value}' for InstanceType.")
    if value not in instance_types.catalog():
        raise ApiError(
            "Unsupported",
            "The requested configuration is currently not supported. "
            "Please check the documentation for supported configurations.",
        )
    return value


def check_shutdown_behavior(value: str) -> str:
    if value not in SHUTDOWN_BEHAVIORS:
        raise ApiError(
            "InvalidParameterValue",
            f"Invalid value '{value}' for InstanceInitiatedShutdownBehavior. "
            "Valid values are 'stop' and 'terminate'.",
        )
    return value
