"""benchmarks/bench.py: every baseline reads the same records and bytes as ecsflow.

Correctness only, on a tiny simulated deployment: no timing. The baselines' packages (duckdb,
pandas, pyarrow) are in the dev extra; without them a case skips, except under CI.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

from .conftest import require

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
spec = importlib.util.spec_from_file_location("ecsflow_bench", BENCH / "bench.py")
bench = importlib.util.module_from_spec(spec)
sys.modules["ecsflow_bench"] = bench
spec.loader.exec_module(bench)

NEEDS = {"duckdb": ["duckdb"], "pandas": ["pandas", "pyarrow"]}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    meta = bench.make_data(root, records=2_000, single=1_000, files=3)
    return meta, bench.paths(root)


@pytest.fixture(scope="module")
def reference(data):
    _, p = data
    return {
        "single": bench.case_ecsflow_full(p),
        "parquet": bench.case_ecsflow_parquet(p),
        "many": bench.case_ecsflow_many(p),
    }


def test_data_layout(data):
    meta, p = data
    assert meta["single"] == 1_000 and meta["records"] == 2_000
    assert len(list(Path(p["many_dir"]).glob("*.log.gz"))) == 3
    assert Path(p["single_plain"]).stat().st_size == meta["single_text_bytes"]


@pytest.mark.parametrize(
    "name", [n for n, (_, _, fn) in bench.CASES.items() if fn is not None and n != "simulate"]
)
def test_case_matches_ecsflow(name, data, reference):
    for module in NEEDS.get(name.split("_")[0], []):
        require(module)
    meta, p = data
    group, _, fn = bench.CASES[name]
    out = fn(p)
    ref = reference.get(group, reference["many"] if group == "edges" else reference["single"])
    assert out["rows"] == ref["rows"], name
    expected = meta["records"] if group in ("many", "edges") else meta["single"]
    assert out["rows"] == expected
    if out["bytes"] is not None:
        assert out["bytes"] == ref["bytes"], name


def test_edge_groups_agree(data):
    require("duckdb")
    _, p = data
    assert bench.case_ecsflow_edges(p)["groups"] == bench.case_duckdb_edges(p)["groups"]


def test_simulate_case(tmp_path):
    out = bench.case_simulate({"sim_out": str(tmp_path / "sim")}, 300)
    assert out["rows"] == 300


def test_duckdb_clean_matches_ecsflow_values(data):
    """The DuckDB SQL is the same cleaning: types, nulls, times and decodes agree."""
    require("duckdb")
    import duckdb
    import polars as pl

    import ecsflow

    _, p = data
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    duck = pl.from_arrow(con.sql(bench.duckdb_clean_sql(p["single"])).to_arrow_table())
    ours = ecsflow.read_flow_logs(p["single"])
    assert duck.columns == [c for c in ours.columns]
    for col in ours.columns:
        a, b = ours[col], duck[col]
        if a.dtype in (pl.Categorical, pl.Enum) or isinstance(a.dtype, pl.Enum):
            a = a.cast(pl.String)
        if isinstance(a.dtype, pl.Datetime):
            b = b.cast(a.dtype)
        assert a.cast(b.dtype).to_list() == b.to_list(), col
