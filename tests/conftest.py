"""Shared fixtures: sample paths, a flow-log file writer and a real local S3 server (moto)."""

from __future__ import annotations

import gzip
import importlib.util
import logging
import os
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
ARTICLE = SAMPLES / "article"
SEED_CSVS = sorted((ARTICLE / "athena").glob("athena-result-*.csv"))


def require(module: str) -> None:
    """Skip when an optional test dependency is missing, but never under CI."""
    if importlib.util.find_spec(module) is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{module} is required under CI; install the [dev] extra")
        pytest.skip(f"{module} is not installed (pip install -e '.[dev]')")


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch):
    # Doctests and fixtures use paths relative to the repository root.
    monkeypatch.chdir(ROOT)


@pytest.fixture
def write_log(tmp_path):
    """Write a flow-log text file: ``write_log(name, lines, gz=None)`` -> Path.

    Text is gzip-compressed when the name ends in ``.gz`` (unless ``gz`` says otherwise);
    bytes are written as given unless ``gz=True``.
    """

    def write(name: str, lines: list[str] | str | bytes, *, gz: bool | None = None) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(lines, list):
            data = ("\n".join(lines) + "\n").encode()
        elif isinstance(lines, str):
            data = lines.encode()
        else:
            data = lines
        if gz is None:
            gz = name.endswith(".gz") and not isinstance(lines, bytes)
        path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
        return path

    return write


@pytest.fixture(scope="session")
def s3_endpoint():
    require("moto")
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def storage_options(s3_endpoint, monkeypatch):
    # Dummy keys keep every client away from the instance-metadata endpoint.
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    return {
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "aws_region": "us-east-1",
        "aws_endpoint_url": s3_endpoint,
        "aws_allow_http": "true",
    }


@pytest.fixture
def bucket(storage_options):
    """A fresh bucket on the local S3 server; returns (name, boto3 client)."""
    from ecsflow.sources import open_s3_client

    client = open_s3_client(storage_options)
    name = f"flowlogs-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=name)
    return name, client
