"""The simulator: mechanisms at their configured rates, ground truth, writers, determinism."""

from __future__ import annotations

import gzip
import ipaddress
import math
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import ecsflow
from ecsflow.fields import FIELD_BY_COLUMN, column_name, format_version, parse_log_format
from ecsflow.simulate import DEFAULT_V7_FORMAT, simulate
from ecsflow.simulate_model import SimulationParams

KEY = ["interface_id", "start", "srcaddr", "dstaddr", "srcport", "dstport", "protocol"]
VPC = ipaddress.ip_network("10.0.0.0/16")

# Many lifecycle events and little traffic per task, so that a short run holds hundreds of
# tasks: enough to measure per-task rates.
RICH = dict(
    deployments_per_day=96.0,
    scaling_events_per_day=24.0,
    task_failures_per_day=2.0,
    standalone_tasks_per_hour=6.0,
    calls_per_minute=0.5,
    lb_requests_per_minute=1.0,
    internet_clients_per_minute=1.0,
    internet_calls_per_minute=0.2,
    s3_calls_per_minute=0.2,
    rejected_per_minute=0.5,
    p_skipdata=0.05,
    p_order_swapped=0.3,
    p_empty_slot=0.2,
    p_stopped_container=0.25,
    p_ecs_delay=0.4,
    p_ping=0.3,
)
SEED = 11
RECORDS = 40_000


def tolerance(p: float, n: int) -> float:
    """Four binomial standard deviations (and a little slack for small n)."""
    return 4 * math.sqrt(p * (1 - p) / n) + 0.01


