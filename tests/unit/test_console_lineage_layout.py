"""The console's lineage graph (amiable.console.lineage): the chain read off
GetImageAncestry, the nodes and edges, and a layout by generation that never
overlaps, for hand-made and for random trees."""

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from amiable.console.image_references import resource_of
from amiable.console.lineage import (
    ANCESTOR,
    CURRENT,
    DESCENDANT,
    NAME_CHARS,
    NODE_HEIGHT,
    NODE_WIDTH,
    TOO_MANY,
    UNSEEN,
    Lineage,
    Node,
    Ref,
    chain,
    lineage,
    short_date,
    shortened,
)

CREATED = "2026-12-06T10:11:12.000Z"


def image(
    image_id: str, source: str = "", region: str = "", name: str = "", **extra: Any
) -> dict[str, Any]:
    made: dict[str, Any] = {"ImageId": image_id, "Name": name or f"name-{image_id}"}
    made["CreationDate"] = extra.pop("created", CREATED)
    if source:
        made["SourceImageId"], made["SourceImageRegion"] = source, region
    return {**made, **extra}


def by_id(graph: Lineage) -> dict[str, Node]:
    return {node.image_id: node for node in graph.nodes}


def overlapping(graph: Lineage) -> list[tuple[str, str]]:
    nodes = graph.nodes
    return [
        (a.image_id, b.image_id)
        for i, a in enumerate(nodes)
        for b in nodes[i + 1 :]
        if abs(a.x - b.x) < NODE_WIDTH and abs(a.y - b.y) < NODE_HEIGHT
    ]


def test_the_chain_follows_source_regions_root_first() -> None:
    entries = [
        {"ImageId": "ami-c", "SourceImageId": "ami-b", "SourceImageRegion": "eu-west-1"},
        {"ImageId": "ami-b", "SourceImageId": "ami-a", "SourceImageRegion": "us-east-1"},
        {"ImageId": "ami-a"},
    ]
    assert chain(entries, "us-west-2") == [
        Ref("ami-a", "us-east-1"),
        Ref("ami-b", "eu-west-1"),
        Ref("ami-c", "us-west-2"),
    ]


def test_a_parent_the_ancestry_could_not_follow_is_kept_unseen() -> None:
    entries = [{"ImageId": "ami-b", "SourceImageId": "ami-a", "SourceImageRegion": "us-east-1"}]
    refs = chain(entries, "eu-west-1")
    assert refs == [Ref("ami-a", "us-east-1", seen=False), Ref("ami-b", "eu-west-1")]
    graph = lineage(refs, {"ami-b": image("ami-b", "ami-a", "us-east-1")})
    parent = by_id(graph)["ami-a"]
    assert (parent.relation, parent.seen, parent.name, parent.created) == (UNSEEN, False, "", "")
    assert graph.label == "Lineage of ami-b: 1 ancestor, 0 descendants"


def test_an_ancestor_describe_images_did_not_show_is_unseen_too() -> None:
    refs = [Ref("ami-a", "us-east-1"), Ref("ami-b", "eu-west-1")]
    graph = lineage(refs, {"ami-b": image("ami-b", "ami-a", "us-east-1")})
    assert by_id(graph)["ami-a"].relation == UNSEEN


def test_generations_are_columns_and_the_image_is_marked() -> None:
    refs = [Ref("ami-root", "us-east-1"), Ref("ami-b", "eu-west-1")]
    shown = {"ami-root": image("ami-root"), "ami-b": image("ami-b", "ami-root", "us-east-1")}
    descendants = [
        ("us-west-2", image("ami-c", "ami-b", "eu-west-1")),
        ("us-east-1", image("ami-d", "ami-b", "eu-west-1")),
        ("us-west-2", image("ami-e", "ami-c", "us-west-2")),
    ]
    graph = lineage(refs, shown, descendants)
    nodes = by_id(graph)
    assert {i: n.column for i, n in nodes.items()} == {
        "ami-root": 0,
        "ami-b": 1,
        "ami-c": 2,
        "ami-d": 2,
        "ami-e": 3,
    }
    assert [n.relation for n in graph.nodes] == [
        ANCESTOR,
        CURRENT,
        DESCENDANT,
        DESCENDANT,
        DESCENDANT,
    ]
    assert nodes["ami-e"].href == "/console/us-west-2/images/ami-e"
    assert graph.label == "Lineage of ami-b: 1 ancestor, 3 descendants"
    assert overlapping(graph) == []
    assert {(e.parent, e.child, e.cross_region) for e in graph.edges} == {
        ("ami-root", "ami-b", True),
        ("ami-b", "ami-c", True),
        ("ami-b", "ami-d", True),
        ("ami-c", "ami-e", False),
    }
    assert all(
        n.x + NODE_WIDTH <= graph.width and n.y + NODE_HEIGHT <= graph.height for n in graph.nodes
    )


