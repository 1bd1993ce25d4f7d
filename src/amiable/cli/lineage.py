"""`ami lineage IMAGE`: an image's ancestry as a tree, through GetImageAncestry
(root first, the image last), with the image's children in its region."""

from typing import Any

import click

from .context import Settings, settings
from .output import emit_json


@click.command()
@click.argument("image_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@settings
def lineage(s: Settings, image_id: str, as_json: bool) -> None:
    """Draw where IMAGE_ID comes from: its parents across regions and copies."""
    from rich.console import Console
    from rich.tree import Tree

    ec2 = s.client("ec2")
    entries = ec2.get_image_ancestry(ImageId=image_id)["ImageAncestryEntries"]
    children = ec2.describe_images(
        Filters=[{"Name": "source-image-id", "Values": [image_id]}], IncludeDeprecated=True
    )["Images"]
    if as_json:
        emit_json({"Ancestry": entries, "Children": children})
        return
    chain = list(reversed(entries))  # root first
    region = {e["ImageId"]: s.region for e in entries}
    for entry in entries:
        if "SourceImageId" in entry:
            region[entry["SourceImageId"]] = entry["SourceImageRegion"]
    names = _names(s, chain, region)
    tree = node = Tree(_label(chain[0], region, names))
    for entry in chain[1:]:
        node = node.add(_label(entry, region, names))
    node.label = f"[bold]{node.label}[/bold]"
    for child in children:
        node.add(f"{child['ImageId']}  {child.get('Name', '')}  ({s.region}, child)")
    Console(width=200).print(tree)


def _names(s: Settings, chain: list[dict[str, Any]], region: dict[str, str]) -> dict[str, str]:
    names = {}
    for entry in chain:
        found = s.client("ec2", region[entry["ImageId"]]).describe_images(
            ImageIds=[entry["ImageId"]]
        )["Images"]
        names[entry["ImageId"]] = found[0].get("Name", "") if found else ""
    return names


def _label(entry: dict[str, Any], region: dict[str, str], names: dict[str, str]) -> str:
    created = entry["CreationDate"].strftime("%Y-%m-%d %H:%M")
    owner = f", {entry['ImageOwnerAlias']}" if "ImageOwnerAlias" in entry else ""
    image_id = entry["ImageId"]
    return f"{image_id}  {names.get(image_id, '')}  ({region[image_id]}, {created}{owner})"
