"""Service graphs: who calls whom, aggregated in polars, handed to networkx as edges.

Nodes are ECS entities (at the chosen level) and external peers: the internet (optionally by
prefix), AWS services by name, non-ECS ENIs, and unknown private addresses. Edges point from
client to server.

Examples
--------
>>> import ecsflow
>>> g = service_graph(ecsflow.read_flow_logs("data/samples/article"), level="cluster")
>>> g.number_of_nodes(), g.number_of_edges()
(5, 3)
>>> [(g.nodes[u]["kind"], g.nodes[v]["kind"]) for u, v in g.edges if v == "internet"]
[('ecs_task', 'internet')]
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import altair as alt
import networkx as nx
import polars as pl

from ecsflow.attribute import attribute_flows
from ecsflow.sources import as_utc

__all__ = ["draw_graph", "graph_diff", "graph_frames", "service_graph", "write_graph"]

Level = Literal["service", "task", "cluster", "task_definition"]
_ATTRIBUTED = ("src_kind", "dst_kind", "initiator", "is_primary")


def _node(side: str, level: Level, internet_prefix: int | None) -> pl.Expr:
    c = lambda name: pl.col(f"{side}_{name}").cast(pl.String)  # noqa: E731
    family_rev = c("ecs_task_definition_arn").str.extract(r"task-definition/(.+)$", 1)
    ecs = {
        "task": c("ecs_task_id"),
        "cluster": c("ecs_cluster_name"),
        "task_definition": family_rev,
        # A standalone task has no service: name it by its task-definition family.
        "service": pl.coalesce(
            c("ecs_service_name"),
            pl.format("{} (standalone)", family_rev.str.replace(":\\d+$", "")),
        ),
    }[level]
    ip = c("ip")
    if internet_prefix:
        octets = max(1, min(4, internet_prefix // 8))
        net = ip.str.split(".").list.head(octets).list.join(".")
        v4 = pl.format(f"internet {{}}{'.0' * (4 - octets)}/{octets * 8}", net)
        # Prefixes are IPv4 octets; IPv6 peers share one node rather than one each.
        internet = pl.when(ip.str.contains(":", literal=True)).then(pl.lit("internet (IPv6)"))
        internet = internet.otherwise(v4)
    else:
        internet = pl.lit("internet")
    kind = c("kind")
    return (
        pl.when(kind == "ecs_task").then(pl.coalesce(ecs, c("interface_id")))
        .when(kind == "vpc_eni").then(c("interface_id"))
        .when(kind == "aws_service").then(pl.format("aws:{}", c("aws_service")))
        .when(kind == "internet").then(internet)
        .otherwise(pl.format("ip:{}", ip))
    )  # fmt: skip


def _edges_frame(
    flows: pl.DataFrame | pl.LazyFrame,
    *,
    level: Level,
    start: datetime | None,
    end: datetime | None,
    internet_prefix: int | None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    lazy = flows.lazy()
    schema = lazy.collect_schema()
    if not all(c in schema for c in _ATTRIBUTED):
        lazy = attribute_flows(lazy)
    if "log_status" in schema:
        lazy = lazy.filter(pl.col("log_status") == "OK")
    start, end = as_utc(start), as_utc(end)
    if start is not None:
        lazy = lazy.filter(pl.col("end") >= start)
    if end is not None:
        lazy = lazy.filter(pl.col("start") < end)
    client_is_src = pl.col("initiator") == "src"
    lazy = lazy.with_columns(
        _node("src", level, internet_prefix).alias("__src_node"),
        _node("dst", level, internet_prefix).alias("__dst_node"),
    )
    # Sizes come from one record per flow side (the sender's); rejections from every record,
    # since a security group that rejects on the receiving ENI shows only there.
    primary = pl.col("is_primary")
    pick = lambda a, b: pl.when(client_is_src).then(pl.col(a)).otherwise(pl.col(b))  # noqa: E731
    # Formats without bytes or packets still give a graph (their sums are 0).
    for name in ("bytes", "packets"):
        if name not in schema:
            lazy = lazy.with_columns(pl.lit(None, pl.Int64).alias(name))
    accept = pl.col("action") == "ACCEPT" if "action" in schema else pl.lit(True)
    # Aggregated input (ecsflow.aggregate_flows) says how many records each row stands for.
    weight = pl.col("records") if "records" in schema else pl.lit(1, pl.Int64)
    counts = [
        weight.filter(primary).sum().alias("records"),
        weight.filter(primary & accept).sum().alias("accepted"),
        weight.filter(~accept).sum().alias("rejected"),
    ]
    edges = (
        lazy.with_columns(
            pick("__src_node", "__dst_node").alias("client"),
            pick("__dst_node", "__src_node").alias("server"),
            pl.when(client_is_src).then(pl.col("bytes")).otherwise(0).alias("__to_server"),
            pl.when(client_is_src).then(0).otherwise(pl.col("bytes")).alias("__to_client"),
            pl.concat_str(
                pick("src_ip", "dst_ip"),
                pick("dst_ip", "src_ip"),
                pl.col("server_port"),
                pl.col("protocol"),
                separator="|",
                ignore_nulls=True,
            ).alias("__conn"),
        )
        .group_by("client", "server")
        .agg(
            pl.col("__to_server").filter(primary).sum().alias("bytes_to_server"),
            pl.col("__to_client").filter(primary).sum().alias("bytes_to_client"),
            pl.col("packets").filter(primary).sum().alias("packets"),
            pl.col("__conn").filter(primary).n_unique().alias("flows"),
            *counts,
            pl.col("server_port").drop_nulls().unique().sort().alias("server_ports"),
            pl.col("protocol").drop_nulls().unique().sort().alias("protocols"),
            pl.col("start").min().alias("first_seen"),
            pl.col("end").max().alias("last_seen"),
        )
        .with_columns((pl.col("bytes_to_server") + pl.col("bytes_to_client")).alias("bytes"))
        .sort("client", "server")
    )
    nodes = (
        pl.concat(
            [
                lazy.select(
                    pl.col(f"__{s}_node").alias("node"),
                    pl.col(f"{s}_kind").cast(pl.String).alias("kind"),
                    pl.col(f"{s}_ecs_cluster_name").cast(pl.String).alias("cluster"),
                    pl.col(f"{s}_ecs_service_name").cast(pl.String).alias("service"),
                    pl.col(f"{s}_launch_type").alias("launch_type"),
                    pl.col(f"{s}_ecs_task_id").cast(pl.String).alias("task"),
                )
                for s in ("src", "dst")
            ]
        )
        .group_by("node")
        .agg(
            pl.col("kind").first(),
            pl.col("cluster").drop_nulls().first(),
            pl.col("service").drop_nulls().first(),
            pl.col("launch_type").drop_nulls().first(),
            pl.col("task").drop_nulls().n_unique().alias("tasks"),
        )
        .sort("node")
    )
    edges_df, nodes_df = pl.collect_all([edges, nodes])
    return nodes_df, edges_df


def service_graph(
    flows: pl.DataFrame | pl.LazyFrame,
    /,
    *,
    level: Level = "service",
    start: datetime | None = None,
    end: datetime | None = None,
    internet_prefix: int | None = None,
) -> nx.DiGraph:
    """Who calls whom: a directed graph from clients to servers.

    Parameters
    ----------
    flows
        Cleaned flows, attributed or not (:func:`ecsflow.attribute_flows` runs if needed).
    level
        ECS nodes per ``"service"`` (standalone tasks by task-definition family),
        ``"task"``, ``"cluster"`` or ``"task_definition"`` (family:revision).
    start, end
        Only records overlapping this time window.
    internet_prefix
        Split the internet node by IPv4 prefix length (8, 16 or 24) instead of one node.

    Returns
    -------
    networkx.DiGraph
        Node attributes: ``kind``, ``cluster``, ``service``, ``launch_type``, ``tasks``.
        Edge attributes: ``bytes``, ``bytes_to_server``, ``bytes_to_client``, ``packets``,
        ``flows`` (distinct client/server address, port and protocol), ``records``,
        ``server_ports``, ``protocols``, ``first_seen``, ``last_seen``, ``accepted``,
        ``rejected``. All plain Python values.

    Examples
    --------
    >>> import ecsflow
    >>> g = service_graph(ecsflow.read_flow_logs("data/samples/article"))
    >>> [d["server_ports"] for _, _, d in g.edges(data=True) if d["server_ports"]]
    [[80], [80]]
    """
    nodes, edges = _edges_frame(
        flows, level=level, start=start, end=end, internet_prefix=internet_prefix
    )
    graph = nx.DiGraph(level=level)
    for row in nodes.iter_rows(named=True):
        graph.add_node(row.pop("node"), **row)
    for row in edges.iter_rows(named=True):
        graph.add_edge(row.pop("client"), row.pop("server"), **row)
    return graph


def graph_frames(graph: nx.DiGraph, /, *, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Nodes (with layout positions) and edges of a graph as polars frames, ready to draw.

    >>> g = nx.DiGraph(); g.add_edge("a", "b", bytes=10)
    >>> nodes, edges = graph_frames(g)
    >>> nodes.columns[:3], edges.select("source", "target", "bytes").row(0)
    (['node', 'x', 'y'], ('a', 'b', 10))
    """
    pos = nx.spring_layout(graph, seed=seed) if graph.number_of_nodes() else {}
    # An attribute that is None everywhere (launch type without ECS fields) has no dtype to
    # infer: such columns become strings.
    nodes = pl.DataFrame(
        [
            {"node": n, "x": float(pos[n][0]), "y": float(pos[n][1]), **_flat(d)}
            for n, d in graph.nodes(data=True)
        ],
        infer_schema_length=None,
    )
    edges = pl.DataFrame(
        [
            {
                "source": u, "target": v,
                "x": float(pos[u][0]), "y": float(pos[u][1]),
                "x2": float(pos[v][0]), "y2": float(pos[v][1]),
                **_flat(d),
            }
            for u, v, d in graph.edges(data=True)
        ],
        infer_schema_length=None,
    )  # fmt: skip
    nodes, edges = (
        f.with_columns(pl.col(c).cast(pl.String) for c in f.columns if f[c].dtype == pl.Null)
        for f in (nodes, edges)
    )
    return nodes, edges


