"""Cleaning: every field's dtype, nulls, times and every decoding."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import ecsflow
from ecsflow.fields import (
    DERIVED_COLUMNS,
    ENCRYPTION_STATUSES,
    FIELDS,
    PROTOCOL_NAMES,
    TRAFFIC_PATHS,
)

# One valid text value per field, as AWS would write it.
SAMPLE_VALUE = {
    "version": "7", "account-id": "123456789012", "interface-id": "eni-0a1b2c3d",
    "srcaddr": "10.0.0.1", "dstaddr": "10.0.0.2", "srcport": "443", "dstport": "49152",
    "protocol": "6", "packets": "10", "bytes": "840", "start": "1716158123",
    "end": "1716158151", "action": "ACCEPT", "log-status": "OK", "vpc-id": "vpc-0a",
    "subnet-id": "subnet-0a", "instance-id": "i-0a", "tcp-flags": "19", "type": "IPv4",
    "pkt-srcaddr": "10.0.0.1", "pkt-dstaddr": "10.0.0.2", "region": "us-east-1",
    "az-id": "use1-az6", "sublocation-type": "outpost", "sublocation-id": "op-1",
    "pkt-src-aws-service": "S3", "pkt-dst-aws-service": "AMAZON", "flow-direction": "egress",
    "traffic-path": "1", "ecs-cluster-arn": "arn:aws:ecs:us-east-1:123456789012:cluster/c",
    "ecs-cluster-name": "c",
    "ecs-container-instance-arn": "arn:aws:ecs:us-east-1:123456789012:container-instance/c/1",
    "ecs-container-instance-id": "1", "ecs-container-id": "a" * 64,
    "ecs-second-container-id": "0123456789abcdef0123456789abcdef-3254704778",
    "ecs-service-name": "s",
    "ecs-task-definition-arn": "arn:aws:ecs:us-east-1:123456789012:task-definition/f:3",
    "ecs-task-arn": "arn:aws:ecs:us-east-1:123456789012:task/c/0123456789abcdef0123456789abcdef",
    "ecs-task-id": "0123456789abcdef0123456789abcdef", "reject-reason": "BPA",
    "resource-id": "nat-0a", "encryption-status": "2",
}  # fmt: skip


def _raw(values: dict[str, list[str]]) -> pl.DataFrame:
    return pl.DataFrame({k.replace("-", "_"): v for k, v in values.items()})


def test_every_field_gets_its_registry_dtype():
    assert set(SAMPLE_VALUE) == {f.name for f in FIELDS}
    clean = ecsflow.clean_flow_logs(_raw({k: [v] for k, v in SAMPLE_VALUE.items()}))
    for f in FIELDS:
        assert clean.schema[f.column] == f.dtype, f.name
    for d in DERIVED_COLUMNS:
        assert clean.schema[d.name] == d.dtype, d.name
    row = clean.row(0, named=True)
    for f in FIELDS:
        if f.is_time:
            expected = datetime.fromtimestamp(int(SAMPLE_VALUE[f.name]), UTC)
        elif f.is_integer:
            expected = int(SAMPLE_VALUE[f.name])
        else:
            expected = SAMPLE_VALUE[f.name]
        assert row[f.column] == expected, f.name


def test_dash_and_empty_become_null_for_every_field():
    clean = ecsflow.clean_flow_logs(_raw({k: ["-", ""] for k in SAMPLE_VALUE}))
    assert clean.height == 2
    assert all(clean[f.column].null_count() == 2 for f in FIELDS)


def test_integer_dtypes_follow_aws_parquet_types():
    for f in FIELDS:
        if f.parquet == "INT_32":
            assert f.dtype == pl.Int32, f.name
        elif f.parquet == "INT_64" and not f.is_time:
            assert f.dtype == pl.Int64, f.name


def test_millisecond_epochs_are_read_right():
    clean = ecsflow.clean_flow_logs(
        _raw({"start": ["1512564058", "1512564058000"], "end": ["1512564058", "1512564058999"]})
    )
    when = datetime(2017, 12, 6, 12, 40, 58, tzinfo=UTC)
    assert clean["start"].to_list() == [when, when]
    assert clean["end"][1] == when.replace(microsecond=999_000)


@pytest.mark.parametrize(("number", "name"), sorted(PROTOCOL_NAMES.items()))
def test_protocol_names(number, name):
    clean = ecsflow.clean_flow_logs(_raw({"protocol": [str(number)]}))
    assert clean["protocol_name"].to_list() == [name]


def test_unassigned_protocol_has_no_name():
    clean = ecsflow.clean_flow_logs(_raw({"protocol": ["253", "-"]}))
    assert clean["protocol_name"].to_list() == [None, None]


@pytest.mark.parametrize(
    ("flags", "names"),
    [
        ("0", []), ("1", ["FIN"]), ("2", ["SYN"]), ("3", ["FIN", "SYN"]), ("4", ["RST"]),
        ("7", ["FIN", "SYN", "RST"]), ("18", ["SYN-ACK"]), ("19", ["FIN", "SYN-ACK"]),
        ("22", ["SYN-ACK", "RST"]), ("16", ["ACK"]), ("8", ["PSH"]), ("32", ["URG"]),
        ("-", None),
    ],
)  # fmt: skip
def test_tcp_flags_decode(flags, names):
    clean = ecsflow.clean_flow_logs(_raw({"tcp_flags": [flags]}))
    assert clean["tcp_flag_names"].to_list() == [names]


@pytest.mark.parametrize(
    ("column", "codes"),
    [("traffic_path", TRAFFIC_PATHS), ("encryption_status", ENCRYPTION_STATUSES)],
)
def test_coded_fields_decode(column, codes):
    values = [str(c) for c in sorted(codes)] + ["-"]
    clean = ecsflow.clean_flow_logs(_raw({column: values}))
    assert clean[f"{column}_name"].to_list() == [codes[c] for c in sorted(codes)] + [None]


def test_container_id_parts_for_fargate_and_ec2():
    ids = [
        "88316020871d4ec7a200c1ce6d25273d-3472355196",
        "4d1e7f8d3f2c" * 5 + "abcd",  # a 64-hex Docker id on EC2
        "-",
    ]
    clean = ecsflow.clean_flow_logs(_raw({"ecs_container_id": ids, "ecs_second_container_id": ids}))
    for col in ("ecs_container_id", "ecs_second_container_id"):
        assert clean[f"{col}_task_id"].to_list() == ["88316020871d4ec7a200c1ce6d25273d", None, None]
        assert clean[f"{col}_suffix"].to_list() == [3472355196, None, None]
    assert clean["ecs_container_id"][1] == ids[1]


def test_typed_input_and_frame_kinds_and_no_mutation():
    raw = _raw({"srcport": ["443"], "action": ["REJECT"]})
    before = raw.clone()
    eager = ecsflow.clean_flow_logs(raw)
    lazy = ecsflow.clean_flow_logs(raw.lazy())
    assert isinstance(eager, pl.DataFrame) and isinstance(lazy, pl.LazyFrame)
    assert_frame_equal(lazy.collect(), eager)
    assert_frame_equal(raw, before)
    # Parquet deliveries come typed: integers pass through the same range checks.
    typed = pl.DataFrame({"srcport": pl.Series([443], dtype=pl.Int32), "action": ["REJECT"]})
    assert_frame_equal(ecsflow.clean_flow_logs(typed), eager)
    with pytest.raises(ecsflow.FlowLogError, match="srcport: 70000 is out of range"):
        ecsflow.clean_flow_logs(pl.DataFrame({"srcport": [70000]}))


def test_bad_policy_argument():
    with pytest.raises(ValueError, match="on_bad_lines"):
        ecsflow.clean_flow_logs(_raw({"srcport": ["1"]}), on_bad_lines="ignore")


def test_unknown_columns_keep_their_dtype_and_text_gets_the_dash_rule():
    raw = pl.DataFrame({"srcport": ["443"], "note": ["-"], "records": [3], "seen": [1.5]})
    out = ecsflow.clean_flow_logs(raw)
    assert out.schema["records"] == pl.Int64 and out.schema["seen"] == pl.Float64
    assert out.row(0, named=True) == {"srcport": 443, "note": None, "records": 3, "seen": 1.5}


def test_dash_is_null_in_categorical_input_too():
    # Dictionary-encoded Parquet arrives categorical: AWS's '-' rule still applies.
    raw = pl.DataFrame(
        {"ecs_service_name": ["-", "svc", ""]}, schema={"ecs_service_name": pl.Categorical}
    )
    assert ecsflow.clean_flow_logs(raw)["ecs_service_name"].to_list() == [None, "svc", None]


def test_integers_beyond_int64_and_fractions_are_bad_whatever_the_input_type():
    from decimal import Decimal

    raw = pl.DataFrame(
        {"bytes": [Decimal("840"), Decimal("1.5"), Decimal("100000000000000000000")]},
        schema={"bytes": pl.Decimal(30, 1)},
    )
    aside = ecsflow.clean_flow_logs(raw, set_aside=True)["reason"].to_list()
    assert aside == [
        "bytes: 1.5 is not an integer",
        "bytes: 100000000000000000000.0 is out of range",
    ]
    wide = pl.DataFrame({"bytes": pl.Series([840, 2**70], dtype=pl.Int128)})
    assert ecsflow.clean_flow_logs(wide, on_bad_lines="skip")["bytes"].to_list() == [840]
    assert ecsflow.clean_flow_logs(wide, set_aside=True).height == 1
