"""ecsflow: which ECS services talk to which, from AWS VPC Flow Logs.

Load any VPC Flow Logs delivery into cleaned polars frames; see the README for the tour.

Examples
--------
>>> import ecsflow
>>> ecsflow.read_flow_logs("data/samples/article").height
10
"""

from ecsflow.clean import BadLinesWarning, clean_flow_logs
from ecsflow.errors import FlowLogError
from ecsflow.fields import DEFAULT_FORMAT, FIELDS, Field, parse_log_format, schema_markdown
from ecsflow.load import bad_lines, read_flow_logs, scan_flow_logs
from ecsflow.read import FieldMismatchWarning
from ecsflow.sources import expand_source

__all__ = [
    "DEFAULT_FORMAT",
    "FIELDS",
    "BadLinesWarning",
    "Field",
    "FieldMismatchWarning",
    "FlowLogError",
    "bad_lines",
    "clean_flow_logs",
    "expand_source",
    "parse_log_format",
    "read_flow_logs",
    "scan_flow_logs",
    "schema_markdown",
]