def _flat(attrs: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in attrs.items():
        if isinstance(v, list):
            v = ", ".join(str(x) for x in v)
        elif isinstance(v, datetime):
            v = v.isoformat()
        out[k] = v
    return out


def draw_graph(
    graph: nx.DiGraph, /, *, color: str = "kind", seed: int = 0, title: str | None = None
) -> alt.LayerChart:
    """Draw a service graph with altair: edges as rules sized by bytes, coloured nodes.

    Parameters
    ----------
    color
        Node attribute to colour by, e.g. ``"kind"`` or ``"cluster"``.

    Examples
    --------
    >>> import ecsflow
    >>> chart = draw_graph(service_graph(ecsflow.read_flow_logs("data/samples/article")))
    >>> [layer.mark.type for layer in chart.layer]
    ['rule', 'circle', 'text']
    """
    nodes, edges = graph_frames(graph, seed=seed)
    axis = alt.Axis(title=None, labels=False, ticks=False, grid=False, domain=False)
    x, y = alt.X("x:Q", axis=axis), alt.Y("y:Q", axis=axis)
    edge_tips = [
        c
        for c in ("source", "target", "bytes", "server_ports", "flows", "rejected")
        if c in edges.columns
    ]
    rules = (
        alt.Chart(edges)
        .mark_rule(opacity=0.6)
        .encode(
            x=x,
            y=y,
            x2="x2:Q",
            y2="y2:Q",
            size=alt.Size("bytes:Q", scale=alt.Scale(range=[1, 8]), title="bytes"),
            tooltip=edge_tips,
        )
    )
    node_tips = [
        c
        for c in ("node", "kind", "cluster", "service", "launch_type", "tasks")
        if c in nodes.columns
    ]
    points = (
        alt.Chart(nodes)
        .mark_circle(size=300, opacity=0.9)
        .encode(x=x, y=y, color=alt.Color(f"{color}:N"), tooltip=node_tips)
    )
    labels = alt.Chart(nodes).mark_text(dy=-14, fontSize=10).encode(x=x, y=y, text="node:N")
    chart = alt.layer(rules, points, labels).properties(width=600, height=420)
    return chart.properties(title=title) if title else chart


def write_graph(graph: nx.DiGraph, path: str | Path, /) -> Path:
    """Write a graph as GraphML (``.graphml``) or node-link JSON (``.json``).

    Lists become comma-separated strings in GraphML and datetimes ISO strings in both.

    >>> import tempfile
    >>> g = nx.DiGraph(); g.add_edge("a", "b", server_ports=[80, 443])
    >>> p = write_graph(g, Path(tempfile.mkdtemp()) / "g.graphml")
    >>> nx.read_graphml(p).edges["a", "b"]["server_ports"]
    '80, 443'
    """
    path = Path(path)
    if path.suffix == ".graphml":
        flat = nx.DiGraph(**_flat(graph.graph))
        flat.add_nodes_from((n, _flat(d)) for n, d in graph.nodes(data=True))
        flat.add_edges_from((u, v, _flat(d)) for u, v, d in graph.edges(data=True))
        for _, d in flat.nodes(data=True):
            for k in [k for k, v in d.items() if v is None]:
                del d[k]
        nx.write_graphml(flat, path)
    elif path.suffix == ".json":
        data = nx.node_link_data(graph, edges="edges")
        path.write_text(json.dumps(data, default=_json_default, indent=1))
    else:
        raise ValueError(f"write_graph writes .graphml or .json, not {path.suffix!r}")
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def graph_diff(before: nx.DiGraph, after: nx.DiGraph, /) -> pl.DataFrame:
    """Edges that appeared, vanished or stayed between two graphs (e.g. before and after a deploy).

    Returns
    -------
    DataFrame
        ``client``, ``server``, ``change`` (``new``, ``vanished`` or ``kept``), and the
        bytes and server ports on each side.

    Examples
    --------
    >>> a, b = nx.DiGraph(), nx.DiGraph()
    >>> a.add_edge("web", "db", bytes=5, server_ports=[5432]); b.add_edge("web", "cache", bytes=7, server_ports=[6379])
    >>> graph_diff(a, b).select("client", "server", "change").rows()
    [('web', 'cache', 'new'), ('web', 'db', 'vanished')]
    """  # noqa: E501

    def frame(g: nx.DiGraph, tag: str) -> pl.DataFrame:
        rows = [
            {
                "client": u,
                "server": v,
                f"bytes_{tag}": d.get("bytes"),
                f"server_ports_{tag}": d.get("server_ports") or [],
                f"in_{tag}": True,
            }
            for u, v, d in g.edges(data=True)
        ]
        schema = {
            "client": pl.String,
            "server": pl.String,
            f"bytes_{tag}": pl.Int64,
            f"server_ports_{tag}": pl.List(pl.Int64),
            f"in_{tag}": pl.Boolean,
        }
        return pl.DataFrame(rows, schema=schema)

    joined = frame(before, "before").join(
        frame(after, "after"), on=["client", "server"], how="full", coalesce=True
    )
    change = (
        pl.when(pl.col("in_before").is_null()).then(pl.lit("new"))
        .when(pl.col("in_after").is_null()).then(pl.lit("vanished"))
        .otherwise(pl.lit("kept"))
    )  # fmt: skip
    return (
        joined.with_columns(change.alias("change"))
        .select(
            "client",
            "server",
            "change",
            "bytes_before",
            "bytes_after",
            "server_ports_before",
            "server_ports_after",
        )
        .sort("client", "server")
    )