def test_an_edge_runs_from_the_parents_right_side_to_the_childs_left_side() -> None:
    refs = [Ref("ami-a", "us-east-1")]
    graph = lineage(
        refs, {"ami-a": image("ami-a")}, [("us-east-1", image("ami-b", "ami-a", "us-east-1"))]
    )
    parent, child = graph.nodes
    (edge,) = graph.edges
    numbers = [int(n) for n in re.findall(r"-?\d+", edge.path)]
    assert numbers[:2] == [parent.x + NODE_WIDTH, parent.y + NODE_HEIGHT // 2]
    assert numbers[-2:] == [child.x, child.y + NODE_HEIGHT // 2]


def test_siblings_go_oldest_first_and_the_parent_sits_between_them() -> None:
    refs = [Ref("ami-a", "us-east-1")]
    descendants = [
        ("us-east-1", image("ami-new", "ami-a", "us-east-1", created="2026-12-06T10:11:13.000Z")),
        ("us-east-1", image("ami-old", "ami-a", "us-east-1", created="2026-12-06T10:11:12.000Z")),
    ]
    nodes = by_id(lineage(refs, {"ami-a": image("ami-a")}, descendants))
    assert nodes["ami-old"].y < nodes["ami-a"].y < nodes["ami-new"].y


def test_a_descendant_whose_parent_is_not_in_the_graph_is_left_out_and_a_cut_is_said() -> None:
    refs = [Ref("ami-a", "us-east-1")]
    descendants = [("us-east-1", image("ami-x", "ami-elsewhere", "us-east-1"))]
    graph = lineage(refs, {"ami-a": image("ami-a")}, descendants, TOO_MANY)
    assert [n.image_id for n in graph.nodes] == ["ami-a"]
    assert graph.label == f"Lineage of ami-a: 0 ancestors, 0 descendants ({TOO_MANY})"


def test_the_name_tag_wins_over_the_ami_name_and_long_names_are_shortened() -> None:
    tagged = image("ami-a", name="ami-name", Tags=[{"Key": "Name", "Value": "x" * 40}])
    (node,) = lineage([Ref("ami-a", "us-east-1")], {"ami-a": tagged}).nodes
    assert node.name == "x" * 40
    assert node.short_name == "x" * (NAME_CHARS - 1) + "…"
    assert "x" * 40 in node.described
    assert node.when == "2026-12-06 10:11 UTC"
    assert shortened("short", 30) == "short"
    assert short_date("yesterday") == "yesterday"


def test_resources_are_read_off_their_arns() -> None:
    assert resource_of("arn:aws:ec2:us-east-1:000000000000:instance/i-0abc") == "i-0abc"
    assert resource_of("arn:aws:ec2:us-east-1:000000000000:launch-template/lt-1") == "lt-1"
    assert resource_of("arn:aws:ssm:us-east-1:000000000000:parameter/golden") == "golden"
    assert resource_of("arn:aws:ssm:us-east-1:000000000000:parameter/team/golden") == "/team/golden"


@st.composite
def trees(draw: st.DrawFn) -> tuple[int, list[int]]:
    """A chain of `ancestors` images above the image, and the parent (an
    earlier index) of each descendant."""
    ancestors = draw(st.integers(0, 4))
    count = draw(st.integers(0, 30))
    parents = [draw(st.integers(ancestors, ancestors + i)) for i in range(count)]
    return ancestors, parents


@given(trees())
def test_no_two_nodes_overlap_and_children_are_one_column_right_of_their_parent(
    tree: tuple[int, list[int]],
) -> None:
    ancestors, parents = tree
    refs = [Ref(f"ami-{i}", "us-east-1") for i in range(ancestors + 1)]
    shown = {ref.image_id: image(ref.image_id) for ref in refs}
    descendants = [
        ("us-east-1", image(f"ami-{ancestors + 1 + i}", f"ami-{parent}", "us-east-1"))
        for i, parent in enumerate(parents)
    ]
    graph = lineage(refs, shown, descendants)
    nodes = by_id(graph)
    assert len(graph.nodes) == ancestors + 1 + len(parents)
    assert overlapping(graph) == []
    assert len(graph.edges) == len(graph.nodes) - 1
    for edge in graph.edges:
        assert nodes[edge.child].column == nodes[edge.parent].column + 1
    assert all(n.x >= 0 and n.y >= 0 for n in graph.nodes)
    assert all(
        n.x + NODE_WIDTH <= graph.width and n.y + NODE_HEIGHT <= graph.height for n in graph.nodes
    )
