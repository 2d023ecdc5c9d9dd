"""Attribute both ends of every flow to ECS tasks (or other peers) over time.

The ECS fields describe only the ENI that recorded a flow (finding 1). The other end is found
from the logs themselves: every ENI's own address and active interval are learnt from its
records (``srcaddr`` on egress, ``dstaddr`` on ingress), and a peer address is matched to the
ENI that held it *at that time*, so a reused IP maps to the task that had it then.

This is the only module that maps addresses to tasks.

Examples
--------
>>> import ecsflow
>>> flows = attribute_flows(ecsflow.read_flow_logs("data/samples/article"))
>>> primary = flows.filter(pl.col("is_primary"))
>>> primary.group_by("src_kind", "dst_kind", "server_port").len().sort("len", "src_kind").rows()
[('ecs_task', 'internet', None, 1), ('internet', 'ecs_task', None, 1), ('ecs_task', 'ecs_task', 80, 4)]
"""  # noqa: E501

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from ecsflow.sources import as_utc

__all__ = ["PEER_KINDS", "attribute_flows", "is_private_ip", "task_intervals"]

FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)

PEER_KINDS = ("ecs_task", "vpc_eni", "internet", "aws_service", "unknown")
KIND = pl.Enum(list(PEER_KINDS))
ECS_COLUMNS = ("ecs_task_id", "ecs_service_name", "ecs_cluster_name", "ecs_task_definition_arn")
_REQUIRED = (
    "interface_id", "srcaddr", "dstaddr", "srcport", "dstport", "protocol", "start", "end",
    "flow_direction",
)  # fmt: skip

# RFC 1918, shared (100.64/10), link-local, loopback, and IPv6 unique-local / link-local.
_PRIVATE = (
    r"^(?:10\.|192\.168\.|172\.(?:1[6-9]|2\d|3[01])\.|100\.(?:6[4-9]|[7-9]\d|1[01]\d|12[0-7])\."
    r"|169\.254\.|127\.|f[cd][0-9a-f]{2}:|fe[89ab][0-9a-f]:|::1$)"
)
# Records can be delivered up to a minute after the packets, and an ENI is only seen while it
# talks: a peer may appear in another ENI's records a little before or after its own.
DEFAULT_SLACK = timedelta(minutes=11)
_STILL_RUNNING = datetime(9999, 12, 31, tzinfo=UTC)
_OWNER = (*ECS_COLUMNS, "launch_type")
_ADDED = ("kind", "ip", "interface_id", *ECS_COLUMNS, "launch_type", "aws_service")
_NEEDED = (
    "interface_id", "flow_direction", "srcaddr", "dstaddr", "pkt_srcaddr", "pkt_dstaddr",
    "srcport", "dstport", "protocol", "tcp_flags", "start", "end",
    "pkt_src_aws_service", "pkt_dst_aws_service", "vpc_id",
)  # fmt: skip


def is_private_ip(ip: pl.Expr | str) -> pl.Expr:
    """True for private, shared, link-local and loopback addresses (IPv4 and IPv6).

    >>> ips = pl.DataFrame({"ip": ["10.1.2.3", "8.8.8.8", "fd00::1"]})
    >>> ips.select(is_private_ip("ip"))["ip"].to_list()
    [True, False, True]
    """
    expr = pl.col(ip) if isinstance(ip, str) else ip
    return expr.str.to_lowercase().str.contains(_PRIVATE)


def _own_and_peer(schema: pl.Schema) -> tuple[pl.Expr, pl.Expr]:
    egress = pl.col("flow_direction") == "egress"
    pkt_src = pl.col("pkt_srcaddr") if "pkt_srcaddr" in schema else pl.lit(None, pl.String)
    pkt_dst = pl.col("pkt_dstaddr") if "pkt_dstaddr" in schema else pl.lit(None, pl.String)
    own = pl.when(egress).then(pl.col("srcaddr")).otherwise(pl.col("dstaddr"))
    # Behind a NAT gateway or a load balancer the packet-level address is the real peer.
    peer = (
        pl.when(egress)
        .then(pl.coalesce(pkt_dst, pl.col("dstaddr")))
        .otherwise(pl.coalesce(pkt_src, pl.col("srcaddr")))
    )
    return own, peer


def _ecs(schema: pl.Schema, name: str) -> pl.Expr:
    return pl.col(name).cast(pl.String) if name in schema else pl.lit(None, pl.String)


