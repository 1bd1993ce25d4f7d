"""An image's lineage as a graph to draw: the nodes (its ancestors root first,
the image, its descendants), the edges (parent -> child) and a layered
layout, generations in columns from left to right, that never overlaps.

Pure functions over what the API answered (`lineage_calls.py` asks it):
GetImageAncestry's entries become a chain of `Ref`s (a parent the caller can
no longer see, deregistered or not shared, stays in it by id only), and the
images DescribeImages shows give each node its name and creation date. The
graph is a tree (every image has at most one parent), laid out as one: the
leaves take consecutive rows in depth-first order, a parent sits midway
between its first and last child. Two nodes of one column cover disjoint
ranges of leaves, so they are always at least a row apart.
"""

import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, ClassVar
from urllib.parse import quote

from .image_views import NONE, name_tag

MAX_GENERATIONS = 5  # descendants deeper than this are not looked for
MAX_DESCENDANTS = 200
NODE_WIDTH, NODE_HEIGHT = 208, 64
COLUMN_GAP, ROW_GAP, PADDING = 40, 16, 2
NAME_CHARS = 28  # what fits on a node's line; the whole name is its tooltip

ANCESTOR, CURRENT, DESCENDANT, UNSEEN = "ancestor", "current", "descendant", "unseen"
RELATIONS = {
    ANCESTOR: "Ancestor",
    CURRENT: "This image",
    DESCENDANT: "Descendant",
    UNSEEN: "Ancestor, not visible to you (deregistered, or not shared with you)",
}
DEEPER = f"Descendants more than {MAX_GENERATIONS} generations down are not shown."
TOO_MANY = f"Only the first {MAX_DESCENDANTS} descendants are shown."


@dataclass(frozen=True)
class Ref:
    """An image as its lineage names it: its id, its region, and whether the
    caller can see it."""

    image_id: str
    region: str
    seen: bool = True


@dataclass(frozen=True)
class Node:
    """One image of the graph, where it is drawn (`x`, `y`: its top left corner)."""

    image_id: str
    region: str
    relation: str
    parent: str = ""  # the id of the image it comes from; "" for the root
    name: str = ""
    created: str = ""  # CreationDate, as DescribeImages gives it
    column: int = 0
    x: int = 0
    y: int = 0

    @property
    def seen(self) -> bool:
        return self.relation != UNSEEN

    @property
    def href(self) -> str:
        return f"/console/{quote(self.region)}/images/{quote(self.image_id)}"

    @property
    def when(self) -> str:
        return short_date(self.created)

    @property
    def relation_text(self) -> str:
        return RELATIONS[self.relation]

    @property
    def short_name(self) -> str:
        return shortened(self.name, NAME_CHARS)

    @property
    def described(self) -> str:
        """What the node's tooltip says: everything it stands for, unshortened."""
        facts = [self.image_id, self.name, self.region, self.when]
        text = ", ".join(fact for fact in facts if fact)
        return text if self.seen else f"{text}: {RELATIONS[UNSEEN]}"


@dataclass(frozen=True)
class Edge:
    """An arrow from a parent to its child, as an SVG path."""

    parent: str
    child: str
    path: str
    cross_region: bool


@dataclass(frozen=True)
class Lineage:
    """The graph of `image_id`, `width` x `height` pixels; `cut`: why some
    descendants are left out ("" when none are)."""

    image_id: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    width: int
    height: int
    cut: str = ""
    node_width: ClassVar[int] = NODE_WIDTH
    node_height: ClassVar[int] = NODE_HEIGHT

    @property
    def ancestors(self) -> int:
        return sum(node.relation in (ANCESTOR, UNSEEN) for node in self.nodes)

    @property
    def descendants(self) -> int:
        return sum(node.relation == DESCENDANT for node in self.nodes)

    @property
    def label(self) -> str:
        """The graph's accessible name, e.g. `Lineage of ami-…: 2 ancestors, 3 descendants`."""
        counts = f"{_count(self.ancestors, 'ancestor')}, {_count(self.descendants, 'descendant')}"
        return f"Lineage of {self.image_id}: {counts}" + (f" ({self.cut})" if self.cut else "")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_date(created: str) -> str:
    """`2026-12-06T10:11:12.000Z` -> `2026-12-06 10:11 UTC`; anything else as it is."""
    if len(created) >= 16 and created[10] == "T" and created.endswith("Z"):
        return f"{created[:10]} {created[11:16]} UTC"
    return created


