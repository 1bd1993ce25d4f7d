"""What an instance's metadata service serves: its metadata document, built
from the catalog and written to `metadata.json` in its directory whenever
something it shows changes (a boot, its tags, its metadata options, its
security groups). The service (`metadata_service.py`, run by the sandbox's
monitor on the host) reads the file on every request, so a change shows at
once.
"""

import base64
import json
import os
from typing import Any

from sqlalchemy import Connection, select

from amiable.catalog.regional import instances, subnets, volumes, vpcs
from amiable.cloud.core.home import Region
from amiable.cloud.core.regions import zone_id_of
from amiable.cloud.core.tagging import on_change
from amiable.cloud.core.tags import tags_of
from amiable.runtime.sandbox import HostService

from . import metadata_options
from .placement import groups_of, private_dns_name

DOCUMENT = "metadata.json"
SERVICE = "amiable.cloud.instances.metadata_service:serve_file"


def service(region: Region, instance_id: str) -> HostService:
    """The metadata service for an instance about to boot (its document written first)."""
    region.instance_directory(instance_id).mkdir(parents=True, exist_ok=True)
    write(region, instance_id)
    return HostService(SERVICE, str(region.instance_directory(instance_id) / DOCUMENT))


def write(region: Region, instance_id: str) -> None:
    """Write the instance's document afresh (whole: a temporary file, then rename)."""
    directory = region.instance_directory(instance_id)
    if not directory.is_dir():
        return
    with region.catalog.connect() as conn:
        row = conn.execute(select(instances).where(instances.c.instance_id == instance_id)).one()
        if row.private_ip is None:
            return
        document = _document(conn, region.name, row)
    temporary = directory / f".{DOCUMENT}.{os.getpid()}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds user data
    with os.fdopen(fd, "w") as out:
        json.dump(document, out)
    os.rename(temporary, directory / DOCUMENT)


def _document(conn: Connection, region_name: str, row: Any) -> dict[str, Any]:
    image = json.loads(row.document)
    document: dict[str, Any] = {
        "instance-id": row.instance_id,
        "ami-id": row.image_id,
        "ami-launch-index": row.launch_index,
        "instance-type": row.instance_type,
        "architecture": image.get("Architecture", "x86_64"),
        "account-id": row.owner_id,
        "reservation-id": row.reservation_id,
        "pending-time": row.launch_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region_name,
        "availability-zone": row.zone,
        "availability-zone-id": zone_id_of(row.zone),
        "network-interfaces": [_interface(conn, region_name, row)],
        "block-device-mapping": _block_devices(conn, row),
        "tags": tags_of(conn, [row.instance_id])[row.instance_id],
        "metadata-options": metadata_options.of(row.metadata_options),
    }
    key = _public_key(row)
    if key is not None:
        document["public-keys"] = [key]
    if row.user_data:
        document["user-data"] = base64.b64encode(row.user_data).decode()
    return document


def _interface(conn: Connection, region_name: str, row: Any) -> dict[str, Any]:
    subnet = conn.execute(select(subnets).where(subnets.c.subnet_id == row.subnet_id)).one()
    vpc = conn.execute(select(vpcs).where(vpcs.c.vpc_id == row.vpc_id)).one()
    groups = groups_of(conn, [row.instance_id])[row.instance_id]
    return {
        "device-number": 0,
        "interface-id": row.interface_id,
        "mac": row.mac,
        "owner-id": row.owner_id,
        "local-hostname": private_dns_name(region_name, row.private_ip),
        "local-ipv4s": [row.private_ip],
        "subnet-id": row.subnet_id,
        "subnet-ipv4-cidr-block": subnet.cidr_block,
        "vpc-id": row.vpc_id,
        "vpc-ipv4-cidr-blocks": [vpc.cidr_block],
        "security-group-ids": [g["GroupId"] for g in groups],
        "security-groups": [g["GroupName"] for g in groups],
    }


def _block_devices(conn: Connection, row: Any) -> dict[str, str]:
    """IMDS's names: `ami` and `root` for the root device, `ebsN` for the others."""
    mapping = {"ami": row.root_device, "root": row.root_device}
    others = conn.execute(
        select(volumes.c.device)
        .where(volumes.c.instance_id == row.instance_id, volumes.c.device != row.root_device)
        .order_by(volumes.c.device)
    ).all()
    for number, volume in enumerate(others, start=1):
        mapping[f"ebs{number}"] = os.path.basename(volume.device)
    return mapping


def _public_key(row: Any) -> dict[str, str] | None:
    if not row.key_name or not row.public_key:
        return None
    return {"name": row.key_name, "openssh-key": row.public_key}


def _tags_changed(region: Region, instance_ids: list[str]) -> None:
    for instance_id in instance_ids:
        write(region, instance_id)


on_change("instance", _tags_changed)
