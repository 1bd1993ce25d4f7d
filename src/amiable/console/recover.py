"""*Recover*, as the Recycle Bin console calls it: an image or a snapshot out of
the bin (RestoreImageFromRecycleBin / RestoreSnapshotFromRecycleBin), each
confirmed; then back to its tab with a notice linking the recovered resource
(the image's page; the Snapshots page, filtered to the snapshot)."""

from collections.abc import Callable
from functools import partial
from urllib.parse import urlencode

from .confirm import Confirmation, Notice, endpoint
from .recycle_bin import IMAGES, SNAPSHOTS, Bin, binned_facts, recycle_bin_url
from .regions import image_url
from .snapshots import snapshots_url


def _snapshot(region: str, snapshot_id: str) -> str:
    return f"{snapshots_url(region)}?{urlencode({'id': snapshot_id})}"


def _recovery(kind: Bin, noun: str, link_of: Callable[[str, str], str]) -> Confirmation:
    def done(region: str, resource_id: str) -> tuple[str, Notice]:
        link = (link_of(region, resource_id), resource_id)
        return recycle_bin_url(region, kind.tab), (f"Successfully recovered {noun} ", link, ".")

    return Confirmation(
        title="Recover",
        question=f"Are you sure that you want to recover {noun} {{}} from the Recycle Bin?",
        active="recycle-bin",
        path_param="resource_id",
        action=kind.restore,
        id_param=kind.restore_param,
        facts=partial(binned_facts, kind),
        done=done,
        back=lambda region: recycle_bin_url(region, kind.tab),
        danger=False,
    )


recover_image = endpoint(_recovery(IMAGES, "AMI", image_url), "recover_image")
recover_snapshot = endpoint(_recovery(SNAPSHOTS, "snapshot", _snapshot), "recover_snapshot")
