"""Regressions found in review: each test failed before its fix."""

from __future__ import annotations

import gzip
import zlib
from datetime import UTC, datetime

import polars as pl
import pytest

import ecsflow

T0 = 1716158100
V7 = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status tcp-flags flow-direction vpc-id ecs-cluster-name "
    "ecs-service-name ecs-task-id"
)


def _v7(eni, src, dst, sport, dport, action, flags, direction, vpc, service, task, nbytes=180):
    return (
        f"7 111111111111 {eni} {src} {dst} {sport} {dport} 6 3 {nbytes} {T0} {T0 + 60} "
        f"{action} OK {flags} {direction} {vpc} prod {service} {task * 32}"
    )


def test_a_rejection_on_the_receiving_eni_is_counted(write_log):
    path = write_log("rej.log", [
        V7,
        _v7("eni-web", "10.0.0.5", "10.0.0.9", 40000, 5432, "ACCEPT", 2, "egress", "vpc-a", "web", "a"),  # noqa: E501
        _v7("eni-db", "10.0.0.5", "10.0.0.9", 40000, 5432, "REJECT", 2, "ingress", "vpc-a", "db", "b"),  # noqa: E501
    ])  # fmt: skip
    edge = ecsflow.service_graph(ecsflow.read_flow_logs(path)).edges["web", "db"]
    assert (edge["accepted"], edge["rejected"], edge["bytes"]) == (1, 1, 180)


def test_a_peer_known_only_from_describe_tasks_keeps_the_ingress_record(write_log):
    path = write_log("dt.log", [
        V7,
        _v7("eni-b", "10.0.0.9", "10.0.0.2", 40000, 8080, "ACCEPT", 2, "ingress", "vpc-a", "api", "b", 500),  # noqa: E501
        _v7("eni-b", "10.0.0.2", "10.0.0.9", 8080, 40000, "ACCEPT", 18, "egress", "vpc-a", "api", "b", 900),  # noqa: E501
    ])  # fmt: skip
    doc = {"tasks": [{
        "taskArn": "arn:aws:ecs:us-east-1:111111111111:task/prod/" + "a" * 32,
        "group": "service:web", "startedAt": "2024-05-19T22:00:00",
        "attachments": [{"details": [
            {"name": "networkInterfaceId", "value": "eni-a"},
            {"name": "privateIPv4Address", "value": "10.0.0.9"},
        ]}],
    }]}  # fmt: skip
    flows = ecsflow.attribute_flows(ecsflow.read_flow_logs(path), describe_tasks=doc)
    assert flows["is_primary"].to_list() == [True, True]
    graph = ecsflow.service_graph(flows)
    assert graph.edges["web", "api"]["bytes"] == 1400
    started = ecsflow.task_intervals(ecsflow.read_flow_logs(path), describe_tasks=doc)
    naive_is_utc = datetime(2024, 5, 19, 22, tzinfo=UTC)
    assert started.filter(pl.col("interface_id") == "eni-a")["first_seen"].item() == naive_is_utc


def test_overlapping_cidrs_prefer_the_peer_in_the_same_vpc(write_log):
    path = write_log("vpc.log", [
        V7,
        _v7("eni-a1", "10.0.0.5", "10.0.0.9", 40000, 80, "ACCEPT", 2, "egress", "vpc-a", "web", "a"),  # noqa: E501
        _v7("eni-a2", "10.0.0.5", "10.0.0.9", 40000, 80, "ACCEPT", 2, "ingress", "vpc-a", "api", "b"),  # noqa: E501
        _v7("eni-b1", "10.0.0.7", "10.0.0.9", 41000, 443, "ACCEPT", 2, "ingress", "vpc-b", "billing", "c"),  # noqa: E501
    ])  # fmt: skip
    flows = ecsflow.attribute_flows(ecsflow.read_flow_logs(path))
    web = flows.filter(pl.col("interface_id") == "eni-a1").row(0, named=True)
    assert (web["dst_interface_id"], web["dst_ecs_service_name"]) == ("eni-a2", "api")


