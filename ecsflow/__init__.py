"""ecsflow: which ECS services talk to which, from AWS VPC Flow Logs.

Load any VPC Flow Logs delivery into cleaned polars frames; see the README for the tour.

Examples
--------
>>> import ecsflow
>>> ecsflow.read_flow_logs("data/samples/article").height
10
"""

from ecsflow.attribute import PEER_KINDS, attribute_flows, task_intervals
from ecsflow.charts import bar_chart, heatmap_chart, setup_altair, timeline_chart
from ecsflow.clean import BadLinesWarning, clean_flow_logs
from ecsflow.containers import (
    container_slots,
    eni_metadata_consistency,
    resolve_container_names,
    sender_check,
    slot_order_report,
)
from ecsflow.errors import FlowLogError
from ecsflow.fields import DEFAULT_FORMAT, FIELDS, Field, parse_log_format, schema_markdown
from ecsflow.graph import draw_graph, graph_diff, graph_frames, service_graph, write_graph
from ecsflow.load import bad_lines, read_flow_logs, scan_flow_logs
from ecsflow.progress import progress
from ecsflow.read import FieldMismatchWarning
from ecsflow.redact import redact
from ecsflow.reduce import aggregate_flows, clean_aggregate, reduce_flows
from ecsflow.simulate import DEFAULT_V7_FORMAT, SimulationParams, SimulationResult, simulate
from ecsflow.sources import expand_source

__all__ = [
    "DEFAULT_FORMAT",
    "DEFAULT_V7_FORMAT",
    "FIELDS",
    "PEER_KINDS",
    "BadLinesWarning",
    "Field",
    "FieldMismatchWarning",
    "FlowLogError",
    "SimulationParams",
    "SimulationResult",
    "aggregate_flows",
    "attribute_flows",
    "bad_lines",
    "bar_chart",
    "clean_aggregate",
    "clean_flow_logs",
    "container_slots",
    "draw_graph",
    "eni_metadata_consistency",
    "expand_source",
    "graph_diff",
    "graph_frames",
    "heatmap_chart",
    "parse_log_format",
    "progress",
    "read_flow_logs",
    "redact",
    "reduce_flows",
    "render_notebook",
    "render_reports",
    "resolve_container_names",
    "scan_flow_logs",
    "schema_markdown",
    "sender_check",
    "service_graph",
    "setup_altair",
    "simulate",
    "slot_order_report",
    "task_intervals",
    "timeline_chart",
    "write_graph",
]


def __getattr__(name: str):
    # The report machinery imports nbconvert and nbclient: load it only when asked for.
    if name in ("render_notebook", "render_reports"):
        from ecsflow import report

        return getattr(report, name)
    raise AttributeError(f"module 'ecsflow' has no attribute {name!r}")
