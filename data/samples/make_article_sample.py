"""Rebuild the S3 flow-log objects behind the Classmethod article's Athena results.

The article (https://dev.classmethod.jp/articles/amazon-vpc-flow-logs-extends-support-ecs/,
2024-05-20, addendum 2024-05-27) shows three Athena query results over a VPC flow log delivered
to S3 as text with a 39-field custom format (29 standard fields, then 10 ECS fields). This script
turns those ten records back into the gzip-compressed text objects AWS would have written:

    data/samples/article/athena/athena-result-*.csv     the query results (placeholder replaced)
    data/samples/article/AWSLogs/123456789012/vpcflowlogs/us-east-1/YYYY/MM/DD/HH/
        123456789012_vpcflowlogs_us-east-1_<flow-log-id>_YYYYMMDDTHHmmZ_<hash>.log.gz

Mapping rules (see data/samples/README.md):

* The Athena DDL of the article names two columns wrongly: the CSV column ``resource_type`` holds
  the account id and ``account_id`` holds the interface id. Values are therefore mapped by
  position onto :data:`FIELDS` (CSV columns 1..39); the last three CSV columns
  (``aws_account_id``, ``aws_region``, ``datehour``) are Athena partition columns, not fields.
* The placeholder ``<AWSアカウントID>`` becomes ``123456789012``.
* Empty CSV values (``traffic_path`` of ingress rows, an Athena ``int`` column) become ``-``.
* Each object holds the records whose ``end`` falls in one 5-minute window; the window start is
  the time in the object name; ``datehour`` gives the hour folder (checked against ``end``).
* One invented flow-log id per VPC (the two deploys are two stacks with two VPCs).
* The 8-hex hash in the name is the first 8 hex digits of the SHA-1 of the uncompressed text.
* gzip is written with mtime=0 and no file name, so reruns are byte-identical.

Usage::

    python data/samples/make_article_sample.py [--seed DIR]

With ``--seed`` (default: ``/work/shared/seed`` if it exists) the three CSVs are first copied
from the seed directory into ``article/athena/``; without a seed directory the committed copies
in ``article/athena/`` are the input. Only the standard library is used.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import shutil
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "article"
ATHENA_DIR = OUT / "athena"
DEFAULT_SEED = Path("/work/shared/seed")

CSV_NAMES = (
    "athena-result-1-curl-deploy1.csv",
    "athena-result-2-curl-deploy2.csv",
    "athena-result-3-ping-deploy1.csv",
)

PLACEHOLDER = "<AWSアカウントID>"
ACCOUNT_ID = "123456789012"

# The article's custom format (CDK code): 29 standard fields, then the 10 ECS fields.
HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr "
    "pkt-dstaddr region az-id sublocation-type sublocation-id pkt-src-aws-service "
    "pkt-dst-aws-service flow-direction traffic-path ecs-cluster-name ecs-cluster-arn "
    "ecs-container-instance-id ecs-container-instance-arn ecs-service-name "
    "ecs-task-definition-arn ecs-task-id ecs-task-arn ecs-container-id ecs-second-container-id"
)
FIELDS = tuple(HEADER.split(" "))
PARTITION_COLUMNS = ("aws_account_id", "aws_region", "datehour")

# Invented flow-log ids, one per stack/VPC (the article does not show the real ones).
FLOW_LOG_IDS = {
    "vpc-0926fc3c811765f21": "fl-0a1b2c3d4e5f67890",  # deploy 1, 2024-05-19
    "vpc-0152760ee7636a7d9": "fl-0f9e8d7c6b5a43210",  # deploy 2, 2024-05-20
}

WINDOW_SECONDS = 300  # AWS publishes one S3 object per 5 minutes (per flow log)

assert len(FIELDS) == 39, len(FIELDS)


def copy_seed_csvs(seed: Path) -> None:
    """Copy the Athena CSVs verbatim, replacing only the account-id placeholder."""
    ATHENA_DIR.mkdir(parents=True, exist_ok=True)
    for name in CSV_NAMES:
        text = (seed / name).read_bytes().decode("utf-8")
        (ATHENA_DIR / name).write_bytes(text.replace(PLACEHOLDER, ACCOUNT_ID).encode("utf-8"))


def read_records(path: Path) -> list[tuple[dict[str, str], str]]:
    """Read one Athena CSV into (record, datehour) pairs, mapping values by position."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    if len(header) != len(FIELDS) + len(PARTITION_COLUMNS):
        raise ValueError(f"{path.name}: expected {len(FIELDS) + 3} columns, got {len(header)}")
    if tuple(header[len(FIELDS) :]) != PARTITION_COLUMNS:
        raise ValueError(f"{path.name}: unexpected partition columns {header[len(FIELDS) :]}")
    out = []
    for i, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(f"{path.name}:{i}: {len(row)} values, expected {len(header)}")
        if any(PLACEHOLDER in value for value in row):
            raise ValueError(f"{path.name}:{i}: placeholder {PLACEHOLDER} left in the data")
        values = [value if value != "" else "-" for value in row[: len(FIELDS)]]
        if any(" " in value for value in values):
            raise ValueError(f"{path.name}:{i}: a value contains a space")
        record = dict(zip(FIELDS, values, strict=True))
        aws_account_id, aws_region, datehour = row[len(FIELDS) :]
        if (aws_account_id, aws_region) != (record["account-id"], record["region"]):
            raise ValueError(f"{path.name}:{i}: partition does not match account-id/region")
        out.append((record, datehour))
    return out


