"""Simulate ECS deployments and write the VPC flow logs AWS would deliver, with ground truth.

The model (tasks over time, their ENIs and flows, the ECS-field mechanics) lives in
:mod:`ecsflow.simulate_model`; this module writes its records window by window as S3 objects
(gzip text with a header line, or Parquet) in any field format of the registry, and writes the
ground truth to ``OUT/truth/``:

``tasks.parquet``
    one row per task: cluster, service, task id and ARN, task definition, launch type, ENI, IP,
    started, stopped, when its ECS fields start, and the ids shown in its two container slots;
``containers.parquet``
    one row per container: task id, container name, runtime id, slot, when it stopped;
``records.parquet``
    one row per delivered record: the record's key (``interface_id, start, srcaddr, dstaddr,
    srcport, dstport, protocol``), ``flow_direction``, ``log_status``, the true tasks at each
    end (``src_task_id``, ``dst_task_id``, null when not an ECS task), the task owning the
    recording ENI, the container that sent the packets, and the true ``peer_kind`` of the
    remote end (``ecs_task``, ``vpc_eni``, ``internet``, ``aws_service``);
``describe-tasks.json``
    the tasks as ``aws ecs describe-tasks`` prints them (``tasks[].containers[].runtimeId``).

Everything is determined by the seed: rerunning writes byte-identical files.

Examples
--------
>>> import tempfile, ecsflow
>>> out = tempfile.mkdtemp()
>>> result = simulate(out, seed=1, records=500)
>>> result.records
500
>>> ecsflow.read_flow_logs(out).height
500
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from ecsflow.fields import FIELD_BY_COLUMN, FIELDS, column_name, format_version, parse_log_format
from ecsflow.simulate_model import (
    EGRESS,
    NODATA,
    OK,
    PEER_KINDS,
    REJECT,
    SKIPDATA,
    Model,
    SimulationParams,
    Window,
    iter_windows,
)

__all__ = [
    "DEFAULT_V7_FORMAT",
    "SimulationParams",
    "SimulationResult",
    "simulate",
]

#: Every field of versions 2 to 7 in registry order: the 29 standard fields and the 10 ECS ones.
DEFAULT_V7_FORMAT = " ".join(
    "${" + f.name + "}" for f in FIELDS if f.version is not None and f.version <= 7
)
MAX_FILE_BYTES = 75 * 1024 * 1024  # AWS starts a new object when one reaches 75 MB
FileFormat = Literal["text", "parquet"]
Layout = Literal["default", "hourly", "hive", "hive-hourly"]
_TRUTH_PART_ROWS = 1_000_000
_PARQUET_TYPES = {"INT_32": pl.Int32, "INT_64": pl.Int64, "STRING": pl.String}


@dataclass(frozen=True)
class SimulationResult:
    """What :func:`simulate` wrote.

    Attributes
    ----------
    out_dir
        The output directory (flow logs under ``AWSLogs/``, ground truth under ``truth/``).
    files
        The flow-log objects, in time order.
    records
        Records written (header lines not counted).
    tasks
        Tasks in the ground truth.
    start, end
        First and last second covered by the records (UTC).
    flow_log_id
        The simulated flow log's id, as in the file names.
    """

    out_dir: Path
    files: tuple[Path, ...]
    records: int
    tasks: int
    start: datetime
    end: datetime
    flow_log_id: str

    @property
    def truth_dir(self) -> Path:
        return self.out_dir / "truth"


def simulate(
    out_dir: str | Path,
    *,
    seed: int = 0,
    records: int = 10_000,
    log_format: str | Sequence[str] = DEFAULT_V7_FORMAT,
    file_format: FileFormat = "text",
    layout: Layout = "default",
    max_file_bytes: int = MAX_FILE_BYTES,
    compresslevel: int = 6,
    params: SimulationParams | None = None,
    **overrides: Any,
) -> SimulationResult:
    """Simulate an ECS deployment and write its flow logs and ground truth to ``out_dir``.

    Parameters
    ----------
    out_dir
        Output directory. Its ``AWSLogs/`` and ``truth/`` subdirectories are replaced.
    seed
        Seed of the numpy generator; the same seed and options give byte-identical output,
        and a run with fewer records is a prefix of a longer one.
    records
        Number of records to write (the simulation stops in the window that reaches it).
    log_format
        Fields to write, as AWS's ``LogFormat`` (``"${version} ${srcaddr} ..."``), a header
        line or a list of names; any subset and order of :data:`ecsflow.fields.FIELDS`.
    file_format
        ``"text"`` (gzip, header line, '-' for missing values) or ``"parquet"`` (AWS's
        Parquet types, nulls for '-').
    layout
        S3 prefix layout: ``"default"`` (``.../YYYY/MM/DD/``), ``"hourly"``, ``"hive"`` or
        ``"hive-hourly"``.
    max_file_bytes
        Largest object size; a 5-minute window that exceeds it is split into several objects.
    compresslevel
        gzip level of text objects (1 fastest, 9 smallest).
    params
        Deployment sizes and rates; see :class:`SimulationParams`.
    **overrides
        Fields of :class:`SimulationParams` to change, e.g. ``p_empty_slot=0.5``.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ValueError
        For an unknown field or parameter, a negative rate, a probability above 1, more tasks
        than subnet addresses, and the like.

    Examples
    --------
    >>> import tempfile, polars as pl
    >>> out = tempfile.mkdtemp()
    >>> r = simulate(out, seed=3, records=300, file_format="parquet", p_ecs_delay=0.0)
    >>> pl.read_parquet(r.truth_dir / "records.parquet").height
    300
    """
    names = _check_options(records, log_format, file_format, layout, max_file_bytes, compresslevel)
    params = _params(params, overrides)
    out = Path(out_dir)
    for sub in ("AWSLogs", "truth"):
        shutil.rmtree(out / sub, ignore_errors=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)

    model = Model(params, seed)
    dims = _Dims(model)
    writer = _TruthWriter(out / "truth")
    files: list[Path] = []
    written = 0
    first = last = None
    for window in iter_windows(model):
        if window.size == 0:
            continue
        if written + window.size > records:
            keep = records - written
            window = Window(window.start, {k: v[:keep] for k, v in window.arrays.items()})
        frame = _frame(window, names, dims, parquet=file_format == "parquet")
        files += _write_window(
            frame,
            window.start,
            out,
            model,
            names,
            file_format,
            layout,
            max_file_bytes,
            compresslevel,
        )
        writer.add(_truth_frame(window, dims))
        written += window.size
        lo, hi = int(window.arrays["start"].min()), int(window.arrays["end"].max())
        first = lo if first is None else min(first, lo)
        last = hi if last is None else max(last, hi)
        if written >= records:
            break
    writer.close()
    end = last + 1
    n_tasks = _write_task_truth(model, dims, out / "truth", end)
    return SimulationResult(
        out_dir=out,
        files=tuple(files),
        records=written,
        tasks=n_tasks,
        start=datetime.fromtimestamp(first, UTC),
        end=datetime.fromtimestamp(last, UTC),
        flow_log_id=model.flow_log_id,
    )


def _check_options(records, log_format, file_format, layout, max_file_bytes, compresslevel):
    if isinstance(records, bool) or not isinstance(records, int | np.integer) or records < 1:
        raise ValueError(f"records must be a positive integer, got {records!r}")
    if file_format not in ("text", "parquet"):
        raise ValueError(f"file_format must be 'text' or 'parquet', got {file_format!r}")
    if layout not in ("default", "hourly", "hive", "hive-hourly"):
        raise ValueError(
            f"layout must be 'default', 'hourly', 'hive' or 'hive-hourly', got {layout!r}"
        )
    if max_file_bytes < 1024:
        raise ValueError(f"max_file_bytes must be at least 1024, got {max_file_bytes}")
    if not 0 <= compresslevel <= 9:
        raise ValueError(f"compresslevel must be in [0, 9], got {compresslevel}")
    names = parse_log_format(log_format)
    unknown = [n for n in names if column_name(n) not in FIELD_BY_COLUMN]
    if unknown:
        raise ValueError(f"unknown flow-log fields {unknown}; see ecsflow.fields.FIELDS")
    columns = [column_name(n) for n in names]
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise ValueError(f"fields listed twice in log_format: {dupes}")
    return [FIELD_BY_COLUMN[c].name for c in columns]


def _params(params: SimulationParams | None, overrides: dict[str, Any]) -> SimulationParams:
    base = params if params is not None else SimulationParams()
    known = {f.name for f in dataclasses.fields(SimulationParams)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(
            f"unknown simulation parameters {unknown}; valid ones: {', '.join(sorted(known))}"
        )
    return dataclasses.replace(base, **overrides) if overrides else base


# --------------------------------------------------------------------------------------------
# Dimension tables: strings per ENI and per task, rebuilt only when the model grows.


class _Dims:
    def __init__(self, model: Model) -> None:
        self.m = model
        self._n_enis = self._n_tasks = -1

    def refresh(self) -> None:
        m = self.m
        if len(m.enis) != self._n_enis:
            self._n_enis = len(m.enis)
            # A trailing null lets index -1 (not an ENI / not a task) gather a null.
            self.eni = {
                "interface_id": [e.eni_id for e in m.enis],
                "subnet_id": [m.subnets[e.subnet][0] for e in m.enis],
                "az_id": [m.subnets[e.subnet][1] for e in m.enis],
                "instance_id": [e.instance_id for e in m.enis],
            }
            self.eni = {k: pl.Series(k, [*v, None], pl.String) for k, v in self.eni.items()}
        if len(m.tasks) != self._n_tasks:
            self._n_tasks = len(m.tasks)
            self.task = {
                k: pl.Series(k, [*v, None], pl.String) for k, v in _task_strings(m).items()
            }

    def eni_col(self, name: str, idx: np.ndarray) -> pl.Series:
        self.refresh()
        return self.eni[name].gather(np.where(idx < 0, self._n_enis, idx))

    def task_col(self, name: str, idx: np.ndarray) -> pl.Series:
        self.refresh()
        return self.task[name].gather(np.where(idx < 0, self._n_tasks, idx))


def _arn(m: Model, kind: str, rest: str) -> str:
    return f"arn:aws:ecs:{m.p.region}:{m.p.account_id}:{kind}/{rest}"


def _task_strings(m: Model) -> dict[str, list[str | None]]:
    out: dict[str, list[str | None]] = {
        k: []
        for k in [
            "ecs_cluster_arn",
            "ecs_cluster_name",
            "ecs_container_instance_arn",
            "ecs_container_instance_id",
            "ecs_container_id",
            "ecs_second_container_id",
            "ecs_service_name",
            "ecs_task_definition_arn",
            "ecs_task_arn",
            "ecs_task_id",
        ]
    }
    for t in m.tasks:
        c = m.clusters[t.cluster]
        ci = c.hosts[t.host][0] if t.host >= 0 else None
        out["ecs_cluster_arn"].append(_arn(m, "cluster", c.name))
        out["ecs_cluster_name"].append(c.name)
        out["ecs_container_instance_arn"].append(
            _arn(m, "container-instance", f"{c.name}/{ci}") if ci else None
        )
        out["ecs_container_instance_id"].append(ci)
        for col, slot in zip(("ecs_container_id", "ecs_second_container_id"), t.slots, strict=True):
            out[col].append(t.runtime_ids[slot] if slot >= 0 else None)
        out["ecs_service_name"].append(m.services[t.service].name if t.service >= 0 else None)
        out["ecs_task_definition_arn"].append(
            _arn(m, "task-definition", f"{t.family}:{t.revision}")
        )
        out["ecs_task_arn"].append(_arn(m, "task", f"{c.name}/{t.task_id}"))
        out["ecs_task_id"].append(t.task_id)
    return out


def _ip_strings(ips: np.ndarray) -> pl.Series:
    """Dotted quads of uint32 addresses; 0 means '-'."""
    uniq, inverse = np.unique(ips, return_inverse=True)
    text = [
        None if v == 0 else f"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}"
        for v in uniq.tolist()
    ]
    return pl.Series(text, dtype=pl.String).gather(inverse.ravel())


def _nullable(values: np.ndarray, valid: np.ndarray, dtype: pl.DataType) -> pl.Series:
    s = pl.Series(values).cast(dtype)
    return s if valid.all() else pl.select(pl.when(pl.lit(valid)).then(pl.lit(s))).to_series()


def _strings(codes: np.ndarray, table: dict[int, str]) -> pl.Series:
    labels = [table.get(i) for i in range(max(table) + 2)]
    return pl.Series(labels, dtype=pl.String).gather(np.where(codes < 0, len(labels) - 1, codes))


def _column(name: str, a: dict[str, np.ndarray], dims: _Dims, version: int) -> pl.Series:
    """One field of the records, with AWS's Parquet type and nulls for '-'."""
    n = len(a["eni"])
    ok = a["status"] == OK
    col = column_name(name)
    ecs = col.startswith("ecs_")
    if ecs:
        return dims.task_col(col, a["meta"])
    match col:
        case "version":
            return pl.Series(np.full(n, version, np.int32))
        case "account_id":
            return pl.Series([dims.m.p.account_id], dtype=pl.String).gather(np.zeros(n, np.int64))
        case "interface_id" | "subnet_id" | "az_id" | "instance_id":
            return dims.eni_col(col, a["eni"])
        case "srcaddr" | "dstaddr" | "pkt_srcaddr" | "pkt_dstaddr":
            key = {"srcaddr": "src_ip", "dstaddr": "dst_ip"}.get(col, col.replace("addr", "_ip"))
            return _ip_strings(a[key])
        case "srcport" | "dstport" | "protocol" | "tcp_flags":
            return _nullable(a[col], ok, pl.Int32)
        case "packets" | "bytes":
            return _nullable(a[col], ok, pl.Int64)
        case "start" | "end":
            return pl.Series(a[col], dtype=pl.Int64)
        case "action":
            return _strings(np.where(ok, a["action"], -1), {0: "ACCEPT", REJECT: "REJECT"})
        case "log_status":
            return _strings(a["status"], {OK: "OK", NODATA: "NODATA", SKIPDATA: "SKIPDATA"})
        case "vpc_id":
            return pl.Series([dims.m.vpc_id], dtype=pl.String).gather(np.zeros(n, np.int64))
        case "region":
            return pl.Series([dims.m.p.region], dtype=pl.String).gather(np.zeros(n, np.int64))
        case "type":
            return _strings(np.where(ok, 0, -1), {0: "IPv4"})
        case "pkt_src_aws_service" | "pkt_dst_aws_service":
            key = "pkt_src_svc" if "src" in col else "pkt_dst_svc"
            return _strings(np.where(a[key] > 0, 0, -1), {0: "S3"})
        case "flow_direction":
            return _strings(np.where(ok, a["direction"], -1), {0: "ingress", EGRESS: "egress"})
        case "traffic_path":
            valid = ok & (a["direction"] == EGRESS) & (a["traffic_path"] > 0)
            return _nullable(a["traffic_path"], valid, pl.Int32)
    # Fields the model does not produce (sublocation, reject-reason for BPA, resource-id,
    # encryption-status) are '-', as AWS writes them when they do not apply.
    dtype = _PARQUET_TYPES[FIELD_BY_COLUMN[col].parquet]
    return pl.Series([None], dtype=dtype).gather(np.zeros(n, np.int64))


