"""S3 sources against a real local S3 server (moto in server mode on 127.0.0.1)."""

from __future__ import annotations

import gzip

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import ecsflow

from .conftest import ARTICLE, SEED_CSVS

KEY = ["interface_id", "start", "srcaddr"]


def _upload_article(name, client, prefix=""):
    keys = []
    for path in sorted(ARTICLE.rglob("*.log.gz")):
        key = prefix + path.relative_to(ARTICLE).as_posix()
        client.put_object(Bucket=name, Key=key, Body=path.read_bytes())
        keys.append(key)
    return keys


def test_s3_prefix_equals_local(bucket, storage_options):
    name, client = bucket
    keys = _upload_article(name, client, prefix="logs/")
    client.put_object(Bucket=name, Key="logs/AWSLogs/aws-logs-write-test", Body=b"Permission Check")
    local = ecsflow.read_flow_logs("data/samples/article").sort(KEY)
    remote = ecsflow.read_flow_logs(f"s3://{name}/logs", storage_options=storage_options)
    assert_frame_equal(remote.sort(KEY), local)
    one = ecsflow.read_flow_logs(f"s3://{name}/{keys[0]}", storage_options=storage_options)
    assert one.height == 2
    glob = ecsflow.read_flow_logs(
        f"s3://{name}/logs/AWSLogs/**/2024/05/19/**/*.log.gz",
        storage_options=storage_options,
        include_file_paths="file",
    )
    assert glob.height == 6 and glob["file"].str.starts_with(f"s3://{name}/").all()


def test_s3_parquet_and_athena_csv(bucket, storage_options, tmp_path):
    name, client = bucket
    local = ecsflow.read_flow_logs("data/samples/article")
    parquet = tmp_path / "x.log.parquet"
    pl.read_csv(
        next(ARTICLE.rglob("*2235Z*.log.gz")), separator=" ", infer_schema=False
    ).write_parquet(parquet)
    client.put_object(Bucket=name, Key="p/x.log.parquet", Body=parquet.read_bytes())
    client.put_object(Bucket=name, Key="q/r.csv", Body=SEED_CSVS[0].read_bytes())
    got = ecsflow.read_flow_logs(f"s3://{name}/p/", storage_options=storage_options)
    expected = local.filter(pl.col("start").dt.hour() == 22)
    assert_frame_equal(got.sort(KEY), expected.sort(KEY))
    csv = ecsflow.read_flow_logs(
        f"s3://{name}/q/r.csv",
        storage_options=storage_options,
        rename={"resource_type": "account_id", "account_id": "interface_id"},
    )
    assert csv.height == 4


def test_s3_faults_name_the_object(bucket, storage_options):
    name, client = bucket
    header = "version interface-id srcport"
    client.put_object(
        Bucket=name, Key="b/a.log.gz", Body=gzip.compress(f"{header}\n7 eni-1 x\n".encode())
    )
    client.put_object(Bucket=name, Key="b/empty.log.gz", Body=b"")
    with pytest.raises(ecsflow.FlowLogError, match=rf"s3://{name}/b/a\.log\.gz, line 2: srcport"):
        ecsflow.read_flow_logs(f"s3://{name}/b/a.log.gz", storage_options=storage_options)
    aside = ecsflow.bad_lines(f"s3://{name}/b/", storage_options=storage_options)
    assert aside.select("path", "line_number").rows() == [
        (f"s3://{name}/b/a.log.gz", 2),
        (f"s3://{name}/b/empty.log.gz", None),
    ]
    with pytest.raises(FileNotFoundError):
        ecsflow.read_flow_logs(f"s3://{name}/nothing-here/", storage_options=storage_options)


def test_environment_credentials_without_storage_options(bucket, storage_options, monkeypatch):
    name, client = bucket
    _upload_article(name, client)
    monkeypatch.setenv("AWS_ENDPOINT_URL", storage_options["aws_endpoint_url"])
    monkeypatch.setenv("AWS_ALLOW_HTTP", "true")
    assert ecsflow.read_flow_logs(f"s3://{name}/AWSLogs/").height == 10