def _launch_type(schema: pl.Schema) -> pl.Expr:
    if "ecs_container_instance_arn" not in schema or "ecs_task_id" not in schema:
        return pl.lit(None, pl.String)
    return (
        pl.when(pl.col("ecs_task_id").is_null())
        .then(None)
        .when(pl.col("ecs_container_instance_arn").is_null())
        .then(pl.lit("FARGATE"))
        .otherwise(pl.lit("EC2"))
    )


def task_intervals(flows: FrameT, /, *, describe_tasks: Any = None) -> FrameT:
    """Every ENI seen in the logs, with its address, owner and active interval.

    Parameters
    ----------
    flows
        Cleaned flows with at least ``interface_id``, ``srcaddr``, ``dstaddr``, ``start``,
        ``end`` and ``flow_direction``; ECS fields are used when present.
    describe_tasks
        Optional ``aws ecs describe-tasks`` output (a path, a dict, or a list of either).
        Its tasks add ENIs that the logs do not cover, with their ``startedAt`` and
        ``stoppedAt`` times.

    Returns
    -------
    DataFrame or LazyFrame
        One row per (``interface_id``, ``ip``): ``first_seen``, ``last_seen``, ``records``,
        the owning task's ``ecs_task_id``, ``ecs_service_name``, ``ecs_cluster_name``,
        ``ecs_task_definition_arn`` and ``launch_type`` (null for non-ECS ENIs), and
        ``source`` (``logs`` or ``describe_tasks``).

    Examples
    --------
    >>> import ecsflow
    >>> t = task_intervals(ecsflow.read_flow_logs("data/samples/article"))
    >>> t.sort("first_seen").select("ip", "ecs_task_id").row(0)
    ('10.10.0.17', '88316020871d4ec7a200c1ce6d25273d')
    """
    lazy = flows.lazy()
    schema = lazy.collect_schema()
    missing = [c for c in _REQUIRED if c not in schema]
    if missing:
        raise ValueError(
            f"attribution needs the fields {missing}; flow_direction came with version 5"
        )
    own, _ = _own_and_peer(schema)
    ok = pl.col("log_status") == "OK" if "log_status" in schema else pl.lit(True)
    enis = (
        lazy.filter(ok, own.is_not_null())
        .with_columns(
            own.alias("ip"),
            *[_ecs(schema, c).alias(c) for c in ECS_COLUMNS],
            _launch_type(schema).alias("launch_type"),
        )
        .group_by("interface_id", "ip")
        .agg(
            pl.col("start").min().alias("first_seen"),
            pl.col("end").max().alias("last_seen"),
            # Aggregated input (ecsflow.aggregate_flows) says how many records a row stands for.
            (pl.col("records").sum() if "records" in schema else pl.len()).alias("records"),
            # A task's first records can lack ECS fields until its ECS event arrives:
            # the ENI belongs to one task for its whole life, so take any non-null value.
            *[pl.col(c).drop_nulls().first().alias(c) for c in _OWNER],
            _ecs(schema, "vpc_id").drop_nulls().first().alias("vpc_id"),
        )
        .with_columns(pl.col("interface_id").cast(pl.String), pl.lit("logs").alias("source"))
    )
    if describe_tasks is not None:
        known = _describe_tasks_frame(describe_tasks).lazy()
        # A task can stop before its ECS event reached the flow logs, leaving its ENI's
        # records without ECS fields: DescribeTasks names the owner by ENI id.
        owner = known.select("interface_id", *[pl.col(c).alias(f"__dt_{c}") for c in _OWNER])
        enis = enis.join(owner.unique("interface_id"), on="interface_id", how="left")
        enis = enis.with_columns(*[pl.coalesce(c, f"__dt_{c}").alias(c) for c in _OWNER]).select(
            pl.exclude("^__dt_.*$")
        )
        enis = pl.concat(
            [enis, known.join(enis.select("interface_id"), on="interface_id", how="anti")],
            how="diagonal_relaxed",
        )
    enis = enis.sort("interface_id", "ip")
    return enis.collect() if isinstance(flows, pl.DataFrame) else enis


def _parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return as_utc(str(value))  # naive times mean UTC, as everywhere in ecsflow