def object_key(record: dict[str, str], datehour: str) -> tuple[str, datetime]:
    """Return (hour folder relative to AWSLogs/, window start) for one record."""
    end = datetime.fromtimestamp(int(record["end"]), tz=UTC)
    window = datetime.fromtimestamp(int(record["end"]) // WINDOW_SECONDS * WINDOW_SECONDS, tz=UTC)
    if end.strftime("%Y/%m/%d/%H") != datehour:
        print(
            f"warning: datehour {datehour} disagrees with end {end:%Y-%m-%dT%H:%M:%SZ}; "
            "using datehour for the folder",
            file=sys.stderr,
        )
    folder = f"{ACCOUNT_ID}/vpcflowlogs/{record['region']}/{datehour}"
    return folder, window


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip: mtime 0, no file name in the header, fixed level."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buf.getvalue()


def build() -> list[tuple[str, int]]:
    """Write every object; return (key relative to article/, record count) in key order."""
    groups: dict[tuple[str, str, datetime], list[str]] = defaultdict(list)
    for name in CSV_NAMES:
        for record, datehour in read_records(ATHENA_DIR / name):
            folder, window = object_key(record, datehour)
            flow_log_id = FLOW_LOG_IDS[record["vpc-id"]]
            groups[(folder, flow_log_id, window)].append(" ".join(record[f] for f in FIELDS))

    logs_root = OUT / "AWSLogs"
    if logs_root.exists():
        shutil.rmtree(logs_root)
    written = []
    for (folder, flow_log_id, window), lines in sorted(groups.items()):
        text = "\n".join([HEADER, *lines]) + "\n"
        data = text.encode("utf-8")
        digest = hashlib.sha1(data).hexdigest()[:8]
        region = folder.split("/")[2]
        name = (
            f"{ACCOUNT_ID}_vpcflowlogs_{region}_{flow_log_id}_{window:%Y%m%dT%H%MZ}_{digest}.log.gz"
        )
        path = logs_root / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip_bytes(data))
        written.append((path.relative_to(OUT).as_posix(), len(lines)))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seed",
        type=Path,
        default=DEFAULT_SEED if DEFAULT_SEED.is_dir() else None,
        help="directory holding the article's Athena CSVs with the placeholder account id",
    )
    args = parser.parse_args(argv)
    if args.seed is not None:
        copy_seed_csvs(args.seed)
    for key, count in build():
        print(f"{count:3d} records  article/{key}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
