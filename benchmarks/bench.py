"""ecsflow against named baselines, on the same simulated files, in one run (issue 9).

Usage::

    .venv/bin/python benchmarks/bench.py [--data DIR] [--records N] [--single N] [--files N]
                                         [--only CASE ...] [--skip CASE ...] [--json OUT]

It first makes its data with the simulator (kept under ``--data``, default
``benchmarks/data/bench``, and reused when present):

``sim-text/``
    ``ecsflow simulate --seed 1 --records N`` (default 5 M): gzip text, every v2-v7 field;
``single.log.gz`` / ``single.log``
    the first ``--single`` records (default 1 M) of it as one gzip file with one header line
    (zlib level 6), and the same text uncompressed (the parse limit, without inflating);
``many/part-NN.log.gz``
    all N records in ``--files`` (default 10) gzip files of equal record counts;
``sim-parquet/``
    ``ecsflow simulate --seed 1 --records SINGLE --format parquet`` (AWS's Parquet delivery,
    one object per 5-minute window), and ``single.log.parquet``, the same rows in one file.

Then every case runs in its own process, one at a time (``run.measure``: wall time, CPU time,
peak RSS from ``wait4``), and the script prints one Markdown table, the ratios and a PASS/FAIL
line per target of issue 9. The wall time is the timed section inside the process (imports
excluded); CPU seconds are the timed section's too (``getrusage``, all threads); peak RSS is the
whole process's. ``igzip`` (Debian package ``isal``) is timed as a process.

The case functions (``case_*``) return ``{"rows": ..., "bytes": ...}`` so that
``tests/test_benchmarks.py`` can check, on a tiny deployment, that every baseline reads the same
records and the same total bytes as ecsflow.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import GRAPH_COLUMNS, measure

ROOT = Path(__file__).resolve().parent
DEFAULT_DATA = ROOT / "data" / "bench"

#: The edge aggregation behind the service graphs: its key and measures.
EDGE_KEY = ["interface_id", "srcaddr", "dstaddr", "dstport", "protocol"]
EDGE_COLUMNS = [*EDGE_KEY, "start", "bytes", "packets"]  # 8 columns

INT32 = {"version", "srcport", "dstport", "protocol", "tcp_flags", "traffic_path"}
INT64 = {"packets", "bytes", "start", "end"}
MS_EPOCH = 10**11  # ecsflow.fields.MILLISECOND_EPOCH_THRESHOLD


# --------------------------------------------------------------------------------------------
# Data


def _header_and_body(path: Path) -> tuple[bytes, bytes]:
    from isal import igzip

    text = igzip.decompress(path.read_bytes())
    header, _, body = text.partition(b"\n")
    return header, body.rstrip(b"\n")


class _GzipParts:
    """Write record lines into gzip files of ``per_file`` records each, one header each."""

    def __init__(self, paths: list[Path], header: bytes, per_file: int, plain: Path | None):
        self.paths, self.header, self.per_file = paths, header, per_file
        self.plain = plain.open("wb") if plain else None
        self.index, self.count, self.out, self.comp = -1, 0, None, None
        self._next()

    def _next(self) -> None:
        self._close()
        self.index += 1
        self.count = 0
        if self.index < len(self.paths):
            self.out = self.paths[self.index].open("wb")
            self.comp = zlib.compressobj(6, zlib.DEFLATED, 31)
            self._emit(self.header + b"\n")

    def _emit(self, data: bytes) -> None:
        self.out.write(self.comp.compress(data))
        if self.plain is not None and self.index == 0:
            self.plain.write(data)

    def _close(self) -> None:
        if self.out is not None:
            self.out.write(self.comp.flush())
            self.out.close()
            self.out = None

    def write(self, lines: list[bytes]) -> None:
        while lines and self.index < len(self.paths):
            take = lines[: self.per_file - self.count]
            lines = lines[len(take) :]
            self._emit(b"\n".join(take) + b"\n")
            self.count += len(take)
            if self.count == self.per_file:
                self._next()

    def close(self) -> None:
        self._close()
        if self.plain is not None:
            self.plain.close()


def _text_objects(sim: Path) -> list[Path]:
    # AWS's names sort in time order within the default layout (YYYY/MM/DD/..._YYYYMMDDTHHMMZ_).
    return sorted(sim.rglob("*.log.gz"))


def _simulate(out: Path, records: int, fmt: str) -> None:
    import polars as pl

    from ecsflow.simulate import simulate

    truth = out / "truth" / "records.parquet"
    if truth.exists() and pl.scan_parquet(truth).select(pl.len()).collect().item() == records:
        return  # made earlier (same seed and count: the same bytes)
    simulate(out, seed=1, records=records, file_format=fmt)


def make_data(root: Path, *, records: int, single: int, files: int) -> dict:
    """Simulate and lay out the benchmark files (reused if ``meta.json`` matches)."""
    root.mkdir(parents=True, exist_ok=True)
    meta_path = root / "meta.json"
    want = {"records": records, "single": single, "files": files}
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if {k: meta.get(k) for k in want} == want:
            return meta
    t0 = time.perf_counter()
    _simulate(root / "sim-text", records, "text")
    sim_text_s = time.perf_counter() - t0
    objects = _text_objects(root / "sim-text")
    header = _header_and_body(objects[0])[0]

    many = root / "many"
    shutil.rmtree(many, ignore_errors=True)
    many.mkdir()
    per_file = -(-records // files)
    parts = [many / f"part-{i:02d}.log.gz" for i in range(files)]
    single_gz, single_plain = root / "single.log.gz", root / "single.log"
    # One pass writes the many-file set; the single file is written alongside from the same
    # lines (the first `single` records), with its plain-text twin.
    many_w = _GzipParts(parts, header, per_file, None)
    single_w = _GzipParts([single_gz], header, single, single_plain)
    for obj in objects:
        h, body = _header_and_body(obj)
        assert h == header, f"{obj}: another format"
        lines = body.split(b"\n")
        many_w.write(lines)
        single_w.write(lines)
    many_w.close()
    single_w.close()

    import polars as pl

    _simulate(root / "sim-parquet", single, "parquet")
    pq_files = sorted((root / "sim-parquet").rglob("*.log.parquet"))
    pl.scan_parquet(pq_files).sink_parquet(root / "single.log.parquet")

    meta = {
        **want,
        "sim_text_s": sim_text_s,
        "sim_objects": len(objects),
        "single_gz_bytes": single_gz.stat().st_size,
        "single_text_bytes": single_plain.stat().st_size,
        "many_gz_bytes": sum(p.stat().st_size for p in parts),
        "many_text_bytes": None,  # filled below
        "parquet_objects": len(pq_files),
        "parquet_bytes": sum(p.stat().st_size for p in pq_files),
        "single_parquet_bytes": (root / "single.log.parquet").stat().st_size,
    }
    meta["many_text_bytes"] = sum(_gunzip_size(p) for p in parts)
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta


def _gunzip_size(path: Path) -> int:
    from isal import igzip

    n = 0
    with igzip.open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            n += len(chunk)
    return n


def paths(root: Path) -> dict[str, str]:
    return {
        "single": str(root / "single.log.gz"),
        "single_plain": str(root / "single.log"),
        "many_dir": str(root / "many"),
        "many_glob": str(root / "many" / "*.log.gz"),
        "parquet_dir": str(root / "sim-parquet" / "AWSLogs"),
        "parquet_glob": str(root / "sim-parquet" / "AWSLogs" / "**" / "*.log.parquet"),
        "parquet_single": str(root / "single.log.parquet"),
        "sim_out": str(root / "sim-run"),
    }


# --------------------------------------------------------------------------------------------
# Cases: each returns {"rows": records, "bytes": sum of the bytes column (or None)}.


def _total(df, column: str = "bytes") -> int:
    return int(df[column].cast(int_dtype(), strict=False).sum())


def int_dtype():
    import polars as pl

    return pl.Int64


def _count_lines(read: Callable[[int], bytes]) -> int:
    lines, last = 0, b"\n"
    while chunk := read(1 << 20):
        lines += chunk.count(b"\n")
        last = chunk[-1:]
    return lines + (last != b"\n")


def case_floor_isal(p: dict, n: int | None = None) -> dict:
    """python-isal: inflate the file in 1 MiB reads and count lines."""
    from isal import igzip

    with igzip.open(p["single"], "rb") as f:
        return {"rows": _count_lines(f.read) - 1, "bytes": None}


def case_floor_zlib(p: dict, n: int | None = None) -> dict:
    """zlib (the standard library's gzip module)."""
    with gzip.open(p["single"], "rb") as f:
        return {"rows": _count_lines(f.read) - 1, "bytes": None}


def case_polars_bare(p: dict, n: int | None = None) -> dict:
    """polars' own read of the gzip file: all strings, no cleaning."""
    import polars as pl

    df = pl.read_csv(p["single"], separator=" ", infer_schema=False)
    return {"rows": df.height, "bytes": _total(df)}


def case_polars_bare_plain(p: dict, n: int | None = None) -> dict:
    """polars' own read of the same text uncompressed: the parse limit."""
    import polars as pl

    df = pl.read_csv(p["single_plain"], separator=" ", infer_schema=False)
    return {"rows": df.height, "bytes": _total(df)}


def case_polars_bare_graph(p: dict, n: int | None = None) -> dict:
    """polars' bare read of the 23 graph columns only."""
    import polars as pl

    cols = [c.replace("_", "-") for c in GRAPH_COLUMNS]
    df = pl.read_csv(p["single"], separator=" ", infer_schema=False, columns=cols)
    return {"rows": df.height, "bytes": _total(df)}


def case_ecsflow_full(p: dict, n: int | None = None) -> dict:
    import ecsflow

    df = ecsflow.read_flow_logs(p["single"])
    return {"rows": df.height, "bytes": _total(df), "columns": df.width}


def case_ecsflow_graph23(p: dict, n: int | None = None) -> dict:
    import ecsflow

    df = ecsflow.read_flow_logs(p["single"], columns=GRAPH_COLUMNS)
    return {"rows": df.height, "bytes": _total(df), "columns": df.width}


def case_ecsflow_edge8(p: dict, n: int | None = None) -> dict:
    import ecsflow

    df = ecsflow.read_flow_logs(p["single"], columns=EDGE_COLUMNS)
    return {"rows": df.height, "bytes": _total(df), "columns": df.width}


# DuckDB: the same types, the same null rule ('-' -> NULL) and the same cleaning as ecsflow:
# UTC timestamps (millisecond epochs recognised), decoded protocol / traffic path / TCP flags,
# and the task id and suffix of Fargate container ids.
_SQL_TYPES = {"INT_32": "INTEGER", "INT_64": "BIGINT", "STRING": "VARCHAR"}


def _duck_types() -> dict[str, str]:
    """The simulator's format, in its order (read_csv maps columns by position), typed from
    the field registry: the same AWS Parquet types the loader uses. Imported here, in the
    case's own process, so that the driver stays small (a child's peak RSS counts it)."""
    from ecsflow.fields import FIELD_BY_NAME, parse_log_format
    from ecsflow.simulate import DEFAULT_V7_FORMAT

    return {
        name: _SQL_TYPES[FIELD_BY_NAME[name].parquet]
        for name in parse_log_format(DEFAULT_V7_FORMAT)
    }


def _duck_read(source: str, columns: list[str] | None = None) -> str:
    types = _duck_types()
    cols = ", ".join(f"'{k}': '{v}'" for k, v in types.items())
    return (
        f"read_csv('{source}', delim=' ', header=true, quote='', escape='', nullstr='-', "
        f"auto_detect=false, columns={{{cols}}})"
    )


def _duck_time(col: str) -> str:
    return (
        f'CASE WHEN "{col}" >= {MS_EPOCH} THEN make_timestamptz("{col}" * 1000) '
        f'ELSE make_timestamptz("{col}" * 1000000) END'
    )


def duckdb_clean_sql(source: str) -> str:
    """The DuckDB query that reproduces ecsflow's cleaned frame from text files."""
    from ecsflow.fields import PROTOCOL_NAMES, TRAFFIC_PATHS

    def case(col: str, codes: dict[int, str]) -> str:
        whens = " ".join(f"WHEN {k} THEN '{v}'" for k, v in codes.items())
        return f'CASE "{col}" {whens} END'

    plain = [
        f'{_duck_time(c)} AS "{c}"' if c in ("start", "end") else f'"{c}" AS {c.replace("-", "_")}'
        for c in _duck_types()
    ]
    flags = (
        "list_filter([CASE WHEN \"tcp-flags\" & 1 != 0 THEN 'FIN' END, "
        "CASE WHEN \"tcp-flags\" & 18 = 18 THEN 'SYN-ACK' "
        "WHEN \"tcp-flags\" & 2 != 0 THEN 'SYN' END, "
        "CASE WHEN \"tcp-flags\" & 4 != 0 THEN 'RST' END, "
        "CASE WHEN \"tcp-flags\" & 8 != 0 THEN 'PSH' END, "
        'CASE WHEN "tcp-flags" & 16 != 0 AND "tcp-flags" & 18 != 18 THEN \'ACK\' END, '
        "CASE WHEN \"tcp-flags\" & 32 != 0 THEN 'URG' END], lambda x: x IS NOT NULL)"
    )
    fargate = r"'^([0-9a-f]{32})-(\d+)$'"
    derived = [
        f"{case('protocol', PROTOCOL_NAMES)} AS protocol_name",
        f"{case('traffic-path', TRAFFIC_PATHS)} AS traffic_path_name",
        f'CASE WHEN "tcp-flags" IS NOT NULL THEN {flags} END AS tcp_flag_names',
    ]
    for col in ("ecs-container-id", "ecs-second-container-id"):
        snake = col.replace("-", "_")
        derived += [
            f"nullif(regexp_extract(\"{col}\", {fargate}, 1), '') AS {snake}_task_id",
            f"TRY_CAST(nullif(regexp_extract(\"{col}\", {fargate}, 2), '') AS BIGINT) "
            f"AS {snake}_suffix",
        ]
    select = ",\n  ".join([*plain, *derived])
    return f"SELECT\n  {select}\nFROM {_duck_read(source)}"


def _duck():
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def _duck_load(source: str) -> dict:
    con = _duck()
    con.execute(f"CREATE TABLE flows AS {duckdb_clean_sql(source)}")
    rows, total = con.execute("SELECT count(*), sum(bytes) FROM flows").fetchone()
    return {"rows": rows, "bytes": int(total)}


def case_duckdb_clean(p: dict, n: int | None = None) -> dict:
    """DuckDB read_csv with the same types, null rule and cleaning, into a table."""
    return _duck_load(p["single"])


def case_pandas_pyarrow(p: dict, n: int | None = None) -> dict:
    """pandas read_csv, pyarrow engine, '-' as null, pyarrow dtypes, UTC times."""
    import pandas as pd

    df = pd.read_csv(
        p["single"],
        sep=" ",
        engine="pyarrow",
        na_values=["-"],
        keep_default_na=False,
        dtype_backend="pyarrow",
    )
    for col in ("start", "end"):
        df[col] = pd.to_datetime(df[col], unit="s", utc=True)
    return {"rows": len(df), "bytes": int(df["bytes"].sum())}


def case_python_lines(p: dict, n: int | None = None) -> dict:
    """A pure-Python parser in the style of flowlogs-reader: gzip + split + dict per record."""
    from datetime import UTC, datetime

    ints = {c.replace("_", "-") for c in INT32 | INT64}
    rows = total = 0
    with gzip.open(p["single"], "rt") as f:
        names = f.readline().split()
        for line in f:
            rec = {}
            for k, v in zip(names, line.split(), strict=True):
                if v == "-":
                    rec[k] = None
                elif k in ints:
                    rec[k] = int(v)
                else:
                    rec[k] = v
            rec["start"] = datetime.fromtimestamp(rec["start"], UTC)
            rec["end"] = datetime.fromtimestamp(rec["end"], UTC)
            rows += 1
            total += rec["bytes"] or 0
    return {"rows": rows, "bytes": total}


# Parquet


def case_ecsflow_parquet(p: dict, n: int | None = None) -> dict:
    """ecsflow on the Parquet delivery (one object per 5-minute window)."""
    import ecsflow

    df = ecsflow.read_flow_logs(p["parquet_dir"])
    return {"rows": df.height, "bytes": _total(df), "columns": df.width}


def case_ecsflow_parquet_1file(p: dict, n: int | None = None) -> dict:
    """ecsflow on the same rows in one Parquet file."""
    import ecsflow

    df = ecsflow.read_flow_logs(p["parquet_single"])
    return {"rows": df.height, "bytes": _total(df), "columns": df.width}


def case_polars_parquet(p: dict, n: int | None = None) -> dict:
    """polars' bare read of the Parquet delivery (AWS types, no cleaning)."""
    import polars as pl

    df = pl.read_parquet(p["parquet_glob"])
    return {"rows": df.height, "bytes": _total(df)}


def case_duckdb_parquet(p: dict, n: int | None = None) -> dict:
    """DuckDB read_parquet of the delivery into a table, times converted."""
    con = _duck()
    src = p["parquet_glob"]
    con.execute(
        f"CREATE TABLE flows AS SELECT * REPLACE ({_duck_time('start')} AS start, "
        f"{_duck_time('end')} AS \"end\") FROM read_parquet('{src}')"
    )
    rows, total = con.execute("SELECT count(*), sum(bytes) FROM flows").fetchone()
    return {"rows": rows, "bytes": int(total)}


# Many files


def case_ecsflow_many(p: dict, n: int | None = None) -> dict:
    import ecsflow

    df = ecsflow.read_flow_logs(p["many_dir"])
    return {"rows": df.height, "bytes": _total(df), "columns": df.width}


def case_polars_glob(p: dict, n: int | None = None) -> dict:
    """The naive way: polars read_csv over the glob, all strings."""
    import polars as pl

    df = pl.read_csv(p["many_glob"], separator=" ", infer_schema=False)
    return {"rows": df.height, "bytes": _total(df)}


def case_duckdb_many(p: dict, n: int | None = None) -> dict:
    return _duck_load(p["many_glob"])


# The edge aggregation behind the graphs


def case_ecsflow_edges(p: dict, n: int | None = None) -> dict:
    """scan_flow_logs (8 columns) + group_by per edge and 5-minute bucket, streaming."""
    import polars as pl

    import ecsflow

    lf = ecsflow.scan_flow_logs(p["many_dir"], columns=EDGE_COLUMNS)
    edges = (
        lf.group_by(*EDGE_KEY, pl.col("start").dt.truncate("5m").alias("bucket"))
        .agg(
            pl.col("bytes").sum(),
            pl.col("packets").sum(),
            pl.len().alias("records"),
        )
        .collect(engine="streaming")
    )
    return {
        "rows": int(edges["records"].sum()),
        "bytes": int(edges["bytes"].sum()),
        "groups": edges.height,
    }


def duckdb_edges_sql(source: str) -> str:
    return (
        'SELECT "interface-id", srcaddr, dstaddr, dstport, protocol, '
        f"time_bucket(INTERVAL 5 MINUTE, {_duck_time('start')}) AS bucket, "
        "sum(bytes) AS bytes, sum(packets) AS packets, count(*) AS records "
        f"FROM {_duck_read(source)} GROUP BY ALL"
    )


def case_duckdb_edges(p: dict, n: int | None = None) -> dict:
    con = _duck()
    rows, total, groups = con.execute(
        f"SELECT sum(records), sum(bytes), count(*) FROM ({duckdb_edges_sql(p['many_glob'])})"
    ).fetchone()
    return {"rows": int(rows), "bytes": int(total), "groups": groups}


# Attribution and the simulator


def case_attribute_graph(p: dict, n: int | None = None) -> dict:
    """read (23 columns) + attribute_flows + service_graph(level='task') on the single file."""
    import ecsflow

    flows = ecsflow.read_flow_logs(p["single"], columns=GRAPH_COLUMNS)
    t0 = time.perf_counter()
    attributed = ecsflow.attribute_flows(flows)
    graph = ecsflow.service_graph(attributed, level="task")
    return {
        "rows": attributed.height,
        "bytes": _total(attributed),
        "attribute_and_graph_s": round(time.perf_counter() - t0, 2),
        "edges": graph.number_of_edges(),
    }


def case_simulate(p: dict, n: int | None = None) -> dict:
    """The simulator: n records (default: the single file's count), default format, gzip."""
    from ecsflow.simulate import simulate

    r = simulate(p["sim_out"], seed=2, records=n)
    return {"rows": r.records, "bytes": None, "objects": len(r.files)}


# --------------------------------------------------------------------------------------------
# The run

# name -> (group, input, function); input names the size used for MB/s.
CASES: dict[str, tuple[str, str, Callable | None]] = {
    "floor_igzip": ("single", "single", None),
    "floor_isal": ("single", "single", case_floor_isal),
    "floor_zlib": ("single", "single", case_floor_zlib),
    "polars_bare_plain": ("single", "single", case_polars_bare_plain),
    "polars_bare": ("single", "single", case_polars_bare),
    "ecsflow_full": ("single", "single", case_ecsflow_full),
    "duckdb_clean": ("single", "single", case_duckdb_clean),
    "pandas_pyarrow": ("single", "single", case_pandas_pyarrow),
    "python_lines": ("single", "single", case_python_lines),
    "ecsflow_graph23": ("single", "single", case_ecsflow_graph23),
    "ecsflow_edge8": ("single", "single", case_ecsflow_edge8),
    "polars_bare_graph23": ("single", "single", case_polars_bare_graph),
    "ecsflow_parquet": ("parquet", "parquet", case_ecsflow_parquet),
    "ecsflow_parquet_1file": ("parquet", "parquet", case_ecsflow_parquet_1file),
    "polars_parquet": ("parquet", "parquet", case_polars_parquet),
    "duckdb_parquet": ("parquet", "parquet", case_duckdb_parquet),
    "ecsflow_many": ("many", "many", case_ecsflow_many),
    "polars_glob": ("many", "many", case_polars_glob),
    "duckdb_many": ("many", "many", case_duckdb_many),
    "ecsflow_edges": ("edges", "many", case_ecsflow_edges),
    "duckdb_edges": ("edges", "many", case_duckdb_edges),
    "attribute_graph": ("attribution", "single", case_attribute_graph),
    "simulate": ("simulator", "single", case_simulate),
}
REFERENCE = {  # the ecsflow case each group's ratios are taken against
    "single": "ecsflow_full",
    "parquet": "ecsflow_parquet",
    "many": "ecsflow_many",
    "edges": "ecsflow_edges",
    "attribution": "ecsflow_full",
    "simulator": "ecsflow_full",
}


def _imports(name: str) -> list[str]:
    """Modules a case imports before its timer starts (import time is reported apart)."""
    if name.startswith("duckdb"):
        return ["duckdb", "ecsflow.fields"]
    if name.startswith("pandas"):
        return ["pandas", "pyarrow"]
    if name.startswith("polars"):
        return ["polars"]
    if name.startswith(("ecsflow", "attribute", "simulate")):
        return ["ecsflow", "ecsflow.simulate"]
    return ["isal.igzip"]


def _child(name: str, root: Path, n: int | None) -> None:
    import importlib

    fn = CASES[name][2]
    p = paths(root)
    t0 = time.perf_counter()
    for mod in _imports(name):
        importlib.import_module(mod)
    import_s = time.perf_counter() - t0
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    out = fn(p, n)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({**out, "wall": wall, "cpu_in": cpu, "import_s": import_s}))


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(name: str, root: Path, meta: dict) -> dict:
    load = _load()
    if name == "floor_igzip":
        r = measure(["igzip", "-dc", str(root / "single.log.gz")], stdout=subprocess.DEVNULL)
        r.update(
            rows=meta["single"], bytes=None, wall=r["process_s"], cpu_in=r["cpu_s"], import_s=0.0
        )
    else:
        n = meta["single"] if name == "simulate" else None
        argv = [sys.executable, __file__, "--data", str(root), "--child", name]
        r = measure(argv + (["--n", str(n)] if n else []))
    r.update(case=name, load=load)
    return r