@pytest.fixture(scope="module")
def rich(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rich")
    simulate(out, seed=SEED, records=RECORDS, **RICH)
    return out


@pytest.fixture(scope="module")
def flows(rich) -> pl.DataFrame:
    return ecsflow.read_flow_logs(rich)


@pytest.fixture(scope="module")
def truth(rich) -> dict[str, pl.DataFrame]:
    t = rich / "truth"
    return {n: pl.read_parquet(t / f"{n}.parquet") for n in ("tasks", "containers", "records")}


@pytest.fixture(scope="module")
def joined(flows, truth) -> pl.DataFrame:
    f = flows.with_columns(pl.col("interface_id").cast(pl.String))
    return f.join(truth["records"], on=KEY, how="inner", nulls_equal=True, suffix="_truth")


def test_loads_with_the_loader_and_writes_aws_names(rich, flows):
    assert flows.height == RECORDS
    files = sorted(rich.glob("AWSLogs/*/vpcflowlogs/*/*/*/*/*.log.gz"))
    assert files
    name = files[0].name
    parts = name.removesuffix(".log.gz").split("_")
    assert parts[0] == "123456789012" and parts[1] == "vpcflowlogs" and parts[3].startswith("fl-")
    assert len(parts[-1]) == 8 and parts[4].endswith("Z")
    with gzip.open(files[0], "rt") as fh:
        header = fh.readline().split()
    assert header == parse_log_format(DEFAULT_V7_FORMAT)
    assert flows["version"].unique().to_list() == [7]
    # each object holds the records whose end falls in its 5-minute window
    for f in files[:5]:
        stamp = f.name.split("_")[4]
        part = ecsflow.read_flow_logs(str(f))
        minutes = part["end"].dt.minute() // 5 * 5
        assert (minutes == int(stamp[11:13])).all()


def test_truth_joins_loaded_records_one_to_one(flows, truth, joined):
    records = truth["records"]
    assert flows.select(KEY).is_unique().all()
    assert records.select(KEY).is_unique().all()
    assert records.height == flows.height == joined.height
    assert (joined["log_status"].cast(pl.String) == joined["log_status_truth"]).all()


def test_ecs_fields_describe_the_eni_owner(joined):
    ok = joined.filter(pl.col("log_status") == "OK")
    task_eni = ok.filter(pl.col("interface_task_id").is_not_null())
    # every record with ECS fields names the task that owns the recording ENI
    with_ecs = task_eni.filter(pl.col("ecs_fields"))
    assert (with_ecs["ecs_task_id"].cast(pl.String) == with_ecs["interface_task_id"]).all()
    # ... and carries the same values on all of that ENI's records (finding 1)
    ecs_cols = [c for c in joined.columns if c.startswith("ecs_") and c != "ecs_fields"]
    per_eni = with_ecs.group_by("interface_id").agg(
        [pl.col(c).cast(pl.String).n_unique().alias(c) for c in ecs_cols]
    )
    assert (per_eni.drop("interface_id").max_horizontal() == 1).all()
    # non-ECS ENIs (EC2, load balancer, NAT) and NODATA/SKIPDATA rows have no ECS fields
    assert joined.filter(pl.col("interface_task_id").is_null())["ecs_task_id"].null_count() == (
        joined.filter(pl.col("interface_task_id").is_null()).height
    )
    assert ok.filter(pl.col("interface_task_id").is_null()).height > 0
    # the ids in the slots do not name the sending container (finding 2)
    sent = with_ecs.filter(pl.col("src_container_name").is_not_null())
    assert sent.height > 0


def test_slots_match_truth_and_rates(flows, truth):
    tasks, containers = truth["tasks"], truth["containers"]
    # the loaded records show exactly the truth's slot values for each task
    shown = (
        flows.filter(pl.col("ecs_task_id").is_not_null())
        .select(
            pl.col("ecs_task_id").cast(pl.String).alias("task_id"),
            pl.col("ecs_container_id").cast(pl.String),
            pl.col("ecs_second_container_id").cast(pl.String),
        )
        .unique()
    )
    assert shown.select("task_id").is_unique().all()
    expected = tasks.select("task_id", "ecs_container_id", "ecs_second_container_id")
    assert_frame_equal(
        shown.sort("task_id"),
        expected.join(shown.select("task_id"), on="task_id").sort("task_id"),
    )
    n_containers = containers.group_by("task_id").len("n")
    multi = tasks.join(n_containers, on="task_id").filter(pl.col("n") > 1)
    n = multi.height
    assert n >= 150
    empty = multi.filter(
        pl.col("ecs_container_id").is_null() | pl.col("ecs_second_container_id").is_null()
    ).height
    assert abs(empty / n - RICH["p_empty_slot"]) < tolerance(RICH["p_empty_slot"], n)
    # order: slot 1 holds the last-defined container when events arrived in reverse
    full = multi.filter(
        pl.col("ecs_container_id").is_not_null() & pl.col("ecs_second_container_id").is_not_null()
    )
    first = containers.filter(pl.col("slot") == 1).select("task_id", "definition_index")
    swapped = full.join(first, on="task_id").filter(pl.col("definition_index") > 0).height
    p = RICH["p_order_swapped"]
    assert abs(swapped / full.height - p) < tolerance(p, full.height)
    # a container that stopped while its task ran keeps its slot
    stopped = containers.filter(pl.col("stopped").is_not_null())
    lingering = stopped.filter(pl.col("slot").is_not_null()).height
    p = RICH["p_stopped_container"]
    ran = multi.filter(
        pl.col("stopped").is_null()
        | (pl.col("stopped") - pl.col("started") > pl.duration(minutes=2))
    ).height
    assert lingering > 0
    assert abs(stopped.height / ran - p) < tolerance(p, ran) + 0.03


def test_fargate_and_ec2_container_ids(truth, flows):
    tasks, containers = truth["tasks"], truth["containers"]
    c = containers.join(
        tasks.select("task_id", "launch_type", "container_instance_id"), on="task_id"
    )
    fargate = c.filter(pl.col("launch_type") == "FARGATE")
    assert (fargate["runtime_id"].str.split("-").list.first() == fargate["task_id"]).all()
    suffix = fargate.with_columns(pl.col("runtime_id").str.split("-").list.last().alias("n"))
    # the number follows the container name across tasks and clusters (finding 5)
    assert (suffix.group_by("container_name").agg(pl.col("n").n_unique())["n"] == 1).all()
    assert fargate["container_instance_id"].null_count() == fargate.height
    ec2 = c.filter(pl.col("launch_type") == "EC2")
    assert ec2.height > 0
    assert ec2["runtime_id"].str.contains(r"^[0-9a-f]{64}$").all()
    assert ec2["container_instance_id"].null_count() == 0
    loaded = flows.filter(pl.col("ecs_container_instance_id").is_not_null())
    assert loaded["ecs_container_id_task_id"].null_count() == loaded.height  # 64-hex ids
    standalone = tasks.filter(pl.col("service").is_null())
    assert standalone.height > 0
    sa = flows.filter(pl.col("ecs_task_id").cast(pl.String).is_in(standalone["task_id"].implode()))
    assert sa.height > 0 and sa["ecs_service_name"].null_count() == sa.height


def test_ip_reuse_without_overlap(truth):
    tasks = truth["tasks"].with_columns(
        pl.col("stopped").fill_null(pl.datetime(2100, 1, 1, time_zone="UTC"))
    )
    reused = tasks.group_by("private_ip").len().filter(pl.col("len") > 1)
    assert reused.height > 0
    pairs = tasks.join(tasks, on="private_ip", suffix="_b").filter(
        (pl.col("task_id") < pl.col("task_id_b"))
        & (pl.col("started") < pl.col("stopped_b"))
        & (pl.col("started_b") < pl.col("stopped"))
    )
    assert pairs.height == 0
    for ip in tasks["private_ip"].to_list():
        assert ipaddress.ip_address(ip) in VPC


def test_both_enis_and_responses_recorded(joined):
    iv = (pl.col("start").dt.epoch("s") // 600).alias("iv")
    ok = joined.filter(pl.col("log_status") == "OK").with_columns(iv)
    # SKIPDATA replaced the records of these ENIs and intervals: their pairs are missing
    skipped = joined.filter(pl.col("log_status") == "SKIPDATA").select(
        pl.col("interface_task_id").alias("dst_task_id"), iv
    )
    # the last window was cut at the record count: leave it out
    inner = ok.filter(pl.col("start") < ok["start"].max() - pl.duration(minutes=20))
    inner = inner.join(skipped, on=["dst_task_id", "iv"], how="anti", nulls_equal=False)
    # a task-to-task flow is recorded egress on the sender's ENI and ingress on the receiver's
    # (the NAT gateway's leg towards a task is not: it rewrites the source address)
    sent = inner.filter(
        (pl.col("flow_direction") == "egress")
        & (pl.col("peer_kind") == "ecs_task")
        & (pl.col("srcaddr") == pl.col("pkt_srcaddr"))
    )
    received = ok.filter(pl.col("flow_direction") == "ingress").select(
        "srcaddr", "dstaddr", "srcport", "dstport", "protocol", "start", "interface_task_id"
    )
    m = sent.join(
        received,
        left_on=["srcaddr", "dstaddr", "srcport", "dstport", "protocol", "start", "dst_task_id"],
        right_on=[
            "srcaddr",
            "dstaddr",
            "srcport",
            "dstport",
            "protocol",
            "start",
            "interface_task_id",
        ],
        how="anti",
    )
    assert sent.height > 100 and m.height == 0
    # every accepted request has its response, as its own record with swapped ends
    req = inner.filter(
        (pl.col("flow_direction") == "egress")
        & (pl.col("protocol") == 6)
        & (pl.col("tcp_flags").is_in([2, 3]))
        & (pl.col("peer_kind") == "ecs_task")
    )
    resp = ok.filter(pl.col("flow_direction") == "ingress").select(
        "interface_id",
        "start",
        pl.col("dstaddr").alias("srcaddr"),
        pl.col("srcaddr").alias("dstaddr"),
        pl.col("dstport").alias("srcport"),
        pl.col("srcport").alias("dstport"),
    )
    five = ["start", "srcaddr", "dstaddr", "srcport", "dstport"]
    rejected = ok.filter(pl.col("action") == "REJECT").select(five)
    req = req.join(rejected, on=five, how="anti")  # a rejected SYN gets no answer
    missing = req.join(resp, on=["interface_id", *five], how="anti")
    assert req.height > 100 and missing.height == 0


def test_tcp_flags_traffic_path_and_routes(joined):
    ok = joined.filter(pl.col("log_status") == "OK")
    tcp = ok.filter(pl.col("protocol") == 6)
    assert set(tcp["tcp_flags"].unique().to_list()) <= {0, 1, 2, 3, 18, 19}
    # SYN-ACK only from the server side (source port below the ephemeral range)
    synack = tcp.filter(pl.col("tcp_flags").is_in([18, 19]))
    assert (synack["srcport"] < 32768).all() and synack.height > 0
    syn = tcp.filter(pl.col("tcp_flags").is_in([2, 3]))
    assert (syn["dstport"] < 32768).all()
    assert tcp.filter(pl.col("tcp_flags") == 0).height > 0  # ongoing long connections
    assert ok.filter(pl.col("protocol") == 1).height > 0  # ICMP pings
    # traffic-path on egress only
    assert ok.filter(pl.col("flow_direction") == "ingress")["traffic_path"].null_count() == (
        ok.filter(pl.col("flow_direction") == "ingress").height
    )
    assert ok.filter(pl.col("flow_direction") == "egress")["traffic_path"].null_count() == 0
    s3 = ok.filter(pl.col("pkt_dst_aws_service") == "S3")
    assert s3.height > 0 and (s3["traffic_path"] == 7).all()
    assert (s3["peer_kind"] == "aws_service").all()
    igw = ok.filter((pl.col("traffic_path") == 8) & pl.col("interface_task_id").is_not_null())
    assert igw.height > 0 and (igw["peer_kind"] == "internet").all()
    nat = ok.filter(pl.col("dstaddr") != pl.col("pkt_dstaddr"))
    assert nat.height > 0 and nat["interface_task_id"].null_count() == nat.height
    # peer kinds agree with the remote address
    remote = pl.when(pl.col("flow_direction") == "egress").then("dstaddr").otherwise("srcaddr")
    inside = ok.with_columns(remote.str.starts_with("10.0.").alias("inside"))
    assert inside.filter(pl.col("peer_kind").is_in(["ecs_task", "vpc_eni"]))["inside"].all()
    assert not inside.filter(pl.col("peer_kind").is_in(["internet", "aws_service"]))["inside"].any()
    assert set(ok["peer_kind"].unique().to_list()) == {
        "ecs_task",
        "vpc_eni",
        "internet",
        "aws_service",
    }
    # rejected flows: ingress on the target task's ENI only
    rej = ok.filter(pl.col("action") == "REJECT")
    assert rej.height > 0
    assert (rej["flow_direction"] == "ingress").all() and rej["interface_task_id"].null_count() == 0


def test_status_records_and_ecs_delay_rates(flows, truth, joined):
    interval = 600
    groups = flows.filter(pl.col("log_status") != "NODATA").with_columns(
        (pl.col("start").dt.epoch("s") // interval).alias("iv")
    )
    per = groups.group_by("interface_id", "iv").agg((pl.col("log_status") == "SKIPDATA").any())
    n, skipped = per.height, per["log_status"].sum()
    p = RICH["p_skipdata"]
    assert abs(skipped / n - p) < tolerance(p, n)
    nodata = flows.filter(pl.col("log_status") == "NODATA")
    assert nodata.height > 0 and nodata["srcaddr"].null_count() == nodata.height
    # one status record per ENI and interval at most, never alongside OK records
    status = flows.with_columns((pl.col("start").dt.epoch("s") // interval).alias("iv"))
    mixed = status.group_by("interface_id", "iv").agg(
        (pl.col("log_status") != "OK").sum().alias("status"), (pl.col("log_status") == "OK").sum()
    )
    assert (
        mixed.filter(
            (pl.col("status") > 1) | ((pl.col("status") == 1) & (pl.col("log_status") > 0))
        ).height
        == 0
    )
    # ECS fields missing until the task's ECS event arrives, at the configured rate
    tasks = truth["tasks"]
    fresh = tasks.filter(pl.col("started") >= flows["start"].min())
    delayed = fresh.filter(pl.col("ecs_fields_from") > pl.col("started")).height
    p = RICH["p_ecs_delay"]
    assert abs(delayed / fresh.height - p) < tolerance(p, fresh.height)
    rec = joined.filter(pl.col("log_status") == "OK", pl.col("interface_task_id").is_not_null())
    rec = rec.join(
        tasks.select(pl.col("task_id").alias("interface_task_id"), "ecs_fields_from"),
        on="interface_task_id",
    )
    early = rec.filter(pl.col("start") < pl.col("ecs_fields_from"))
    assert early.height > 0 and early["ecs_task_id"].null_count() == early.height
    late = rec.filter(pl.col("start") >= pl.col("ecs_fields_from"))
    assert late["ecs_task_id"].null_count() == 0


def test_traffic_rates(joined, truth):
    ok = joined.filter(pl.col("log_status") == "OK")
    t0 = ok["start"].min()
    end = t0 + (ok["start"].max() - t0) * 0.9  # leave out the window cut at the record count
    tasks = truth["tasks"].with_columns(
        pl.col("started").clip(t0, end), pl.col("stopped").fill_null(end).clip(t0, end)
    )
    minutes = ((tasks["stopped"] - tasks["started"]).dt.total_seconds().sum()) / 60
    opened = ok.filter(
        (pl.col("pkt_dst_aws_service") == "S3")
        & pl.col("tcp_flags").is_in([2, 3])
        & (pl.col("start") < end)
    ).height
    expected = RICH["s3_calls_per_minute"] * minutes
    assert abs(opened - expected) < 4 * math.sqrt(expected) + 0.02 * expected


def test_text_and_parquet_load_equal(tmp_path, rich):
    simulate(tmp_path, seed=SEED, records=RECORDS, file_format="parquet", **RICH)
    assert list(tmp_path.glob("AWSLogs/**/*.log.parquet"))
    schema = pl.read_parquet_schema(next(tmp_path.glob("AWSLogs/**/*.log.parquet")))
    assert schema["srcport"] == pl.Int32 and schema["start"] == pl.Int64
    assert schema["ecs_task_id"] == pl.String
    text = ecsflow.read_flow_logs(rich).sort(KEY, nulls_last=True)
    parquet = ecsflow.read_flow_logs(tmp_path).sort(KEY, nulls_last=True)
    assert_frame_equal(text, parquet, categorical_as_str=True)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_deterministic_and_prefix(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    simulate(a, seed=5, records=3000)
    simulate(b, seed=5, records=3000)
    assert _tree(a) == _tree(b)
    simulate(c, seed=6, records=3000)
    assert _tree(a) != _tree(c)
    # a shorter run is a prefix of a longer one
    short = ecsflow.read_flow_logs(a).sort(KEY, nulls_last=True)
    simulate(b, seed=5, records=6000)
    long = ecsflow.read_flow_logs(b).join(short.select(KEY), on=KEY, nulls_equal=True)
    assert long.height == short.height


def test_any_log_format_one_minute_and_file_splitting(tmp_path):
    fmt = "${ecs-task-id} ${srcaddr} ${interface-id} ${start} ${log-status} ${tcp-flags} ${dstaddr} ${srcport} ${dstport} ${protocol} ${end}"  # noqa: E501
    r = simulate(
        tmp_path, seed=2, records=4000, log_format=fmt, aggregation_interval=60, max_file_bytes=8000
    )
    names = parse_log_format(fmt)
    with gzip.open(r.files[0], "rt") as fh:
        assert fh.readline().split() == names
    flows = ecsflow.read_flow_logs(tmp_path)
    assert flows.columns[: len(names)] != names  # the loader reorders to the registry
    assert {column_name(n) for n in names} == {c for c in flows.columns if c in FIELD_BY_COLUMN}
    assert flows.height == 4000
    ok = flows.filter(pl.col("log_status") == "OK")
    assert (ok["start"].dt.epoch("s") // 60 == ok["end"].dt.epoch("s") // 60).all()
    assert all(p.stat().st_size <= 8000 for p in r.files)
    windows = [p.name.split("_")[4] for p in r.files]
    assert len(windows) > len(set(windows))  # a window split into several objects
    assert format_version(names) == 7


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"calls_per_minute": -1.0}, "calls_per_minute must not be negative"),
        ({"p_empty_slot": 1.2}, "p_empty_slot must be a probability"),
        ({"max_tasks": 60, "subnet_prefix_length": 28}, "more tasks than subnet IPs"),
        ({"aggregation_interval": 300}, "aggregation_interval must be 60 or 600"),
        ({"min_tasks": 5, "max_tasks": 2}, "min_tasks"),
        ({"max_containers": 4}, "max_containers"),
        ({"no_such_rate": 1.0}, "unknown simulation parameters"),
        ({"records": 0}, "records must be a positive integer"),
        ({"file_format": "csv"}, "file_format"),
        ({"log_format": "${version} ${bogus-field}"}, "unknown flow-log fields"),
        ({"log_format": "${srcaddr} ${srcaddr}"}, "listed twice"),
    ],
)
def test_bad_parameters(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        simulate(tmp_path, **kwargs)
    assert not list(tmp_path.rglob("*.log.gz"))


def test_params_are_validated_on_construction():
    with pytest.raises(ValueError, match="deployments_per_day"):
        SimulationParams(deployments_per_day=-0.5)
    assert SimulationParams().p_empty_slot == 0.1


def test_committed_sample_is_reproducible_and_complete(tmp_path):
    """data/samples/simulated is what `make simulated-sample` writes, and shows each mechanism."""
    import re
    import shlex

    from ecsflow.cli import main

    root = Path(__file__).resolve().parents[1]
    sample = root / "data" / "samples" / "simulated"
    makefile = (root / "Makefile").read_text().replace("\\\n", " ")
    args = re.search(r"^SIMULATED_SAMPLE_ARGS\s*:=(.*)$", makefile, re.M).group(1)
    assert main(["simulate", str(tmp_path), *shlex.split(args), "--quiet"]) == 0
    committed = {k: v for k, v in _tree(sample).items() if k.startswith(("AWSLogs", "truth"))}
    assert committed == _tree(tmp_path)
    tasks = pl.read_parquet(sample / "truth" / "tasks.parquet")
    assert tasks["stopped"].null_count() < tasks.height  # replacements
    assert tasks["private_ip"].n_unique() < tasks.height  # IP reuse
    empty = tasks["ecs_container_id"].is_null() | tasks["ecs_second_container_id"].is_null()
    assert empty.any()
    peers = set(pl.read_parquet(sample / "truth" / "records.parquet")["peer_kind"].drop_nulls())
    assert peers == {"ecs_task", "vpc_eni", "internet", "aws_service"}


def test_no_record_outlives_its_eni(tmp_path):
    # A stop decided after a long connection began must still end it: a deleted ENI records
    # nothing, and its address may already belong to another task.
    out = tmp_path / "churn"
    ecsflow.simulate(
        out, seed=3, records=20_000,
        params=ecsflow.SimulationParams(
            subnet_prefix_length=26, deployments_per_day=48, scaling_events_per_day=48,
            p_long_connection=0.3,
        ),
    )  # fmt: skip
    records = pl.read_parquet(out / "truth" / "records.parquet")
    tasks = pl.read_parquet(out / "truth" / "tasks.parquet").select(
        "interface_id", "started", "stopped"
    )
    joined = records.join(tasks, on="interface_id")
    assert joined.height > 10_000
    assert joined.filter(pl.col("start") > pl.col("stopped")).height == 0