def chain(entries: list[dict[str, Any]], region: str) -> list[Ref]:
    """GetImageAncestry's entries (the image first, in `region`) as a chain root
    first, the image last. The parent the last entry names is one the caller
    cannot see (the ancestry ends there): it stays, unseen."""
    refs = []
    for entry in entries:
        refs.append(Ref(str(entry["ImageId"]), region))
        region = str(entry.get("SourceImageRegion") or region)
    if entries and entries[-1].get("SourceImageId"):
        refs.append(Ref(str(entries[-1]["SourceImageId"]), region, seen=False))
    return refs[::-1]


def display_name(image: dict[str, Any]) -> str:
    """The `Name` tag (as the EC2 console names an image), else the AMI name."""
    tag = name_tag(image)
    return tag if tag != NONE else str(image.get("Name") or "")


def _node(image_id: str, region: str, relation: str, parent: str, image: dict[str, Any]) -> Node:
    return Node(
        image_id,
        region,
        relation,
        parent,
        name=display_name(image),
        created=str(image.get("CreationDate") or ""),
    )


def _chain_nodes(refs: list[Ref], shown: dict[str, dict[str, Any]]) -> list[Node]:
    """The chain's nodes: the last is the image; an ancestor DescribeImages did
    not show (`shown` lacks it) is unseen, by id only."""
    nodes, parent = [], ""
    for index, ref in enumerate(refs):
        image = shown.get(ref.image_id) if ref.seen else None
        if index == len(refs) - 1:
            nodes.append(_node(ref.image_id, ref.region, CURRENT, parent, image or {}))
        elif image is None:
            nodes.append(Node(ref.image_id, ref.region, UNSEEN, parent))
        else:
            nodes.append(_node(ref.image_id, ref.region, ANCESTOR, parent, image))
        parent = ref.image_id
    return nodes


def lineage(
    refs: list[Ref],
    shown: dict[str, dict[str, Any]],
    descendants: Iterable[tuple[str, dict[str, Any]]] = (),
    cut: str = "",
) -> Lineage:
    """The laid-out graph of the chain `refs` (root first, the image last),
    `shown`: DescribeImages' image of each id it showed, and `descendants`:
    (region, image) of images whose SourceImageId is the image or one listed
    before them (an image whose parent is not in the graph is left out)."""
    nodes = _chain_nodes(refs, shown)
    known = {node.image_id for node in nodes}
    for region, image in descendants:
        image_id, parent = str(image["ImageId"]), str(image.get("SourceImageId", ""))
        if parent in known and image_id not in known:
            nodes.append(_node(image_id, region, DESCENDANT, parent, image))
            known.add(image_id)
    placed = layout(nodes)
    columns = 1 + max(node.column for node in placed)
    bottom = max(node.y for node in placed) + NODE_HEIGHT
    return Lineage(
        image_id=refs[-1].image_id,
        nodes=tuple(placed),
        edges=tuple(edges(placed)),
        width=2 * PADDING + columns * NODE_WIDTH + (columns - 1) * COLUMN_GAP,
        height=bottom + PADDING,
        cut=cut,
    )


def layout(nodes: list[Node]) -> list[Node]:
    """The nodes (a tree: the first is its root, every other one's parent
    comes before it) placed in columns by generation, in the same order;
    siblings top to bottom by creation date."""
    children: dict[str, list[Node]] = defaultdict(list)
    for node in nodes[1:]:
        children[node.parent].append(node)
    places: dict[str, tuple[int, float]] = {}
    leaves = itertools.count()

    def visit(node: Node, column: int) -> float:
        kids = sorted(children[node.image_id], key=lambda kid: (kid.created, kid.image_id))
        rows = [visit(kid, column + 1) for kid in kids]
        row = (rows[0] + rows[-1]) / 2 if rows else float(next(leaves))
        places[node.image_id] = (column, row)
        return row

    visit(nodes[0], 0)
    return [_placed(node, *places[node.image_id]) for node in nodes if node.image_id in places]


def _placed(node: Node, column: int, row: float) -> Node:
    x = PADDING + column * (NODE_WIDTH + COLUMN_GAP)
    y = PADDING + round(row * (NODE_HEIGHT + ROW_GAP))
    return replace(node, column=column, x=x, y=y)


def edges(nodes: list[Node]) -> list[Edge]:
    """An edge from each placed node's parent to it: from the middle of the
    parent's right side to the middle of the child's left side."""
    by_id = {node.image_id: node for node in nodes}
    found = []
    for child in nodes:
        parent = by_id.get(child.parent)
        if parent is None:
            continue
        x1, y1 = parent.x + NODE_WIDTH, parent.y + NODE_HEIGHT // 2
        x2, y2 = child.x, child.y + NODE_HEIGHT // 2
        middle = (x1 + x2) // 2
        path = f"M{x1} {y1} C{middle} {y1} {middle} {y2} {x2} {y2}"
        found.append(Edge(parent.image_id, child.image_id, path, parent.region != child.region))
    return found