def _mb(meta: dict, what: str) -> float:
    key = {"single": "single_text_bytes", "many": "many_text_bytes", "parquet": "parquet_bytes"}
    return meta[key[what]] / 1e6


def report(results: list[dict], meta: dict) -> list[str]:
    by = {r["case"]: r for r in results}
    out = [
        "| case | group | records | wall s | CPU s | peak RSS MiB | records/s | MB/s | "
        "x ecsflow | x floor | import s | load 1/5/15 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    floor = by.get("floor_igzip")
    for r in results:
        group, what, _ = CASES[r["case"]]
        ref = by.get(REFERENCE[group])
        ratio = f"{r['wall'] / ref['wall']:.2f}" if ref else "-"
        fl = f"{r['wall'] / floor['wall']:.1f}" if floor and what == "single" else "-"
        out.append(
            f"| {r['case']} | {group} | {r['rows']:,} | {r['wall']:.2f} | {r['cpu_in']:.1f} | "
            f"{r['peak_rss_mib']:,.0f} | {r['rows'] / r['wall']:,.0f} | "
            f"{_mb(meta, what) / r['wall']:,.0f} | {ratio} | {fl} | {r['import_s']:.2f} | "
            f"{r['load']} |"
        )
    return out


def targets(results: list[dict], meta: dict) -> list[str]:
    by = {r["case"]: r for r in results}
    lines: list[str] = []

    def check(ok: bool, text: str) -> None:
        lines.append(f"{'PASS' if ok else 'FAIL'}: {text}")

    def have(*names: str) -> bool:
        return all(n in by for n in names)

    w = {k: v["wall"] for k, v in by.items()}
    cpu = {k: v["cpu_in"] for k, v in by.items()}

    def cpu_ratio(a: str, b: str) -> str:
        # Other sessions may load the machine: CPU seconds are steadier than wall time.
        return f"; CPU {cpu[a]:.1f} s vs {cpu[b]:.1f} s = {cpu[a] / cpu[b]:.2f}x"

    rss = {k: v["peak_rss_mib"] for k, v in by.items()}
    rate = {k: v["rows"] / v["wall"] for k, v in by.items()}
    if have("ecsflow_full", "duckdb_clean"):
        x = w["ecsflow_full"] / w["duckdb_clean"]
        check(
            x <= 0.55,
            f"one gzip file, full load and clean: {x:.2f}x DuckDB's time (target "
            f"<= 0.55x; {w['ecsflow_full']:.2f} s vs {w['duckdb_clean']:.2f} s"
            f"{cpu_ratio('ecsflow_full', 'duckdb_clean')})",
        )
    if have("ecsflow_full", "polars_bare"):
        x = w["ecsflow_full"] / w["polars_bare"]
        check(
            x <= 1.10,
            f"one gzip file, full load and clean: {x:.2f}x polars' bare read "
            f"(target <= 1.10x; {w['ecsflow_full']:.2f} s vs {w['polars_bare']:.2f} s"
            f"{cpu_ratio('ecsflow_full', 'polars_bare')})",
        )
    for case in ("ecsflow_graph23", "ecsflow_edge8"):
        if have(case, "ecsflow_full"):
            x = w["ecsflow_full"] / w[case]
            m = rss[case] / rss["ecsflow_full"]
            check(
                x >= 2 and rate[case] >= 0.8e6,
                f"projection ({by[case]['columns']} columns): {x:.2f}x faster than the full "
                f"load, {rate[case] / 1e6:.2f} M records/s (target >= 2x and >= 0.8 M/s); "
                f"peak RSS {rss[case]:,.0f} MiB = {m:.2f} of the full load's",
            )
    if have("ecsflow_many"):
        check(
            rate["ecsflow_many"] >= 0.4e6 and rss["ecsflow_many"] <= 2048,
            f"many files ({meta['files']}): {rate['ecsflow_many'] / 1e6:.2f} M records/s at "
            f"{rss['ecsflow_many']:,.0f} MiB (target >= 0.40 M/s and <= 2,048 MiB for "
            f"{meta['records']:,} records)",
        )
    if have("ecsflow_edges", "duckdb_edges"):
        x = w["ecsflow_edges"] / w["duckdb_edges"]
        check(
            x <= 0.8 and rss["ecsflow_edges"] <= 1024,
            f"edge aggregation over {meta['records']:,} records in {meta['files']} files: "
            f"{x:.2f}x DuckDB's group_by time at {rss['ecsflow_edges']:,.0f} MiB "
            f"(target <= 0.8x and <= 1,024 MiB{cpu_ratio('ecsflow_edges', 'duckdb_edges')})",
        )
    for case in ("ecsflow_parquet", "ecsflow_parquet_1file"):
        if have(case):
            check(
                rate[case] >= 2e6,
                f"Parquet ({case}): {rate[case] / 1e6:.2f} M records/s, cleaned (target >= 2 M/s)",
            )
    if have("ecsflow_full", "floor_igzip", "polars_bare_plain"):
        lines.append(
            f"INFO: gap to the decompression floor (igzip): {w['ecsflow_full'] / w['floor_igzip']:.1f}x; "  # noqa: E501
            f"to the parse limit (polars on plain text, 1 thread of parse per core): "
            f"{w['ecsflow_full'] / w['polars_bare_plain']:.2f}x; parse limit + floor "
            f"= {w['polars_bare_plain'] + w['floor_igzip']:.2f} s vs ecsflow "
            f"{w['ecsflow_full']:.2f} s"
        )
    mismatch = [
        f"{r['case']}: {r['rows']:,} records, bytes {r['bytes']}"
        for r in results
        if CASES[r["case"]][1] == "single"
        and r["case"] not in ("simulate",)
        and (
            r["rows"] != meta["single"]
            or (
                r.get("bytes") is not None
                and "ecsflow_full" in by
                and r["bytes"] != by["ecsflow_full"]["bytes"]
            )
        )
    ]
    if mismatch:
        lines.append("WARN: results differ from ecsflow_full: " + "; ".join(mismatch))
    return lines


def machine() -> str:
    model = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
         if ln.startswith("model name")), "?")  # fmt: skip
    mem = next(ln for ln in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in ln)
    gib = int(mem.split()[1]) / 2**20
    import polars as pl

    versions = [f"polars {pl.__version__}"]
    for mod in ("duckdb", "pandas", "pyarrow", "isal"):
        try:
            versions.append(f"{mod} {__import__(mod).__version__}")
        except ImportError:
            versions.append(f"{mod} missing")
    return f"{os.cpu_count()} cores, {model}, {gib:.1f} GiB RAM; " + ", ".join(versions)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--records", type=int, default=5_000_000)
    ap.add_argument("--single", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--skip", nargs="*", default=[])
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--setup", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child, args.data, args.n)
        return
    sizes = dict(records=args.records, single=args.single, files=args.files)
    if args.setup:
        meta = make_data(args.data, **sizes)
        print(json.dumps({"meta": meta, "machine": machine()}))
        return
    # This process stays small (no polars): a child's peak RSS from wait4 starts at the RSS of
    # the process that forked it, so the data is made and described in a child too.
    sizes_argv = [f"--{k}={v}" for k, v in sizes.items()]
    setup = measure([sys.executable, __file__, "--data", str(args.data), "--setup", *sizes_argv])
    meta = setup["meta"]
    print(f"machine: {setup['machine']}")
    print(f"data: {json.dumps(meta)}")
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"parent RSS before the cases: {parent:.0f} MiB (a floor of every case's peak RSS)")
    names = [n for n in (args.only or CASES) if n not in args.skip]
    results = []
    for name in names:
        try:
            r = run(name, args.data, meta)
        except SystemExit as exc:
            print(f"  {name}: FAILED: {exc}", flush=True)
            continue
        print(
            f"  {name}: {r['wall']:.2f} s, {r['peak_rss_mib']:,.0f} MiB, {r['rows']:,} "
            f"records, bytes {r.get('bytes')}, load {r['load']}",
            flush=True,
        )
        results.append(r)
    print()
    print("\n".join(report(results, meta)))
    print()
    print("\n".join(targets(results, meta)))
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=1))


if __name__ == "__main__":
    main()