def test_attribution_names_missing_fields(write_log):
    path = write_log("few.log", ["interface-id srcaddr dstaddr start end flow-direction",
                                 f"eni-1 10.0.0.1 10.0.0.2 {T0} {T0 + 60} egress"])  # fmt: skip
    with pytest.raises(ValueError, match=r"srcport', 'dstport', 'protocol"):
        ecsflow.attribute_flows(ecsflow.read_flow_logs(path))


HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"  # noqa: E501


def _record(i: int) -> str:
    return (
        f"2 123456789012 eni-0a1 10.0.0.1 10.0.0.2 {40000 + i} 80 6 1 100 {T0} {T0 + 60} ACCEPT OK"
    )


def test_a_gzip_stream_cut_inside_the_header_is_an_error(write_log):
    full = gzip.compress(("\n".join([HEADER] + [_record(i) for i in range(200)]) + "\n").encode())
    cut = next(
        c for c in range(10, len(full))
        if 20 < len(zlib.decompressobj(31).decompress(full[:c])) < len(HEADER) - 3
    )  # fmt: skip
    path = write_log("cut.log.gz", full[:cut])
    with pytest.raises(ecsflow.FlowLogError, match="gzip stream ends early") as err:
        ecsflow.read_flow_logs(path)
    assert err.value.line == 1
    assert ecsflow.bad_lines(path)["line_number"].to_list() == [1]


def test_a_stream_cut_at_a_line_end_is_a_fault_of_the_file(write_log):
    full = gzip.compress(("\n".join([HEADER] + [_record(i) for i in range(5)]) + "\n").encode())
    path = write_log("trailer.log.gz", full[:-8])  # only the CRC and size are missing
    assert ecsflow.read_flow_logs(path, on_bad_lines="skip").height == 5
    assert ecsflow.bad_lines(path)["line_number"].to_list() == [None]


def test_parquet_timestamps_are_times(tmp_path):
    path = tmp_path / "ts.log.parquet"
    when = datetime(2024, 5, 19, 22, 35, 23)
    pl.DataFrame({"interface_id": ["eni-1"], "start": [when], "end": [when]}).write_parquet(path)
    flows = ecsflow.read_flow_logs(path)
    assert flows["start"].to_list() == [when.replace(tzinfo=UTC)]


def test_columns_with_a_window_and_graph_windows_take_naive_times():
    flows = ecsflow.read_flow_logs(
        "data/samples/article", columns=["interface_id", "bytes"], start="2024-05-19T22:00"
    )
    assert flows.columns == ["interface_id", "bytes"] and flows.height == 8
    article = ecsflow.read_flow_logs("data/samples/article")
    for start in ("2024-05-19T22:00", datetime(2024, 5, 19, 22)):
        assert ecsflow.service_graph(article, start=start).number_of_edges() == 2


def test_internet_prefixes_keep_ipv6_peers_together():
    flows = ecsflow.read_flow_logs("data/samples/article")
    v6 = flows.with_columns(
        pl.when(pl.col("srcaddr") == "8.8.8.8").then(pl.lit("2a00:1450::1"))
        .otherwise(pl.col("srcaddr")).alias("srcaddr"),
        pl.when(pl.col("dstaddr") == "8.8.8.8").then(pl.lit("2a00:1450::1"))
        .otherwise(pl.col("dstaddr")).alias("dstaddr"),
    ).drop("pkt_srcaddr", "pkt_dstaddr")  # fmt: skip
    nodes = set(ecsflow.service_graph(v6, internet_prefix=16).nodes)
    assert "internet (IPv6)" in nodes


def test_stopping_early_leaves_no_thread_errors(tmp_path, write_log, capfd):
    for i in range(6):
        write_log(f"many/f{i}.log.gz", [HEADER] + [_record(j) for j in range(20_000)])
    lf = ecsflow.scan_flow_logs(tmp_path / "many", on_bad_lines="skip")
    assert lf.head(5).collect().height == 5
    import gc

    gc.collect()
    assert "cannot join current thread" not in capfd.readouterr().err
