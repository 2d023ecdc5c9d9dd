"""The field registry: the one source of truth about VPC Flow Logs fields.

Every field AWS documents is listed once in :data:`FIELDS` with its name, the version that
introduced it, the cleaned polars dtype (from AWS's Parquet types), its meaning, the values it may
take and how it is decoded. Reading, cleaning, the README's column table and any generated SQL
are derived from this module.

Sources: AWS VPC User Guide "Flow log records" and "Flow log record examples"; see
``shared/reference/flowlogs-format.md`` in the project for the evidence behind each entry.

Examples
--------
>>> FIELD_BY_NAME["ecs-second-container-id"].column
'ecs_second_container_id'
>>> FIELD_BY_NAME["srcport"].dtype
Int32
>>> parse_log_format("${version} ${interface-id} ${srcaddr}")
['version', 'interface-id', 'srcaddr']
>>> format_version(["srcaddr", "ecs-task-id"])
7
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import polars as pl

__all__ = [
    "DEFAULT_FORMAT",
    "DERIVED_COLUMNS",
    "FIELDS",
    "FIELD_BY_COLUMN",
    "FIELD_BY_NAME",
    "PROTOCOL_NAMES",
    "TCP_FLAG_BITS",
    "TRAFFIC_PATHS",
    "DerivedColumn",
    "Field",
    "column_name",
    "format_version",
    "parse_log_format",
    "schema_markdown",
]


def column_name(name: str) -> str:
    """Turn an AWS field name into its snake_case column name.

    >>> column_name("ecs-container-id")
    'ecs_container_id'
    >>> column_name("${pkt-src-aws-service}")
    'pkt_src_aws_service'
    """
    name = name.strip()
    if name.startswith("${") and name.endswith("}"):
        name = name[2:-1]
    return name.strip().replace("-", "_").lower()


TIME_DTYPE = pl.Datetime("us", "UTC")

# Largest value a start/end field can hold as Unix seconds before we read it as milliseconds.
# 10**11 seconds is the year 5138; 10**11 milliseconds is 1973. No real record is ambiguous.
MILLISECOND_EPOCH_THRESHOLD = 10**11


@dataclass(frozen=True)
class Field:
    """One flow-log field as AWS documents it.

    Attributes
    ----------
    name
        AWS's name, as in a format string (``${name}``) and the S3 header line.
    version
        Flow-log version that introduced the field; ``None`` where AWS states none.
    dtype
        Polars dtype after cleaning. Integers follow AWS's Parquet types; strings with a
        closed value set are ``pl.Enum``; repetitive identifiers are ``pl.Categorical``.
    parquet
        AWS's documented Parquet physical type (``INT_32``, ``INT_64`` or ``STRING``).
    meaning
        What the field holds, condensed from AWS's description.
    valid
        Inclusive ``(low, high)`` range for integer fields; values outside are bad input.
    codes
        Code-to-meaning table for integer fields whose values name something; cleaning adds a
        ``<column>_name`` column from it.
    pattern
        Regex that real values of a string field match; used to spot mislabelled columns.
    """

    name: str
    version: int | None
    dtype: pl.DataType
    parquet: str
    meaning: str
    valid: tuple[int, int] | None = None
    codes: Mapping[int, str] | None = field(default=None, hash=False)
    pattern: str | None = None

    @property
    def column(self) -> str:
        """The cleaned column name: AWS's name in snake_case."""
        return column_name(self.name)

    @property
    def is_integer(self) -> bool:
        return self.dtype.is_integer()

    @property
    def is_time(self) -> bool:
        return self.dtype == TIME_DTYPE


@dataclass(frozen=True)
class DerivedColumn:
    """A column that cleaning adds, computed from one or more fields."""

    name: str
    dtype: pl.DataType
    source: str
    meaning: str


# IANA protocol numbers (keywords as in the IANA registry "Assigned Internet Protocol Numbers").
PROTOCOL_NAMES: dict[int, str] = {
    0: "HOPOPT", 1: "ICMP", 2: "IGMP", 3: "GGP", 4: "IPv4", 5: "ST", 6: "TCP", 7: "CBT",
    8: "EGP", 9: "IGP", 12: "PUP", 17: "UDP", 20: "HMP", 22: "XNS-IDP", 27: "RDP",
    29: "ISO-TP4", 33: "DCCP", 36: "XTP", 37: "DDP", 38: "IDPR-CMTP", 41: "IPv6",
    43: "IPv6-Route", 44: "IPv6-Frag", 45: "IDRP", 46: "RSVP", 47: "GRE", 50: "ESP",
    51: "AH", 57: "SKIP", 58: "IPv6-ICMP", 59: "IPv6-NoNxt", 60: "IPv6-Opts", 73: "RSPF",
    81: "VMTP", 88: "EIGRP", 89: "OSPFIGP", 93: "AX.25", 94: "IPIP", 97: "ETHERIP",
    98: "ENCAP", 103: "PIM", 108: "IPComp", 112: "VRRP", 115: "L2TP", 124: "ISIS",
    132: "SCTP", 133: "FC", 135: "Mobility Header", 136: "UDPLite", 137: "MPLS-in-IP",
    139: "HIP", 140: "Shim6", 141: "WESP", 142: "ROHC", 143: "Ethernet",
}  # fmt: skip

