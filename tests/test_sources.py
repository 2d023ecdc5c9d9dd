"""Expanding sources into files: directories, globs, lists, and what a walk picks up."""

from __future__ import annotations

import pytest

from ecsflow.sources import _glob_regex, expand_source


def test_directory_walk_picks_deliveries_only(tmp_path):
    for name in [
        "a/x.log.gz", "a/b/y.log", "a/c/z.log.parquet", "a/000000.gz", "a/r.csv",
        "a/r.csv.metadata", "a/README.md", "a/.hidden/h.log.gz", "a/truth/records.parquet",
    ]:  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    files = expand_source(tmp_path / "a")
    assert [(f.name, f.kind) for f in files] == [
        ("000000.gz", "text"), ("y.log", "text"), ("z.log.parquet", "parquet"), ("x.log.gz", "text")
    ]  # fmt: skip
    explicit = expand_source([tmp_path / "a/r.csv", tmp_path / "a/r.csv", tmp_path / "a/x.log.gz"])
    assert [(f.name, f.kind) for f in explicit] == [("r.csv", "csv"), ("x.log.gz", "text")]
    globbed = expand_source(str(tmp_path / "a/**/*.parquet"))
    assert [f.name for f in globbed] == ["z.log.parquet", "records.parquet"]
    with pytest.raises(FileNotFoundError):
        expand_source(tmp_path / "missing")


@pytest.mark.parametrize(
    ("pattern", "key", "hit"),
    [
        ("AWSLogs/**/*.log.gz", "AWSLogs/1/vpcflowlogs/r/2024/05/19/x.log.gz", True),
        ("AWSLogs/**/*.log.gz", "AWSLogs/x.log.gz", True),
        ("AWSLogs/*/x.log.gz", "AWSLogs/1/2/x.log.gz", False),
        ("AWSLogs/?/x.log.gz", "AWSLogs/1/x.log.gz", True),
        ("a/[0-9]*.gz", "a/000000.gz", True),
    ],
)
def test_s3_glob_semantics(pattern, key, hit):
    assert bool(_glob_regex(pattern).match(key)) is hit
