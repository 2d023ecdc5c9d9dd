"""End-to-end loading: every source kind, formats, unions and the article sample."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import ecsflow
from ecsflow.fields import DEFAULT_FORMAT, FIELDS, parse_log_format

from .conftest import ARTICLE, SAMPLES, SEED_CSVS

ARTICLE_HEADER = (ARTICLE / "header.txt") if (ARTICLE / "header.txt").exists() else None
ATHENA_FIX = {"resource_type": "account_id", "account_id": "interface_id"}


def _article_header() -> list[str]:
    import gzip

    first = next(ARTICLE.rglob("*.log.gz"))
    return gzip.open(first, "rt").readline().split()


def test_article_sample_has_ten_typed_records():
    flows = ecsflow.read_flow_logs("data/samples/article")
    assert flows.height == 10
    header = _article_header()
    assert len(header) == 39
    # Columns come from the header, in registry order, then the derived ones.
    assert [c for c in flows.columns if c in {f.column for f in FIELDS}] == [
        f.column for f in FIELDS if f.name in header
    ]
    ping = flows.filter(pl.col("protocol") == 1, pl.col("flow_direction") == "egress").row(
        0, named=True
    )
    assert ping["version"] == 7
    assert ping["account_id"] == "123456789012"
    assert ping["interface_id"] == "eni-0783b0c994717f9a4"
    assert (ping["srcaddr"], ping["dstaddr"]) == ("10.10.0.17", "8.8.8.8")
    assert (ping["srcport"], ping["dstport"], ping["packets"], ping["bytes"]) == (0, 0, 4, 336)
    assert ping["start"] == datetime(2024, 5, 19, 21, 29, 21, tzinfo=UTC)
    assert ping["end"] == datetime(2024, 5, 19, 21, 29, 45, tzinfo=UTC)
    assert ping["instance_id"] is None  # '-' on Fargate
    assert ping["traffic_path"] == 8 and ping["traffic_path_name"] == "internet gateway"
    assert ping["protocol_name"] == "ICMP" and ping["tcp_flag_names"] == []
    assert ping["ecs_container_instance_arn"] is None
    assert ping["ecs_container_id"] == "88316020871d4ec7a200c1ce6d25273d-3472355196"
    assert ping["ecs_container_id_task_id"] == "88316020871d4ec7a200c1ce6d25273d"
    assert ping["ecs_container_id_suffix"] == 3472355196
    assert ping["ecs_second_container_id"] is None
    assert ping["ecs_task_definition_arn"].endswith(
        "task-definition/EcsStackEcsFargateConstruct2TaskDefinition4E5DC27B:1"
    )


def test_article_sample_equals_athena_results_mapped_by_position():
    # The Athena CSVs carry the same records under a hand-written (wrong) header: mapping
    # their columns by position onto the file's own header must give the same frame.
    header = [c.replace("-", "_") for c in _article_header()]
    raw = pl.concat(
        [pl.read_csv(p, infer_schema=False).select(pl.all().name.map(str)) for p in SEED_CSVS]
    )
    raw = raw.select(raw.columns[:39]).rename(dict(zip(raw.columns[:39], header, strict=True)))
    expected = ecsflow.clean_flow_logs(raw).sort("interface_id", "start", "srcaddr")
    got = ecsflow.read_flow_logs("data/samples/article").sort("interface_id", "start", "srcaddr")
    assert_frame_equal(got, expected, categorical_as_str=True)


def test_athena_csv_pitfall_is_detected_and_repairable():
    with pytest.warns(ecsflow.FieldMismatchWarning, match="resource_type|account_id"):
        mislabelled = ecsflow.read_flow_logs(SEED_CSVS)
    # Finding 8: the column called resource_type holds the account id.
    assert set(mislabelled["resource_type"].to_list()) == {"123456789012"}
    assert mislabelled["account_id"].cast(pl.String).str.starts_with("eni-").all()
    assert "interface_id" not in mislabelled.columns

    repaired = ecsflow.read_flow_logs(SEED_CSVS, rename=ATHENA_FIX)
    text = ecsflow.read_flow_logs("data/samples/article")
    shared = [c for c in text.columns if c in repaired.columns]
    key = ["interface_id", "start", "srcaddr"]
    assert_frame_equal(
        repaired.select(shared).sort(key), text.select(shared).sort(key), categorical_as_str=True
    )
    # Partition columns of the Athena table are kept as unknown string columns.
    assert repaired["datehour"].dtype == pl.String


def _aws_examples():
    return json.loads((SAMPLES / "aws-docs" / "examples.json").read_text())


@pytest.mark.parametrize("example", _aws_examples(), ids=lambda e: e["title"][:60])
def test_aws_documentation_examples_load_with_documented_values(example, write_log):
    names = parse_log_format(example["log_format"])
    headerless = write_log("cw.log", example["records"], gz=False)
    flows = ecsflow.read_flow_logs(headerless, log_format=example["log_format"])
    with_header = write_log("s3.log.gz", [" ".join(names), *example["records"]])
    assert_frame_equal(ecsflow.read_flow_logs(with_header), flows)
    assert flows.height == len(example["records"])
    # Every token of every record reads back as its documented value.
    for record, row in zip(example["records"], flows.iter_rows(named=True), strict=True):
        for name, token in zip(names, record.split(), strict=True):
            value = row[name.replace("-", "_")]
            if token == "-":
                assert value is None, name
            elif name in ("start", "end"):
                assert value == datetime.fromtimestamp(int(token), UTC), name
            else:
                assert str(value) == token, name


def test_aws_tcp_flag_examples_decode():
    example = next(e for e in _aws_examples() if "SYN+FIN 3" in e["title"])
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.log"
        p.write_text("\n".join(example["records"]) + "\n")
        flows = ecsflow.read_flow_logs(p, log_format=example["log_format"])
    assert flows["tcp_flag_names"].to_list() == [["FIN", "SYN"], ["FIN", "SYN-ACK"]]


def test_field_order_and_subset_do_not_matter(write_log):
    flows = ecsflow.read_flow_logs("data/samples/article")
    header = _article_header()
    raw = pl.read_csv(next(ARTICLE.rglob("*2235Z*.log.gz")), separator=" ", infer_schema=False)
    shuffled = sorted(header)[::-1][:20]
    path = write_log(
        "shuffled.log.gz", [" ".join(shuffled)] + [" ".join(r) for r in raw.select(shuffled).rows()]
    )
    got = ecsflow.read_flow_logs(path)
    cols = [c.replace("-", "_") for c in shuffled]
    expected = flows.filter(pl.col("start").dt.hour() == 22)
    key = ["interface_id", "start", "srcaddr"]
    common = [c for c in expected.columns if c in got.columns]
    assert set(cols) <= set(got.columns)
    assert_frame_equal(got.select(common).sort(key), expected.select(common).sort(key))


def test_directory_unions_formats_and_layouts(tmp_path, write_log):
    v2 = (
        "2 123456789012 eni-0a 10.0.0.1 10.0.0.2 443 49152 6 10 840 1700000000 1700000060 ACCEPT OK"
    )
    default_header = " ".join(parse_log_format(DEFAULT_FORMAT))
    base = "AWSLogs/123456789012/vpcflowlogs/us-east-1/2023/11/14"
    write_log(f"logs/{base}/a_20231114T2210Z_1.log.gz", [default_header, v2])
    write_log(
        f"logs/{base}/22/b_20231114T2215Z_2.log.gz",  # hourly layout, re-created flow log
        [
            "version interface-id srcaddr dstaddr ecs-task-id reject-reason",
            "8 eni-0b 10.0.0.3 10.0.0.4 0123456789abcdef0123456789abcdef BPA",
        ],
    )
    write_log(
        "logs/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/"
        "year=2023/month=11/day=14/hour=22/c_20231114T2220Z_3.log",
        [default_header, v2.replace("eni-0a", "eni-0c")],
    )
    write_log("logs/README.md", "not a flow log")
    flows = ecsflow.read_flow_logs(tmp_path / "logs", include_file_paths="file")
    assert flows.height == 3
    assert sorted(flows["interface_id"].cast(pl.String)) == ["eni-0a", "eni-0b", "eni-0c"]
    b = flows.filter(pl.col("interface_id") == "eni-0b").row(0, named=True)
    assert b["reject_reason"] == "BPA" and b["packets"] is None and b["version"] == 8
    assert flows["ecs_task_id"].dtype == pl.Categorical
    assert flows["file"].str.ends_with(".log.gz").sum() == 2


def test_parquet_delivery_equals_text(tmp_path):
    text = ecsflow.read_flow_logs("data/samples/article")
    raw = pl.concat(
        [
            pl.read_csv(p, separator=" ", infer_schema=False)
            for p in sorted(ARTICLE.rglob("*.log.gz"))
        ]
    )
    # AWS Parquet: underscore names, INT_32 / INT_64 types, nulls for '-'.
    typed = raw.rename({c: c.replace("-", "_") for c in raw.columns}).with_columns(
        pl.all().replace("-", None)
    )
    casts = {
        f.column: (pl.Int64 if f.parquet == "INT_64" else pl.Int32)
        for f in FIELDS
        if f.parquet != "STRING"
    }
    typed = typed.with_columns([pl.col(c).cast(t) for c, t in casts.items() if c in typed.columns])
    path = (
        tmp_path
        / "AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/19/x_20240519T2235Z_h.log.parquet"
    )
    path.parent.mkdir(parents=True)
    typed.write_parquet(path)
    got = ecsflow.read_flow_logs(tmp_path)
    key = ["interface_id", "start", "srcaddr"]
    assert_frame_equal(got.sort(key), text.sort(key))
    # Hyphenated Parquet column names map to the same columns.
    hyphen = tmp_path / "h.parquet"
    typed.rename({c: c.replace("_", "-") for c in typed.columns}).write_parquet(hyphen)
    assert_frame_equal(ecsflow.read_flow_logs(hyphen).sort(key), text.sort(key))


def test_cloudwatch_records_need_a_format_and_exports_default(write_log):
    records = [
        "2 633112549318 eni-d68830d4 209.141.42.153 10.155.108.192 54252 8088 6 1 40 "
        "1537648094 1537648129 ACCEPT OK",
        "2 633112549318 eni-d68830d4 - - - - - - - 1537648152 1537648249 - NODATA",
    ]
    plain = write_log("cw.log", records, gz=False)
    with pytest.raises(ecsflow.FlowLogError, match=r"cw\.log, line 1: no header line"):
        ecsflow.read_flow_logs(plain)
    flows = ecsflow.read_flow_logs(plain, log_format=DEFAULT_FORMAT)
    assert flows["log_status"].to_list() == ["OK", "NODATA"]
    assert flows.filter(pl.col("log_status") == "NODATA")["srcaddr"].to_list() == [None]
    export = write_log(
        "000000.gz",
        ["2018-09-22T20:28:14.000Z " + records[0], "2018-09-22T20:29:12.000Z " + records[1]],
    )
    assert_frame_equal(ecsflow.read_flow_logs(export), flows)


def test_spaces_crlf_and_unknown_fields(write_log):
    path = write_log(
        "odd.log",
        b"version  interface-id next-hop-interface-id\r\n7 eni-1   eni-2 \r\n\r\n7 eni-3 -\r\n",
        gz=False,
    )
    flows = ecsflow.read_flow_logs(path)
    assert flows.columns == ["version", "interface_id", "next_hop_interface_id"]
    assert flows["next_hop_interface_id"].to_list() == ["eni-2", None]
    assert flows["next_hop_interface_id"].dtype == pl.String


def test_columns_projection_and_errors():
    lf = ecsflow.scan_flow_logs("data/samples/article", columns=["interface-id", "bytes"])
    assert lf.collect_schema().names() == ["interface_id", "bytes"]
    assert lf.collect()["bytes"].sum() == 2 * 336 + 4 * 1020 + 4 * 413
    with pytest.raises(ValueError, match="not in any file"):
        ecsflow.scan_flow_logs("data/samples/article", columns=["nope"])


def test_sources_glob_list_and_missing():
    files = sorted(str(p) for p in ARTICLE.rglob("*.log.gz"))
    one = ecsflow.read_flow_logs(files[0])
    assert one.height == 2
    assert ecsflow.read_flow_logs(files).height == 10
    assert ecsflow.read_flow_logs("data/samples/article/**/*2024052*.log.gz").height == 4
    with pytest.raises(FileNotFoundError):
        ecsflow.read_flow_logs("data/samples/nowhere")
    with pytest.raises(FileNotFoundError):
        ecsflow.read_flow_logs("data/samples/article/**/*.nothing")


def test_nodata_and_skipdata_rows_are_kept(write_log):
    header = " ".join(parse_log_format(DEFAULT_FORMAT))
    path = write_log(
        "n.log.gz",
        [
            header,
            "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
            "2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA",
        ],
    )
    flows = ecsflow.read_flow_logs(path)
    assert flows["log_status"].to_list() == ["NODATA", "SKIPDATA"]
    assert flows["action"].null_count() == 2
    assert flows.filter(pl.col("log_status") == "OK").height == 0


@pytest.fixture
def opened(monkeypatch):
    """Record every file the loader opens."""
    import ecsflow.read

    seen: set[str] = set()
    real = ecsflow.read.iter_bytes

    def counting(file, **kwargs):
        seen.add(file.path)
        return real(file, **kwargs)

    monkeypatch.setattr(ecsflow.read, "iter_bytes", counting)
    return seen


@pytest.mark.parametrize("layout", ["default", "hourly", "hive", "hive-hourly"])
def test_time_window_opens_only_files_that_can_overlap(tmp_path, opened, layout):
    out = tmp_path / layout
    ecsflow.simulate(out, seed=2, records=6000, layout=layout)
    everything = ecsflow.read_flow_logs(out)
    total = len(ecsflow.expand_source(out))
    opened.clear()
    t0 = everything["end"].min() + (everything["end"].max() - everything["end"].min()) / 2
    start, end = t0, t0 + timedelta(minutes=20)
    window = ecsflow.read_flow_logs(out, start=start, end=end)
    # Pruning loses nothing: the same records as filtering everything.
    expected = everything.filter(pl.col("end") >= start, pl.col("start") < end)
    assert window.height == expected.height > 0
    assert_frame_equal(window.sort(pl.all()), expected.sort(pl.all()))
    # 5-minute file names bound each file; hourly and daily prefixes bound less tightly.
    assert len(opened) < total
    if layout in ("default", "hive"):
        assert len(opened) <= 20 / 5 + 11 / 5 + 2  # window + record span, in 5-minute files


def test_window_with_no_files_keeps_the_columns():
    flows = ecsflow.read_flow_logs("data/samples/article", start="2030-01-01")
    assert flows.height == 0
    assert flows.columns == ecsflow.read_flow_logs("data/samples/article").columns


def test_progress_bar_on_request_and_quiet_by_default(capsys):
    ecsflow.read_flow_logs("data/samples/simulated", progress=True)
    err = capsys.readouterr().err
    assert "flow logs" in err and "files=" in err
    ecsflow.read_flow_logs("data/samples/simulated")  # stderr is not a terminal here
    assert "flow logs" not in capsys.readouterr().err


def test_parquet_files_read_together_keep_their_own_row_numbers(tmp_path):
    rows = {"interface_id": ["eni-1", "eni-2", "eni-3"], "srcport": [443, 80, 22]}
    first = tmp_path / "a.log.parquet"
    second = tmp_path / "b.log.parquet"
    pl.DataFrame(rows, schema={"interface_id": pl.String, "srcport": pl.Int32}).write_parquet(first)
    bad = {**rows, "srcport": [443, 70000, 22]}
    pl.DataFrame(bad, schema={"interface_id": pl.String, "srcport": pl.Int32}).write_parquet(second)
    with pytest.raises(ecsflow.FlowLogError) as err:
        ecsflow.read_flow_logs(tmp_path)
    assert (err.value.path, err.value.line) == (str(second), 2)
    assert ecsflow.bad_lines(tmp_path).select("path", "line_number").rows() == [(str(second), 2)]
    assert ecsflow.read_flow_logs(tmp_path, on_bad_lines="skip").height == 5


def test_strict_mode_raises_even_when_only_the_first_rows_are_asked_for(write_log):
    from .test_read import GOOD, HEADER

    path = write_log("head.log", [HEADER, GOOD.replace(" 443 ", " http "), GOOD])
    lf = ecsflow.scan_flow_logs(path)
    for query in (lf.head(5), lf.first(), lf.slice(0, 1)):
        with pytest.raises(ecsflow.FlowLogError, match="line 2: srcport: 'http'"):
            query.collect()


def test_an_early_stop_lets_the_process_exit(tmp_path):
    # Reading a few rows of many large files stops the reading threads; the interpreter must
    # then exit rather than wait on a worker blocked for good.
    import random
    import subprocess
    import sys

    from .test_read import GOOD, HEADER

    rng = random.Random(1)
    for i in range(4):
        # Varied numbers: each file must stay above the 1 MiB that would bundle it.
        body = "\n".join(
            GOOD.replace(" 10 840 ", f" {rng.randrange(99)} {rng.randrange(10**9)} ")
            for _ in range(200_000)
        )
        with gzip.open(tmp_path / f"{i}.log.gz", "wt", compresslevel=1) as out:
            out.write(HEADER + "\n" + body + "\n")
        assert (tmp_path / f"{i}.log.gz").stat().st_size > 1 << 20
    code = (
        "import ecsflow, sys; print(ecsflow.scan_flow_logs(sys.argv[1]).head(5).collect().height)"
    )
    proc = subprocess.run(
        # The timeout guards against the deadlock, it is not a speed check (this takes ~2 s).
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0 and proc.stdout.split() == ["5"]