def _frame(window: Window, names: list[str], dims: _Dims, *, parquet: bool) -> pl.DataFrame:
    version = format_version(names)
    cols = []
    for name in names:
        s = _column(name, window.arrays, dims, version)
        cols.append(s.alias(column_name(name) if parquet else name))
    return pl.DataFrame(cols)


# --------------------------------------------------------------------------------------------
# Writing objects


def _prefix(out: Path, m: Model, when: datetime, layout: str) -> Path:
    acct, region = m.p.account_id, m.p.region
    if layout.startswith("hive"):
        p = out / "AWSLogs" / f"aws-account-id={acct}" / "aws-service=vpcflowlogs"
        p = p / f"aws-region={region}" / f"year={when:%Y}" / f"month={when:%m}" / f"day={when:%d}"
        return p / f"hour={when:%H}" if layout == "hive-hourly" else p
    p = out / "AWSLogs" / acct / "vpcflowlogs" / region / f"{when:%Y}" / f"{when:%m}" / f"{when:%d}"
    return p / f"{when:%H}" if layout == "hourly" else p


def _encode(frame: pl.DataFrame, file_format: str, compresslevel: int) -> tuple[bytes, str]:
    """The object's bytes, and the 8-hex hash in its name (SHA-1 of the content)."""
    if file_format == "parquet":
        buf = io.BytesIO()
        frame.write_parquet(buf, compression="snappy", statistics=False)
        data = buf.getvalue()
        return data, hashlib.sha1(data).hexdigest()[:8]
    buf = io.BytesIO()
    buf.write((" ".join(frame.columns) + "\n").encode())
    frame.write_csv(buf, include_header=False, separator=" ", null_value="-", quote_style="never")
    text = buf.getvalue()
    return gzip.compress(text, compresslevel=compresslevel, mtime=0), hashlib.sha1(
        text
    ).hexdigest()[:8]


