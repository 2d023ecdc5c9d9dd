"""Service graphs on the article sample: edges, levels, slicing, diff, export and drawing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import altair as alt
import networkx as nx
import polars as pl
import pytest

import ecsflow

DEPLOY2 = datetime(2024, 5, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def flows():
    return ecsflow.read_flow_logs("data/samples/article")


def _short(name: str) -> str:
    return name if name == "internet" else name.split("-")[1]


def test_article_service_graph_has_each_deploys_call_and_the_ping(flows):
    g = ecsflow.service_graph(flows)
    edges = {(u, v): d for u, v, d in g.edges(data=True)}
    assert len(edges) == 3
    client1, server1 = (
        "EcsStack-EcsFargateConstruct2ServiceD9DCAB71-uVoQu1GEBKtI",
        "EcsStack-EcsFargateConstructService485E693B-zJq54DZ1cojO",
    )
    client2, server2 = (
        "EcsStack-EcsFargateConstruct2ServiceD9DCAB71-SenET0heWI5p",
        "EcsStack-EcsFargateConstructService485E693B-foIQw9wUCkpI",
    )
    for client, server in ((client1, server1), (client2, server2)):
        d = edges[client, server]  # client -> server, never the reverse
        assert d["server_ports"] == [80] and d["protocols"] == [6]
        assert (d["bytes_to_server"], d["bytes_to_client"], d["bytes"]) == (413, 1020, 1433)
        assert (d["flows"], d["records"], d["accepted"], d["rejected"]) == (1, 2, 2, 0)
        assert (server, client) not in edges
    ping = edges[client1, "internet"]
    assert ping["server_ports"] == [] and ping["protocols"] == [1]
    assert ping["bytes_to_server"] == ping["bytes_to_client"] == 336
    assert g.nodes["internet"]["kind"] == "internet"
    assert g.nodes[server1] == {
        "kind": "ecs_task",
        "cluster": "EcsStack-EcsFargateConstructCluster1F80E083-QjhlCq9gvCwG",
        "service": server1,
        "launch_type": "FARGATE",
        "tasks": 1,
    }


def test_attributes_are_plain_python(flows):
    g = ecsflow.service_graph(flows, level="task")
    for _, _, d in g.edges(data=True):
        for value in d.values():
            assert type(value) in (int, str, list, datetime), type(value)
        assert isinstance(d["first_seen"], datetime) and d["first_seen"].tzinfo is not None
    for _, d in g.nodes(data=True):
        assert all(type(v) in (int, str, type(None)) for v in d.values())


@pytest.mark.parametrize(
    ("level", "nodes"),
    [("service", 5), ("task", 5), ("cluster", 5), ("task_definition", 5)],
)
def test_levels(flows, level, nodes):
    g = ecsflow.service_graph(flows, level=level)
    assert g.number_of_nodes() == nodes and g.graph["level"] == level
    if level == "task":
        assert "88316020871d4ec7a200c1ce6d25273d" in g
    if level == "task_definition":
        assert "EcsStackEcsFargateConstructTaskDefinition9DD364BE:10" in g


def test_time_slices_and_diff_after_the_deploy(flows):
    before = ecsflow.service_graph(flows, level="task_definition", end=DEPLOY2)
    after = ecsflow.service_graph(flows, level="task_definition", start=DEPLOY2)
    assert before.number_of_edges() == 2 and after.number_of_edges() == 1
    diff = ecsflow.graph_diff(before, after)
    changes = {
        (c.split(":")[-1], s.split(":")[-1]): ch
        for c, s, ch in diff.select("client", "server", "change").rows()
    }
    assert changes == {("1", "9"): "vanished", ("1", "internet"): "vanished", ("2", "10"): "new"}
    same = ecsflow.graph_diff(before, before)
    assert set(same["change"]) == {"kept"}


def test_internet_by_prefix(flows):
    g = ecsflow.service_graph(flows, internet_prefix=24)
    assert "internet 8.8.8.0/24" in g and "internet" not in g


def test_export_graphml_and_node_link(flows, tmp_path):
    g = ecsflow.service_graph(flows)
    back = nx.read_graphml(ecsflow.write_graph(g, tmp_path / "g.graphml"))
    assert set(back.edges) == set(g.edges)
    assert {d["server_ports"] for *_, d in back.edges(data=True)} == {"80", ""}
    data = json.loads(ecsflow.write_graph(g, tmp_path / "g.json").read_text())
    assert len(data["edges"]) == 3 and len(data["nodes"]) == 5
    assert date.fromisoformat(data["edges"][0]["first_seen"][:10]).year == 2024
    with pytest.raises(ValueError, match="graphml"):
        ecsflow.write_graph(g, tmp_path / "g.txt")


def test_draw_graph(flows):
    g = ecsflow.service_graph(flows)
    chart = ecsflow.draw_graph(g, color="cluster", title="article")
    assert isinstance(chart, alt.LayerChart)
    spec = chart.to_dict()
    rule, circle, _ = spec["layer"]
    assert rule["encoding"]["size"]["field"] == "bytes"
    assert circle["encoding"]["color"]["field"] == "cluster"
    nodes, edges = ecsflow.graph_frames(g)
    assert nodes.height == 5 and edges.height == 3
    assert edges.filter(pl.col("target") == "internet")["bytes"].to_list() == [672]


def test_empty_window_gives_an_empty_graph(flows):
    g = ecsflow.service_graph(flows, start=datetime(2030, 1, 1, tzinfo=UTC))
    assert g.number_of_nodes() == 0
    assert ecsflow.draw_graph(g).to_dict()["layer"]


def test_formats_without_bytes_or_launch_type_still_draw(flows):
    narrow = flows.drop("bytes", "packets", "ecs_container_instance_arn")
    g = ecsflow.service_graph(narrow)
    assert g.number_of_edges() == 3
    assert {d["bytes"] for *_, d in g.edges(data=True)} == {0}
    assert {d["launch_type"] for _, d in g.nodes(data=True)} == {None}
    nodes, _ = ecsflow.graph_frames(g)
    assert nodes["launch_type"].dtype == pl.String
    assert ecsflow.draw_graph(g).to_dict()["layer"]
