"""The Instance state actions, each a confirmation page (confirm.py): Start
instance, Stop instance, Reboot instance and Terminate instance
(Start/Stop/Reboot/TerminateInstances), then the instance's page with a
notice."""

from amiable.cloud.core.home import Cloud

from .auth import Visitor
from .confirm import Confirmation, Facts, Notice, endpoint
from .instance_views import instance_url, instances_url, name_of, one_instance, state_of


async def _facts(cloud: Cloud, visitor: Visitor, region: str, instance_id: str) -> Facts:
    instance = await one_instance(cloud, visitor, region, instance_id)
    return [
        ("Instance ID", instance_id),
        ("Name", name_of(instance)),
        ("Instance state", state_of(instance)),
    ]


def _change(
    action: str, title: str, question: str, done: str, danger: bool = False
) -> Confirmation:
    def after(region: str, instance_id: str) -> tuple[str, Notice]:
        return instance_url(region, instance_id), (done.format(instance_id), None, "")

    return Confirmation(
        title=title,
        heading=f"{title}?",
        question=question,
        active="instances",
        path_param="instance_id",
        action=action,
        id_param="InstanceIds",
        listed=True,
        facts=_facts,
        done=after,
        back=instances_url,
        danger=danger,
    )


CHANGES = (
    _change(
        "StartInstances", "Start instance",
        "Are you sure that you want to start instance {}?",
        "Successfully initiated starting of {}.",
    ),
    _change(
        "StopInstances", "Stop instance",
        "Are you sure that you want to stop instance {}? Its root volume is kept.",
        "Successfully initiated stopping of {}.",
    ),
    _change(
        "RebootInstances", "Reboot instance",
        "Are you sure that you want to reboot instance {}?",
        "Successfully initiated reboot of {}.",
    ),
    _change(
        "TerminateInstances", "Terminate instance",
        "Are you sure that you want to terminate instance {}? Its root volume is deleted"
        " with it; this cannot be undone.",
        "Successfully initiated termination of {}.",
        danger=True,
    ),
)  # fmt: skip

start, stop, reboot, terminate = (
    endpoint(change, f"{change.title.split()[0].lower()}_instance") for change in CHANGES
)