def _write_window(frame, start, out, m, names, file_format, layout, max_bytes, level) -> list[Path]:
    when = datetime.fromtimestamp(start, UTC)
    folder = _prefix(out, m, when, layout)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".log.parquet" if file_format == "parquet" else ".log.gz"
    stem = f"{m.p.account_id}_vpcflowlogs_{m.p.region}_{m.flow_log_id}_{when:%Y%m%dT%H%MZ}"
    paths = []
    pending = [frame]
    while pending:
        part = pending.pop(0)
        data, digest = _encode(part, file_format, level)
        if len(data) > max_bytes and part.height > 1:
            half = part.height // 2
            pending[:0] = [part.slice(0, half), part.slice(half)]
            continue
        path = folder / f"{stem}_{digest}{suffix}"
        path.write_bytes(data)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------------------------
# Ground truth


def _truth_frame(window: Window, dims: _Dims) -> pl.DataFrame:
    a = window.arrays
    ok = a["status"] == OK
    m = dims.m
    names = pl.Series([*m.container_names, None], dtype=pl.String)
    dims.refresh()
    task_id = dims.task["ecs_task_id"]
    n_tasks = len(m.tasks)

    def tid(idx: np.ndarray) -> pl.Series:
        return task_id.gather(np.where(idx < 0, n_tasks, idx))

    return pl.DataFrame(
        [
            dims.eni_col("interface_id", a["eni"]),
            pl.from_epoch(pl.Series("start", a["start"]), time_unit="s").cast(
                pl.Datetime("us", "UTC")
            ),
            _ip_strings(a["src_ip"]).alias("srcaddr"),
            _ip_strings(a["dst_ip"]).alias("dstaddr"),
            _nullable(a["srcport"], ok, pl.Int32).alias("srcport"),
            _nullable(a["dstport"], ok, pl.Int32).alias("dstport"),
            _nullable(a["protocol"], ok, pl.Int32).alias("protocol"),
            _strings(np.where(ok, a["direction"], -1), {0: "ingress", EGRESS: "egress"}).alias(
                "flow_direction"
            ),
            _strings(a["status"], {OK: "OK", NODATA: "NODATA", SKIPDATA: "SKIPDATA"}).alias(
                "log_status"
            ),
            tid(a["rec_task"]).alias("interface_task_id"),
            tid(a["src_task"]).alias("src_task_id"),
            tid(a["dst_task"]).alias("dst_task_id"),
            names.gather(
                np.where(a["src_container"] < 0, len(names) - 1, a["src_container"])
            ).alias("src_container_name"),
            _strings(a["peer"], dict(enumerate(PEER_KINDS))).alias("peer_kind"),
            pl.Series("ecs_fields", a["meta"] >= 0),
        ]
    )


