"""Delete snapshot and Delete volume, each a confirmation page (GET shows the
snapshot or volume and asks, POST calls DeleteSnapshot / DeleteVolume), then
back to the list with a notice. What EC2 refuses (InvalidSnapshot.InUse:
an AMI uses the snapshot; VolumeInUse) is shown as EC2 words it."""

from .confirm import Confirmation, Notice, endpoint
from .snapshots import snapshot_facts, snapshots_url
from .volumes import volume_facts, volumes_url


def _deleted(what: str, list_url: str, resource_id: str) -> tuple[str, Notice]:
    return list_url, (f"Successfully deleted {what} {resource_id}.", None, "")


DELETE_SNAPSHOT = Confirmation(
    title="Delete snapshot",
    question="Are you sure that you want to delete snapshot {}? This cannot be undone"
    " (unless a Recycle Bin retention rule keeps it).",
    active="snapshots",
    path_param="snapshot_id",
    action="DeleteSnapshot",
    id_param="SnapshotId",
    facts=snapshot_facts,
    done=lambda region, i: _deleted("snapshot", snapshots_url(region), i),
    back=snapshots_url,
)
DELETE_VOLUME = Confirmation(
    title="Delete volume",
    question="Are you sure that you want to delete volume {}? Its data is lost.",
    active="volumes",
    path_param="volume_id",
    action="DeleteVolume",
    id_param="VolumeId",
    facts=volume_facts,
    done=lambda region, i: _deleted("volume", volumes_url(region), i),
    back=volumes_url,
)

delete_snapshot = endpoint(DELETE_SNAPSHOT, "delete_snapshot")
delete_volume = endpoint(DELETE_VOLUME, "delete_volume")
