"""Read a simulated deployment from a local S3 server (moto) and from disk, in one run.

Usage::

    .venv/bin/python benchmarks/s3_local.py DATA_DIR

Uploads DATA_DIR/AWSLogs to a bucket on a moto server (own process, on 127.0.0.1), then times
``read_flow_logs`` on the local directory and on the ``s3://`` prefix (each in this process,
local first), and prints objects, records, seconds and records per second.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import ecsflow
from ecsflow.sources import open_s3_client


def main(data: str) -> None:
    # The server runs in its own process so that it does not share this one's GIL.
    port = 5000 + os.getpid() % 1000
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    host = "127.0.0.1"
    for _ in range(100):
        try:
            socket.create_connection((host, port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.1)
    options = {
        "aws_access_key_id": "bench",
        "aws_secret_access_key": "bench",
        "aws_region": "us-east-1",
        "aws_endpoint_url": f"http://{host}:{port}",
        "aws_allow_http": "true",
    }
    client = open_s3_client(options)
    client.create_bucket(Bucket="bench")
    root = Path(data)
    objects = sorted(root.joinpath("AWSLogs").rglob("*.log.gz"))
    for path in objects:
        client.put_object(
            Bucket="bench", Key=path.relative_to(root).as_posix(), Body=path.read_bytes()
        )
    rows = []
    for label, source, so in (("local", root, None), ("s3 (moto)", "s3://bench/AWSLogs/", options)):
        t0 = time.perf_counter()
        n = ecsflow.read_flow_logs(source, storage_options=so).height
        rows.append((label, n, time.perf_counter() - t0))
    server.terminate()
    server.wait()
    print("| source | objects | records | seconds | records/s |\n|---|---|---|---|---|")
    for label, n, s in rows:
        print(f"| {label} | {len(objects):,} | {n:,} | {s:.1f} | {n / s:,.0f} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the process: {peak:,.0f} MiB")


if __name__ == "__main__":
    main(sys.argv[1])