class _TruthWriter:
    """Collects truth rows and spills them to Parquet parts so memory stays bounded."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.frames: list[pl.DataFrame] = []
        self.rows = 0
        self.parts: list[Path] = []

    def add(self, frame: pl.DataFrame) -> None:
        self.frames.append(frame)
        self.rows += frame.height
        if self.rows >= _TRUTH_PART_ROWS:
            self._spill()

    def _spill(self) -> None:
        if not self.frames:
            return
        path = self.folder / f".records-part-{len(self.parts):05d}.parquet"
        pl.concat(self.frames).write_parquet(path)
        self.parts.append(path)
        self.frames, self.rows = [], 0

    def close(self) -> None:
        target = self.folder / "records.parquet"
        if not self.parts:
            pl.concat(self.frames).write_parquet(target)
            return
        self._spill()
        pl.scan_parquet(self.parts).sink_parquet(target)
        for p in self.parts:
            p.unlink()


def _ts(t: int | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


def _write_task_truth(m: Model, dims: _Dims, folder: Path, end: int) -> int:
    strings = _task_strings(m)
    rows, containers, described = [], [], []
    for i, t in enumerate(m.tasks):
        if t.started >= end:
            continue  # scheduled by the model but not started within the simulated time
        c = m.clusters[t.cluster]
        e = m.enis[t.eni]
        stopped = t.stopped if t.stopped is not None and t.stopped < end else None
        ip = f"{e.ip >> 24}.{(e.ip >> 16) & 255}.{(e.ip >> 8) & 255}.{e.ip & 255}"
        service = m.services[t.service].name if t.service >= 0 else None
        rows.append(
            {
                "cluster": c.name,
                "service": service,
                "task_id": t.task_id,
                "task_arn": strings["ecs_task_arn"][i],
                "task_definition_arn": strings["ecs_task_definition_arn"][i],
                "launch_type": "EC2" if c.ec2 else "FARGATE",
                "container_instance_id": strings["ecs_container_instance_id"][i],
                "interface_id": e.eni_id,
                "private_ip": ip,
                "subnet_id": m.subnets[e.subnet][0],
                "started": _ts(t.started),
                "stopped": _ts(stopped),
                "ecs_fields_from": _ts(t.ecs_from),
                "ecs_container_id": strings["ecs_container_id"][i],
                "ecs_second_container_id": strings["ecs_second_container_id"][i],
            }
        )
        for k, (name, rid) in enumerate(zip(t.containers, t.runtime_ids, strict=True)):
            gone = t.stopped_container_at if k == t.stopped_container else None
            if gone is not None and gone >= end:
                gone = None
            containers.append(
                {
                    "task_id": t.task_id,
                    "container_name": name,
                    "definition_index": k,
                    "runtime_id": rid,
                    "slot": (t.slots.index(k) + 1) if k in t.slots else None,
                    "stopped": _ts(gone),
                }
            )
        described.append(_describe(m, t, strings, i, stopped, end))
    ts = pl.Datetime("us", "UTC")
    pl.DataFrame(
        rows,
        schema={
            "cluster": pl.String,
            "service": pl.String,
            "task_id": pl.String,
            "task_arn": pl.String,
            "task_definition_arn": pl.String,
            "launch_type": pl.String,
            "container_instance_id": pl.String,
            "interface_id": pl.String,
            "private_ip": pl.String,
            "subnet_id": pl.String,
            "started": ts,
            "stopped": ts,
            "ecs_fields_from": ts,
            "ecs_container_id": pl.String,
            "ecs_second_container_id": pl.String,
        },
    ).write_parquet(folder / "tasks.parquet")
    pl.DataFrame(
        containers,
        schema={
            "task_id": pl.String,
            "container_name": pl.String,
            "definition_index": pl.Int8,
            "runtime_id": pl.String,
            "slot": pl.Int8,
            "stopped": ts,
        },
    ).write_parquet(folder / "containers.parquet")
    doc = {"tasks": described, "failures": []}
    (folder / "describe-tasks.json").write_text(json.dumps(doc, indent=4) + "\n")
    return len(rows)


def _iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="microseconds")


def _describe(m: Model, t, strings, i: int, stopped: int | None, end: int) -> dict[str, Any]:
    """One task as ``aws ecs describe-tasks`` prints it (the fields ecsflow uses, and more)."""
    c = m.clusters[t.cluster]
    e = m.enis[t.eni]
    ip = f"{e.ip >> 24}.{(e.ip >> 16) & 255}.{(e.ip >> 8) & 255}.{e.ip & 255}"
    status = "STOPPED" if stopped is not None else "RUNNING"
    attachment = f"{t.task_id[:8]}-{t.task_id[8:12]}-{t.task_id[12:16]}-{t.task_id[16:20]}-eni0"
    containers = []
    for k, (name, rid) in enumerate(zip(t.containers, t.runtime_ids, strict=True)):
        gone = t.stopped_container_at if k == t.stopped_container else None
        containers.append(
            {
                "containerArn": _arn(m, "container", f"{c.name}/{t.task_id}/{name}"),
                "taskArn": strings["ecs_task_arn"][i],
                "name": name,
                "image": f"{m.p.account_id}.dkr.ecr.{m.p.region}.amazonaws.com/{name}:latest",
                "runtimeId": rid,
                "lastStatus": "STOPPED" if stopped is not None or (gone and gone < end) else status,
                "networkInterfaces": [{"attachmentId": attachment, "privateIpv4Address": ip}],
                "essential": k != t.stopped_container,
            }
        )
    task: dict[str, Any] = {
        "attachments": [
            {
                "id": attachment,
                "type": "ElasticNetworkInterface",
                "status": "DELETED" if stopped is not None else "ATTACHED",
                "details": [
                    {"name": "subnetId", "value": m.subnets[e.subnet][0]},
                    {"name": "networkInterfaceId", "value": e.eni_id},
                    {"name": "privateIPv4Address", "value": ip},
                ],
            }
        ],
        "availabilityZone": m.subnets[e.subnet][1],
        "clusterArn": strings["ecs_cluster_arn"][i],
        "containers": containers,
        "desiredStatus": status,
        "group": f"service:{strings['ecs_service_name'][i]}"
        if t.service >= 0
        else f"family:{t.family}",
        "lastStatus": status,
        "launchType": "EC2" if c.ec2 else "FARGATE",
        "startedAt": _iso(t.started),
        "taskArn": strings["ecs_task_arn"][i],
        "taskDefinitionArn": strings["ecs_task_definition_arn"][i],
    }
    if t.host >= 0:
        task["containerInstanceArn"] = strings["ecs_container_instance_arn"][i]
    if stopped is not None:
        task["stoppedAt"] = _iso(stopped)
    return task
