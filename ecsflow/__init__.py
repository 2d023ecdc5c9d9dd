"""ecsflow: which ECS services talk to which, from AWS VPC Flow Logs.

Load any VPC Flow Logs delivery into cleaned polars frames; see the README for the tour.

Examples
--------
>>> import ecsflow
>>> ecsflow.read_flow_logs("data/samples/article").height
10
"""

from ecsflow.attribute import PEER_KINDS, attribute_flows, task_intervals
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


# altair takes over a second to import and the report machinery pulls in nbconvert: load
# their modules on first use, so that loading flow logs starts fast.
_LAZY = {
    "bar_chart": "charts",
    "heatmap_chart": "charts",
    "setup_altair": "charts",
    "timeline_chart": "charts",
    "draw_graph": "graph",
    "graph_diff": "graph",
    "graph_frames": "graph",
    "service_graph": "graph",
    "write_graph": "graph",
    "render_notebook": "report",
    "render_reports": "report",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"ecsflow.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'ecsflow' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