def _load_json(describe_tasks: Any) -> list[dict]:
    items = describe_tasks if isinstance(describe_tasks, list) else [describe_tasks]
    tasks: list[dict] = []
    for item in items:
        if isinstance(item, str | Path):
            item = json.loads(Path(item).read_text())
        tasks += item.get("tasks", []) if isinstance(item, Mapping) else []
    return tasks


def _describe_tasks_frame(describe_tasks: Any) -> pl.DataFrame:
    rows = []
    for task in _load_json(describe_tasks):
        arn = task.get("taskArn", "")
        group = task.get("group") or ""
        for att in task.get("attachments", []):
            details = {d.get("name"): d.get("value") for d in att.get("details", [])}
            eni, ip = details.get("networkInterfaceId"), details.get("privateIPv4Address")
            if not eni or not ip:
                continue
            rows.append(
                {
                    "interface_id": eni,
                    "ip": ip,
                    "first_seen": _parse_time(task.get("startedAt") or task.get("createdAt")),
                    "last_seen": _parse_time(task.get("stoppedAt"))
                    or datetime.max.replace(tzinfo=UTC),
                    "records": 0,
                    "ecs_task_id": arn.rsplit("/", 1)[-1] or None,
                    "ecs_service_name": group.removeprefix("service:")
                    if group.startswith("service:")
                    else None,
                    "ecs_cluster_name": (task.get("clusterArn") or "").rsplit("/", 1)[-1] or None,
                    "ecs_task_definition_arn": task.get("taskDefinitionArn"),
                    "launch_type": task.get("launchType"),
                    "source": "describe_tasks",
                }
            )
    schema = {
        "interface_id": pl.String, "ip": pl.String, "first_seen": pl.Datetime("us", "UTC"),
        "last_seen": pl.Datetime("us", "UTC"), "records": pl.UInt32, "ecs_task_id": pl.String,
        "ecs_service_name": pl.String, "ecs_cluster_name": pl.String,
        "ecs_task_definition_arn": pl.String, "launch_type": pl.String, "source": pl.String,
    }  # fmt: skip
    return pl.DataFrame(rows, schema=schema)


def _initiator(schema: pl.Schema) -> pl.Expr:
    """Which end opened the connection: ``"src"`` or ``"dst"`` of the record."""
    src_port, dst_port = pl.col("srcport"), pl.col("dstport")
    flags = pl.col("tcp_flags") if "tcp_flags" in schema else pl.lit(None, pl.Int32)
    inside_src = pl.col("src_kind").is_in(["ecs_task", "vpc_eni"])
    inside_dst = pl.col("dst_kind").is_in(["ecs_task", "vpc_eni"])
    no_ports = src_port.is_null() | dst_port.is_null() | ((src_port == 0) & (dst_port == 0))
    return (
        # A SYN without ACK is sent by the client; a SYN-ACK by the server.
        pl.when((flags & 18) == 2).then(pl.lit("src"))
        .when((flags & 18) == 18).then(pl.lit("dst"))
        # Ports seen listening (they answered a SYN) anywhere in the data.
        .when(pl.col("__dst_listens") & ~pl.col("__src_listens")).then(pl.lit("src"))
        .when(pl.col("__src_listens") & ~pl.col("__dst_listens")).then(pl.lit("dst"))
        # ICMP and other port-less traffic: the ENI side reaches out.
        .when(no_ports & inside_src & ~inside_dst).then(pl.lit("src"))
        .when(no_ports & inside_dst & ~inside_src).then(pl.lit("dst"))
        .when(no_ports).then(pl.lit("src"))
        # Well-known ports serve, then non-ephemeral ports serve, then the lower port does.
        .when((dst_port < 1024) & (src_port >= 1024)).then(pl.lit("src"))
        .when((src_port < 1024) & (dst_port >= 1024)).then(pl.lit("dst"))
        .when((src_port >= 32768) & (dst_port < 32768)).then(pl.lit("src"))
        .when((dst_port >= 32768) & (src_port < 32768)).then(pl.lit("dst"))
        .when(src_port > dst_port).then(pl.lit("src"))
        .otherwise(pl.lit("dst"))
    )  # fmt: skip


