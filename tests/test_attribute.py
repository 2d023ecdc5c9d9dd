"""Attribution of both ends of every flow, over time."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import ecsflow

T0 = int(datetime(2024, 5, 19, 10, 0, tzinfo=UTC).timestamp())
TASK = {
    "a": ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "api"),
    "b": ("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "api"),
    "c": ("cccccccccccccccccccccccccccccccc", "web"),
}


def rec(eni, direction, src, dst, sport, dport, minute, *, task=None, flags="0", pkt=None,
        service=None, nbytes=100, ecs=True):  # fmt: skip
    task_id, svc = TASK[task] if task else ("-", "-")
    if not ecs:
        task_id, svc = "-", "-"
    return {
        "interface_id": eni, "flow_direction": direction, "srcaddr": src, "dstaddr": dst,
        "pkt_srcaddr": (pkt or (src, dst))[0], "pkt_dstaddr": (pkt or (src, dst))[1],
        "srcport": str(sport), "dstport": str(dport), "protocol": "6", "packets": "2",
        "bytes": str(nbytes), "start": str(T0 + minute * 60), "end": str(T0 + minute * 60 + 30),
        "action": "ACCEPT", "log_status": "OK", "tcp_flags": flags,
        "pkt_src_aws_service": "-", "pkt_dst_aws_service": service or "-",
        "ecs_task_id": task_id, "ecs_service_name": svc,
        "ecs_cluster_name": "main" if task else "-",
        "ecs_task_definition_arn": "-", "ecs_container_instance_arn": "-",
    }  # fmt: skip


@pytest.fixture
def reuse():
    """Task a holds 10.0.0.5 from 10:00, stops; task b gets the same IP at 11:00.

    Task c (10.0.0.9) calls 10.0.0.5:8080 at 10:10 and at 11:10.
    """
    rows = [
        rec("eni-c", "egress", "10.0.0.9", "10.0.0.5", 40001, 8080, 10, task="c", flags="2"),
        rec("eni-c", "ingress", "10.0.0.5", "10.0.0.9", 8080, 40001, 10, task="c", flags="18"),
        rec("eni-a", "ingress", "10.0.0.9", "10.0.0.5", 40001, 8080, 10, task="a", flags="2"),
        rec("eni-a", "egress", "10.0.0.5", "10.0.0.9", 8080, 40001, 10, task="a", flags="18"),
        rec("eni-c", "egress", "10.0.0.9", "10.0.0.5", 40002, 8080, 70, task="c"),
        rec("eni-c", "ingress", "10.0.0.5", "10.0.0.9", 8080, 40002, 70, task="c"),
        # b's first records lack ECS fields: its ECS event had not arrived yet.
        rec("eni-b", "ingress", "10.0.0.9", "10.0.0.5", 40002, 8080, 70, task="b", ecs=False),
        rec("eni-b", "egress", "10.0.0.5", "10.0.0.9", 8080, 40002, 70, task="b", ecs=False),
        rec("eni-b", "egress", "10.0.0.5", "10.0.0.9", 8080, 40003, 75, task="b"),
        # c to S3 through a gateway endpoint, to the internet, to an unknown private address
        rec("eni-c", "egress", "10.0.0.9", "52.216.1.1", 40010, 443, 20, task="c", service="S3"),
        rec("eni-c", "egress", "10.0.0.9", "1.1.1.1", 40011, 443, 21, task="c"),
        rec("eni-c", "egress", "10.0.0.9", "10.9.9.9", 40012, 5432, 22, task="c"),
        # a load balancer ENI (no ECS fields) calls a on 8080
        rec("eni-lb", "egress", "10.0.0.100", "10.0.0.5", 50000, 8080, 12),
    ]
    return ecsflow.clean_flow_logs(pl.DataFrame(rows))


def test_reused_ip_maps_to_the_task_that_held_it_then(reuse):
    f = ecsflow.attribute_flows(reuse)
    calls = f.filter(pl.col("interface_id") == "eni-c", pl.col("dstport") == 8080)
    assert calls.select("start", "dst_ecs_task_id").rows() == [
        (datetime(2024, 5, 19, 10, 10, tzinfo=UTC), TASK["a"][0]),
        (datetime(2024, 5, 19, 11, 10, tzinfo=UTC), TASK["b"][0]),
    ]
    assert calls["dst_interface_id"].to_list() == ["eni-a", "eni-b"]
    assert calls["src_ecs_service_name"].to_list() == ["web", "web"]


def test_records_without_ecs_fields_are_filled_from_their_eni(reuse):
    f = ecsflow.attribute_flows(reuse).filter(pl.col("interface_id") == "eni-b")
    assert f["ecs_task_id"].null_count() == 2  # the input is untouched
    assert f["src_ecs_task_id"].to_list()[1:] == [TASK["b"][0]] * 2
    assert f.filter(pl.col("flow_direction") == "ingress")["dst_ecs_task_id"].to_list() == [
        TASK["b"][0]
    ]


def test_peer_kinds(reuse):
    f = ecsflow.attribute_flows(reuse)
    kinds = dict(f.filter(pl.col("interface_id") == "eni-c").select("dstport", "dst_kind").rows())
    assert kinds[443] in ("aws_service", "internet")
    by_addr = dict(f.select("dstaddr", "dst_kind").rows())
    assert by_addr["52.216.1.1"] == "aws_service"
    assert by_addr["1.1.1.1"] == "internet"
    assert by_addr["10.9.9.9"] == "unknown"
    lb = f.filter(pl.col("interface_id") == "eni-lb").row(0, named=True)
    assert (lb["src_kind"], lb["dst_kind"], lb["dst_ecs_task_id"]) == (
        "vpc_eni",
        "ecs_task",
        TASK["a"][0],
    )
    assert f.filter(pl.col("dstaddr") == "52.216.1.1")["dst_aws_service"].to_list() == ["S3"]


def test_initiator_and_primary_records(reuse):
    f = ecsflow.attribute_flows(reuse)
    # SYN marks the client, SYN-ACK the server; without flags the listening port decides.
    assert set(f.filter(pl.col("srcport") == 8080)["initiator"]) == {"dst"}
    assert set(f.filter(pl.col("dstport") == 8080)["initiator"]) == {"src"}
    assert set(f["server_port"].drop_nulls()) == {8080, 443, 5432}
    # A flow between two logged ENIs is counted once: on the sender's egress record.
    pairs = f.filter(
        pl.col("is_primary"), pl.col("dst_kind") == "ecs_task", pl.col("src_kind") == "ecs_task"
    )
    assert pairs["flow_direction"].unique().to_list() == ["egress"]
    both = f.filter(pl.col("srcport") == 40001)
    assert both["is_primary"].to_list() == [True, False]


def test_nat_gateway_uses_packet_addresses():
    rows = [
        rec("eni-t", "egress", "10.0.1.5", "203.0.113.5", 40000, 443, 1, task="c"),
        # The NAT gateway ENI (10.0.0.220) sees the task as the packet source.
        rec(
            "eni-nat",
            "ingress",
            "10.0.1.5",
            "10.0.0.220",
            40000,
            443,
            1,
            pkt=("10.0.1.5", "203.0.113.5"),
        ),
        rec(
            "eni-nat",
            "egress",
            "10.0.0.220",
            "203.0.113.5",
            40000,
            443,
            1,
            pkt=("10.0.1.5", "203.0.113.5"),
        ),
    ]
    f = ecsflow.attribute_flows(ecsflow.clean_flow_logs(pl.DataFrame(rows)))
    nat_in = f.filter(pl.col("interface_id") == "eni-nat", pl.col("flow_direction") == "ingress")
    assert nat_in.select("src_kind", "src_ecs_task_id", "dst_kind").row(0) == (
        "ecs_task",
        TASK["c"][0],
        "vpc_eni",
    )
    assert f.filter(pl.col("interface_id") == "eni-nat", pl.col("flow_direction") == "egress")[
        "dst_kind"
    ].to_list() == ["internet"]


def test_describe_tasks_adds_enis_the_logs_do_not_cover(tmp_path, reuse):
    doc = {
        "tasks": [
            {
                "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/main/" + "d" * 32,
                "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/main",
                "group": "service:db",
                "launchType": "FARGATE",
                "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/db:1",
                "startedAt": "2024-05-19T09:00:00Z",
                "attachments": [
                    {
                        "type": "ElasticNetworkInterface",
                        "details": [
                            {"name": "networkInterfaceId", "value": "eni-db"},
                            {"name": "privateIPv4Address", "value": "10.9.9.9"},
                        ],
                    }
                ],
            }
        ],
        "failures": [],
    }
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(doc))
    f = ecsflow.attribute_flows(reuse, describe_tasks=path)
    row = f.filter(pl.col("dstaddr") == "10.9.9.9").row(0, named=True)
    assert (row["dst_kind"], row["dst_ecs_service_name"], row["dst_launch_type"]) == (
        "ecs_task",
        "db",
        "FARGATE",
    )
    intervals = ecsflow.task_intervals(reuse, describe_tasks=doc)
    assert intervals.filter(pl.col("source") == "describe_tasks")["interface_id"].to_list() == [
        "eni-db"
    ]


def test_article_attribution_and_frame_kinds():
    flows = ecsflow.read_flow_logs("data/samples/article")
    eager = ecsflow.attribute_flows(flows)
    assert_frame_equal(ecsflow.attribute_flows(flows.lazy()).collect(), eager)
    assert eager.height == flows.height
    assert_frame_equal(eager.select(flows.columns), flows)
    # Every record of a task-to-task curl has a task on both ends; the ping's peer is the internet.
    curl = eager.filter(pl.col("protocol") == 6)
    assert (
        curl["src_kind"].to_list() == ["ecs_task"] * 8
        and curl["dst_kind"].to_list() == ["ecs_task"] * 8
    )
    assert (curl["server_port"] == 80).all()
    ping = eager.filter(pl.col("protocol") == 1).sort("flow_direction")
    assert ping.select("src_kind", "dst_kind", "initiator").rows() == [
        ("internet", "ecs_task", "dst"),
        ("ecs_task", "internet", "src"),
    ]


def test_needs_flow_direction():
    with pytest.raises(ValueError, match="flow_direction"):
        ecsflow.attribute_flows(
            ecsflow.read_flow_logs("data/samples/article").drop("flow_direction")
        )


def _accuracy(out, describe_tasks=None):
    truth = pl.read_parquet(out / "truth" / "records.parquet").drop("flow_direction", "log_status")
    flows = ecsflow.attribute_flows(ecsflow.read_flow_logs(out), describe_tasks=describe_tasks)
    key = ["interface_id", "start", "srcaddr", "dstaddr", "srcport", "dstport", "protocol"]
    joined = flows.with_columns(pl.col("interface_id").cast(pl.String)).join(truth, on=key)
    egress = pl.col("flow_direction") == "egress"
    joined = joined.with_columns(
        pl.when(egress).then(pl.col("dst_task_id")).otherwise(pl.col("src_task_id")).alias("true"),
        pl.when(egress)
        .then(pl.col("dst_ecs_task_id"))
        .otherwise(pl.col("src_ecs_task_id"))
        .alias("got"),
        pl.when(egress)
        .then(pl.col("dst_kind"))
        .otherwise(pl.col("src_kind"))
        .cast(pl.String)
        .alias("kind"),
    )
    return joined


@pytest.mark.parametrize(
    "params",
    [
        {},
        # Heavy churn: deployments every half hour, small subnets, IPs reused within seconds.
        {"subnet_prefix_length": 26, "deployments_per_day": 48, "scaling_events_per_day": 48},
    ],
    ids=["default", "churn"],
)
def test_attribution_matches_simulated_ground_truth(tmp_path, params):
    out = tmp_path / "sim"
    ecsflow.simulate(out, seed=11, records=60_000, params=ecsflow.SimulationParams(**params))
    joined = _accuracy(out)
    with_ecs_peer = joined.filter(pl.col("true").is_not_null())
    misses = with_ecs_peer.filter(pl.col("got").is_null() | (pl.col("got") != pl.col("true")))
    assert with_ecs_peer.height > 10_000
    assert 1 - misses.height / with_ecs_peer.height >= 0.999
    # The only misses: peers whose task stopped before its ECS event reached the flow logs,
    # so none of its records carry ECS fields and its ENI looks like any other ENI.
    records = pl.read_parquet(out / "truth" / "records.parquet")
    shown = records.group_by("interface_task_id").agg(pl.col("ecs_fields").any())
    silent = set(shown.filter(~pl.col("ecs_fields"))["interface_task_id"])
    assert set(misses["true"]) <= silent
    assert set(misses["kind"]) <= {"vpc_eni"}
    assert (
        joined.filter(pl.col("peer_kind") != pl.col("kind"), ~pl.col("true").is_in(silent)).height
        == 0
    )
    # DescribeTasks names them: with it, every record is right.
    full = _accuracy(out, describe_tasks=out / "truth" / "describe-tasks.json")
    assert full.filter(pl.col("true").is_not_null(), pl.col("got") != pl.col("true")).height == 0
    assert full.filter(pl.col("true").is_not_null(), pl.col("got").is_null()).height == 0
    assert full.filter(pl.col("peer_kind") != pl.col("kind")).height == 0
    if params:
        tasks = pl.read_parquet(out / "truth" / "tasks.parquet")
        assert tasks.group_by("private_ip").len()["len"].max() > 1  # IPs were reused