# The TCP flags VPC Flow Logs reports, OR-ed over the aggregation interval. ACK is reported
# only together with SYN (18 = SYN-ACK); PSH and URG are never reported by AWS but decoded
# anyway so that hand-made or foreign data is not misread.
TCP_FLAG_BITS: dict[int, str] = {1: "FIN", 2: "SYN", 4: "RST", 8: "PSH", 16: "ACK", 32: "URG"}

# Decoded flags: a list of strings, so that `.list.join` and string comparisons just work (a
# list of an enum saved only 5 bytes a row).
TCP_FLAG_LIST = pl.List(pl.String())

TRAFFIC_PATHS: dict[int, str] = {
    1: "same VPC",
    2: "internet gateway or gateway VPC endpoint",
    3: "virtual private gateway",
    4: "intra-region VPC peering",
    5: "inter-region VPC peering",
    6: "local gateway",
    7: "gateway VPC endpoint",
    8: "internet gateway",
}

ENCRYPTION_STATUSES: dict[int, str] = {
    0: "not encrypted",
    1: "nitro-encrypted",
    2: "application-encrypted",
    3: "nitro- and application-encrypted",
}

_CAT = pl.Categorical()
_I32 = (-(2**31), 2**31 - 1)
_I64 = (-(2**63), 2**63 - 1)
_COUNT = (0, 2**63 - 1)
_PORT = (0, 65535)
# Epochs from 10**11 up are milliseconds; the largest that still fits microseconds in Int64.
_EPOCH = (0, (2**63 - 1) // 1000)

_ECS = "'-' when the ENI is not an ECS task's."

FIELDS: tuple[Field, ...] = (
    Field("version", 2, pl.Int32(), "INT_32", "Flow-log version of the record: 2 for the default format, else the highest version among the format's fields.", (2, 255)),  # noqa: E501
    Field("account-id", 2, _CAT, "STRING", "AWS account that owns the network interface ('unknown' for some AWS-service ENIs)."),  # noqa: E501
    Field("interface-id", 2, _CAT, "STRING", "Network interface (ENI) whose traffic is recorded."),
    Field("srcaddr", 2, pl.String(), "STRING", "Source address of incoming traffic, or the ENI's own address for outgoing traffic."),  # noqa: E501
    Field("dstaddr", 2, pl.String(), "STRING", "Destination address of outgoing traffic, or the ENI's own address for incoming traffic."),  # noqa: E501
    Field("srcport", 2, pl.Int32(), "INT_32", "Source port (0 for ICMP).", _PORT),
    Field("dstport", 2, pl.Int32(), "INT_32", "Destination port (0 for ICMP).", _PORT),
    Field("protocol", 2, pl.Int32(), "INT_32", "IANA protocol number.", (0, 255), PROTOCOL_NAMES),
    Field("packets", 2, pl.Int64(), "INT_64", "Packets transferred in the flow during the interval.", _COUNT),  # noqa: E501
    Field("bytes", 2, pl.Int64(), "INT_64", "Bytes transferred in the flow during the interval.", _COUNT),  # noqa: E501
    Field("start", 2, TIME_DTYPE, "INT_64", "When the first packet of the flow was received in the interval (UTC).", _EPOCH),  # noqa: E501
    Field("end", 2, TIME_DTYPE, "INT_64", "When the last packet of the flow was received in the interval (UTC).", _EPOCH),  # noqa: E501
    Field("action", 2, pl.Enum(["ACCEPT", "REJECT"]), "STRING", "ACCEPT or REJECT (by security group, network ACL, or after the connection closed)."),  # noqa: E501
    Field("log-status", 2, pl.Enum(["OK", "NODATA", "SKIPDATA"]), "STRING", "OK; NODATA: no traffic in the interval; SKIPDATA: records were skipped."),  # noqa: E501
    Field("vpc-id", 3, _CAT, "STRING", "VPC of the ENI."),
    Field("subnet-id", 3, _CAT, "STRING", "Subnet of the ENI."),
    Field("instance-id", 3, _CAT, "STRING", "Instance of the ENI if you own it; '-' for requester-managed ENIs (NAT gateway, Fargate)."),  # noqa: E501
    Field("tcp-flags", 3, pl.Int32(), "INT_32", "Bitmask of TCP flags OR-ed over the interval: FIN 1, SYN 2, RST 4, SYN-ACK 18.", (0, 255)),  # noqa: E501
    Field("type", 3, pl.Enum(["IPv4", "IPv6", "EFA"]), "STRING", "Traffic type."),
    Field("pkt-srcaddr", 3, pl.String(), "STRING", "Packet-level (original) source address, e.g. behind a NAT gateway."),  # noqa: E501
    Field("pkt-dstaddr", 3, pl.String(), "STRING", "Packet-level (original) destination address."),
    Field("region", 4, _CAT, "STRING", "Region of the ENI."),
    Field("az-id", 4, _CAT, "STRING", "Availability Zone ID of the ENI; '-' for sublocation traffic."),  # noqa: E501
    Field("sublocation-type", 4, pl.Enum(["wavelength", "outpost", "localzone"]), "STRING", "Sublocation type; '-' when not from a sublocation."),  # noqa: E501
    Field("sublocation-id", 4, _CAT, "STRING", "Sublocation ID; '-' when not from a sublocation."),
    Field("pkt-src-aws-service", 5, _CAT, "STRING", "AWS service (ip-ranges.json subset) of pkt-srcaddr, if any."),  # noqa: E501
    Field("pkt-dst-aws-service", 5, _CAT, "STRING", "AWS service (ip-ranges.json subset) of pkt-dstaddr, if any."),  # noqa: E501
    Field("flow-direction", 5, pl.Enum(["ingress", "egress"]), "STRING", "Direction relative to the recording ENI."),  # noqa: E501
    Field("traffic-path", 5, pl.Int32(), "INT_32", "Path egress traffic takes to its destination; '-' on ingress.", (1, 8), TRAFFIC_PATHS),  # noqa: E501
    Field("ecs-cluster-arn", 7, _CAT, "STRING", f"ARN of the ECS cluster of the task that owns the ENI. {_ECS}"),  # noqa: E501
    Field("ecs-cluster-name", 7, _CAT, "STRING", f"Name of that ECS cluster. {_ECS}"),
    Field("ecs-container-instance-arn", 7, _CAT, "STRING", "ARN of the EC2 container instance of the task; '-' on Fargate."),  # noqa: E501
    Field("ecs-container-instance-id", 7, _CAT, "STRING", "ID of the EC2 container instance of the task; '-' on Fargate."),  # noqa: E501
    Field("ecs-container-id", 7, _CAT, "STRING", "Runtime id of the task's 'first' container, in ECS event-arrival order: not the sending container."),  # noqa: E501
    Field("ecs-second-container-id", 7, _CAT, "STRING", "Runtime id of the task's 'second' container; may be '-' even when the task has two."),  # noqa: E501
    Field("ecs-service-name", 7, _CAT, "STRING", "ECS service that started the task; '-' for standalone tasks."),  # noqa: E501
    Field("ecs-task-definition-arn", 7, _CAT, "STRING", "Task definition (with revision) of the task."),  # noqa: E501
    Field("ecs-task-arn", 7, _CAT, "STRING", "ARN of the task that owns the ENI."),
    Field("ecs-task-id", 7, _CAT, "STRING", "ID of the task that owns the ENI."),
    Field("reject-reason", 8, _CAT, "STRING", "Why traffic was rejected: 'BPA' (VPC Block Public Access); '-' for any other reason."),  # noqa: E501
    Field("resource-id", None, pl.String(), "STRING", "Resource the record belongs to (regional NAT gateway); AWS states no version."),  # noqa: E501
    Field("encryption-status", None, pl.Int32(), "INT_32", "VPC encryption controls status: 0 none, 1 nitro, 2 application, 3 both.", (0, 3), ENCRYPTION_STATUSES),  # noqa: E501
)  # fmt: skip

_IP = r"^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F]*:[0-9a-fA-F:.]*)$"
_ARN = r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:"
_PATTERNS = {
    "account-id": r"^(?:\d{12}|unknown)$",
    "interface-id": r"^eni-[0-9a-f]+$",
    "srcaddr": _IP,
    "dstaddr": _IP,
    "pkt-srcaddr": _IP,
    "pkt-dstaddr": _IP,
    "vpc-id": r"^vpc-[0-9a-f]+$",
    "subnet-id": r"^subnet-[0-9a-f]+$",
    "instance-id": r"^i-[0-9a-f]+$",
    "region": r"^[a-z]{2}(?:-[a-z]+)+-\d+$",
    "az-id": r"^[a-z]{3,}\d*-az\d+$",
    "ecs-cluster-arn": _ARN + "cluster/",
    "ecs-container-instance-arn": _ARN + "container-instance/",
    "ecs-task-definition-arn": _ARN + "task-definition/",
    "ecs-task-arn": _ARN + "task/",
    "ecs-task-id": r"^[0-9a-f]{32}$",
}
FIELDS = tuple(replace(f, pattern=_PATTERNS.get(f.name)) for f in FIELDS)

FIELD_BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
FIELD_BY_COLUMN: dict[str, Field] = {f.column: f for f in FIELDS}

ECS_FIELDS: tuple[Field, ...] = tuple(f for f in FIELDS if f.name.startswith("ecs-"))
CONTAINER_ID_COLUMNS: tuple[str, ...] = ("ecs_container_id", "ecs_second_container_id")

DEFAULT_FORMAT = (
    "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
    "${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"
)


def _derived() -> tuple[DerivedColumn, ...]:
    out = [
        DerivedColumn(
            f"{f.column}_name", _CAT, f.name, f"Meaning of the {f.name} code (null if unknown)."
        )
        for f in FIELDS
        if f.codes
    ]
    out.append(
        DerivedColumn(
            "tcp_flag_names",
            TCP_FLAG_LIST,
            "tcp-flags",
            "Decoded TCP flags, e.g. ['SYN-ACK', 'FIN'] for 19.",
        )
    )
    for col in CONTAINER_ID_COLUMNS:
        out += [
            DerivedColumn(
                f"{col}_task_id",
                _CAT,
                column_to_name(col),
                "Task id part of a Fargate id '<task-id>-<number>'; null for 64-hex Docker ids.",
            ),
            DerivedColumn(
                f"{col}_suffix",
                pl.Int64(),
                column_to_name(col),
                "Number after the task id; it follows the container across tasks (finding 5).",
            ),
        ]
    return tuple(out)


def column_to_name(column: str) -> str:
    """The AWS name of a registered column (unknown columns are returned hyphenated).

    >>> column_to_name("log_status")
    'log-status'
    """
    f = FIELD_BY_COLUMN.get(column)
    return f.name if f else column.replace("_", "-")


DERIVED_COLUMNS: tuple[DerivedColumn, ...] = _derived()

_FORMAT_TOKEN = re.compile(r"\$\{([^}]+)\}")


def parse_log_format(log_format: str | Sequence[str]) -> list[str]:
    """Field names of a flow-log format, in order.

    Accepts AWS's ``LogFormat`` string (``"${version} ${srcaddr}"``), a header line
    (``"version srcaddr"``) or a sequence of names.

    >>> parse_log_format("version account-id")
    ['version', 'account-id']
    """
    if isinstance(log_format, str):
        tokens = _FORMAT_TOKEN.findall(log_format) or log_format.split()
    else:
        tokens = list(log_format)
    names = [t.strip() for t in tokens if t.strip()]
    if not names:
        raise ValueError(f"empty flow-log format: {log_format!r}")
    return names


def format_version(names: Iterable[str]) -> int:
    """The ``version`` AWS writes for a format: the highest version among its fields.

    >>> format_version(parse_log_format(DEFAULT_FORMAT))
    2
    """
    versions = [
        FIELD_BY_COLUMN[column_name(n)].version
        for n in names
        if column_name(n) in FIELD_BY_COLUMN and FIELD_BY_COLUMN[column_name(n)].version
    ]
    return max(versions, default=2)


def _dtype_label(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Enum):
        return "Enum(" + ", ".join(dtype.categories.to_list()) + ")"
    if isinstance(dtype, pl.Datetime):
        return "Datetime(UTC)"
    if isinstance(dtype, pl.List):
        return f"List({_dtype_label(dtype.inner)})"
    return str(dtype).split("(")[0]


def schema_markdown() -> str:
    """The cleaned columns as a Markdown table (used for the README).

    >>> print(schema_markdown().splitlines()[0])
    | column | type | version | meaning |
    """
    rows = ["| column | type | version | meaning |", "|---|---|---|---|"]
    for f in FIELDS:
        version = str(f.version) if f.version else "later"
        rows.append(f"| `{f.column}` | {_dtype_label(f.dtype)} | {version} | {f.meaning} |")
    for d in DERIVED_COLUMNS:
        rows.append(f"| `{d.name}` | {_dtype_label(d.dtype)} | from `{d.source}` | {d.meaning} |")
    return "\n".join(rows)


def _update_readme(path: str = "README.md") -> None:
    from pathlib import Path

    readme = Path(path)
    head, rest = readme.read_text().split("<!-- columns:start -->")
    _, tail = rest.split("<!-- columns:end -->")
    table = f"<!-- columns:start -->\n{schema_markdown()}\n<!-- columns:end -->"
    readme.write_text(head + table + tail)


if __name__ == "__main__":
    import sys

    _update_readme() if "--readme" in sys.argv else print(schema_markdown())