def attribute_flows(
    flows: FrameT,
    /,
    *,
    describe_tasks: Any = None,
    slack: timedelta = DEFAULT_SLACK,
) -> FrameT:
    """Add both ends of every record: ECS task, service, cluster, task definition and kind.

    Parameters
    ----------
    flows
        Cleaned flows (see :func:`ecsflow.read_flow_logs`) with ``flow_direction``.
    describe_tasks
        Optional DescribeTasks JSON; see :func:`task_intervals`.
    slack
        How far outside an ENI's observed interval a peer address may still be matched to
        it (records lag packets by up to a minute and arrive per aggregation interval).

    Returns
    -------
    DataFrame or LazyFrame
        The input columns plus, for ``src_`` and ``dst_``: ``kind`` (one of
        :data:`PEER_KINDS`), ``ip``, ``interface_id``, ``ecs_task_id``, ``ecs_service_name``,
        ``ecs_cluster_name``, ``ecs_task_definition_arn``, ``launch_type`` and
        ``aws_service``; then ``initiator`` (``"src"`` or ``"dst"``: the end that opened
        the connection), ``server_port`` and ``is_primary`` (true for exactly one record of a
        flow seen on two ENIs: the sender's egress record).

    Examples
    --------
    >>> import ecsflow
    >>> f = attribute_flows(ecsflow.read_flow_logs("data/samples/article"))
    >>> row = f.filter(pl.col("dstport") == 80, pl.col("flow_direction") == "ingress").row(
    ...     0, named=True)
    >>> row["src_ecs_service_name"].split("-")[1], row["dst_ecs_service_name"].split("-")[1]
    ('EcsFargateConstruct2ServiceD9DCAB71', 'EcsFargateConstructService485E693B')
    """
    # The records are read several times below (ENIs, peers, listeners): read them once.
    lazy = flows.lazy().cache()
    schema = lazy.collect_schema()
    enis = task_intervals(lazy, describe_tasks=describe_tasks).cache()
    own, peer = _own_and_peer(schema)
    egress = pl.col("flow_direction") == "egress"

    # Work on the few columns attribution needs; the result is set beside the input at the end.
    needed = [c for c in _NEEDED if c in schema]
    records = (
        lazy.select(needed)
        .with_row_index("__rid")
        .with_columns(
            own.alias("__own_ip"),
            peer.alias("__peer_ip"),
            pl.col("interface_id").cast(pl.String).alias("__own_eni"),
        )
    )
    # The recording ENI's owner, also for its records that lack ECS fields.
    local = enis.group_by("interface_id").agg(
        *[
            pl.col(c).drop_nulls().first().alias(f"__local_{c}")
            for c in (*ECS_COLUMNS, "launch_type")
        ]
    )
    records = records.join(
        local, left_on="__own_eni", right_on="interface_id", how="left", maintain_order="left"
    )

    # Peer: the ENI that held the peer address at the record's time (closest interval wins).
    own_vpc = _ecs(schema, "vpc_id").alias("__own_vpc")
    candidates = (
        records.select("__rid", "__peer_ip", "__own_eni", "start", "end", own_vpc)
        .join(enis, left_on="__peer_ip", right_on="ip")
        .filter(
            pl.col("interface_id") != pl.col("__own_eni"),
            pl.col("start") <= pl.col("last_seen") + slack,
            pl.col("end") >= pl.col("first_seen") - slack,
        )
        .with_columns(
            pl.max_horizontal(
                (pl.col("first_seen") - pl.col("end")).dt.total_seconds(),
                (pl.col("start") - pl.col("last_seen")).dt.total_seconds(),
                pl.lit(0),
            ).alias("__gap"),
            # Ties (a record spanning the hand-over of an IP) go to the holder at its start.
            pl.max_horizontal(
                (pl.col("first_seen") - pl.col("start")).dt.total_seconds(),
                (pl.col("start") - pl.col("last_seen")).dt.total_seconds(),
                pl.lit(0),
            ).alias("__gap_start"),
        )
        # Overlapping CIDRs in other VPCs (or accounts) hold the same addresses: prefer the
        # peer in the recording ENI's own VPC.
        .with_columns(
            (
                pl.col("vpc_id").is_not_null()
                & pl.col("__own_vpc").is_not_null()
                & (pl.col("vpc_id") != pl.col("__own_vpc"))
            ).alias("__other_vpc")
        )
        .sort(
            "__rid",
            "__other_vpc",
            "__gap",
            "__gap_start",
            "first_seen",
            descending=[False, False, False, False, True],
        )
        .unique("__rid", keep="first", maintain_order=True)
        .select(
            "__rid",
            pl.col("interface_id").alias("__peer_eni"),
            *[pl.col(c).alias(f"__peer_{c}") for c in _OWNER],
            # A peer known only from DescribeTasks recorded nothing itself.
            (pl.col("source") == "logs").alias("__peer_logged"),
        )
    )
    records = records.join(candidates, on="__rid", how="left", maintain_order="left")

    peer_service = (
        pl.when(egress)
        .then(_ecs(schema, "pkt_dst_aws_service"))
        .otherwise(_ecs(schema, "pkt_src_aws_service"))
    )
    peer_kind = (
        pl.when(pl.col("__peer_ecs_task_id").is_not_null()).then(pl.lit("ecs_task"))
        .when(pl.col("__peer_eni").is_not_null()).then(pl.lit("vpc_eni"))
        .when(peer_service.is_not_null()).then(pl.lit("aws_service"))
        .when(pl.col("__peer_ip").is_null()).then(None)
        .when(~is_private_ip(pl.col("__peer_ip"))).then(pl.lit("internet"))
        .otherwise(pl.lit("unknown"))
    )  # fmt: skip
    local_kind = pl.when(pl.col("__local_ecs_task_id").is_not_null()).then(pl.lit("ecs_task"))
    local_kind = local_kind.otherwise(pl.lit("vpc_eni"))
    ends = {
        "kind": (local_kind, peer_kind),
        "ip": (pl.col("__own_ip"), pl.col("__peer_ip")),
        "interface_id": (pl.col("__own_eni"), pl.col("__peer_eni")),
        **{
            c: (pl.col(f"__local_{c}"), pl.col(f"__peer_{c}"))
            for c in (*ECS_COLUMNS, "launch_type")
        },
        "aws_service": (pl.lit(None, pl.String), peer_service),
    }
    sides = []
    for name, (mine, theirs) in ends.items():
        sides.append(pl.when(egress).then(mine).otherwise(theirs).alias(f"src_{name}"))
        sides.append(pl.when(egress).then(theirs).otherwise(mine).alias(f"dst_{name}"))
    records = records.with_columns(sides).with_columns(
        pl.col("src_kind").cast(KIND), pl.col("dst_kind").cast(KIND)
    )

    # Listening ports: the address and port that answered a SYN with a SYN-ACK.
    if "tcp_flags" in schema:
        listeners = (
            records.filter((pl.col("tcp_flags") & 18) == 18)
            .select(pl.col("src_ip").alias("__ip"), pl.col("srcport").alias("__port"), "protocol")
            .unique()
            .with_columns(pl.lit(True).alias("__listens"))
        ).cache()
        for side, port in (("src", "srcport"), ("dst", "dstport")):
            records = records.join(
                listeners.rename({"__listens": f"__{side}_listens"}),
                left_on=[f"{side}_ip", port, "protocol"],
                right_on=["__ip", "__port", "protocol"],
                how="left",
                maintain_order="left",
            )
        listens = [pl.col(c).fill_null(False) for c in ("__src_listens", "__dst_listens")]
        records = records.with_columns(listens)
    else:
        records = records.with_columns(
            pl.lit(False).alias("__src_listens"), pl.lit(False).alias("__dst_listens")
        )
    initiator = _initiator(schema)
    no_ports = (pl.col("srcport") == 0) & (pl.col("dstport") == 0)
    records = records.with_columns(initiator.alias("initiator")).with_columns(
        pl.when(no_ports)
        .then(None)
        .when(pl.col("initiator") == "src")
        .then(pl.col("dstport"))
        .otherwise(pl.col("srcport"))
        .alias("server_port"),
        # A flow between two logged ENIs is recorded twice: count the sender's record.
        (egress | ~pl.col("__peer_logged").fill_null(False)).alias("is_primary"),
    )
    ecs_cat = [f"{side}_{c}" for side in ("src", "dst") for c in ECS_COLUMNS]
    added = records.select(
        pl.col("^(src|dst)_.*$").exclude(ecs_cat),
        *[pl.col(c).cast(pl.Categorical()) for c in ecs_cat],
        "initiator",
        "server_port",
        "is_primary",
    )
    order = [f"{side}_{c}" for side in ("src", "dst") for c in _ADDED]
    out = pl.concat(
        [lazy, added.select(*order, "initiator", "server_port", "is_primary")], how="horizontal"
    )
    return out.collect() if isinstance(flows, pl.DataFrame) else out
