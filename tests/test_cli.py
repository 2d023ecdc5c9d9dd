"""The ``ecsflow`` command line."""

from __future__ import annotations

import polars as pl
import pytest

import ecsflow
from ecsflow.cli import build_parser, main


def test_simulate_writes_loadable_logs_and_truth(tmp_path, capsys):
    assert main(["simulate", str(tmp_path), "--seed", "4", "--records", "800"]) == 0
    out = capsys.readouterr().out
    assert "wrote 800 records" in out
    assert ecsflow.read_flow_logs(tmp_path).height == 800
    assert pl.read_parquet(tmp_path / "truth" / "records.parquet").height == 800
    assert (tmp_path / "truth" / "describe-tasks.json").exists()


def test_simulate_options_reach_the_simulator(tmp_path, capsys):
    args = [
        "simulate",
        str(tmp_path),
        "--records",
        "300",
        "--format",
        "parquet",
        "--layout",
        "hourly",
        "--log-format",
        "${interface-id} ${start} ${end} ${srcaddr} ${dstaddr} ${log-status}",
        "--aggregation-interval",
        "60",
        "--set",
        "p_empty_slot=0.5",
        "--set",
        "load_balancer=false",
        "--quiet",
    ]
    assert main(args) == 0
    assert capsys.readouterr().out == ""
    files = list(tmp_path.glob("AWSLogs/*/vpcflowlogs/*/*/*/*/*/*.log.parquet"))  # hour folders
    assert files
    assert pl.read_parquet_schema(files[0]).names() == [
        "interface_id",
        "start",
        "end",
        "srcaddr",
        "dstaddr",
        "log_status",
    ]
    flows = ecsflow.read_flow_logs(tmp_path)
    ok = flows.filter(pl.col("log_status") == "OK")
    assert (ok["start"].dt.epoch("s") // 60 == ok["end"].dt.epoch("s") // 60).all()


def test_same_seed_same_bytes(tmp_path):
    for name in ("a", "b"):
        main(["simulate", str(tmp_path / name), "--seed", "9", "--records", "500", "--quiet"])
    a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.gz"))
    assert a
    for rel in a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "p_empty_slot=2"], "p_empty_slot must be a probability"),
        (["--set", "nonsense=1"], "NAME=VALUE with NAME one of"),
        (["--set", "calls_per_minute=fast"], "not a valid float"),
        (["--records", "0"], "records must be a positive integer"),
        (["--log-format", "${version} ${nope}"], "unknown flow-log fields"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exc:
        main(["simulate", str(tmp_path), *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_a_subcommand_is_required(capsys):
    with pytest.raises(SystemExit):
        main([])
    assert "simulate" in build_parser().format_help()


def test_report_renders_the_notebooks_on_a_simulated_directory(tmp_path, capsys):
    """``ecsflow report`` runs notebooks 04 and 05 on logs it was pointed at (one run, ~15 s)."""
    sim = tmp_path / "sim"
    ecsflow.simulate(sim, seed=1, records=3000)
    services = (
        pl.read_parquet(sim / "truth" / "tasks.parquet")["service"].drop_nulls().unique().sort()
    )
    out = tmp_path / "reports"
    status = main(["report", str(sim), "--out", str(out), "--save-notebooks"])
    assert status == 0
    assert f"wrote 2 report(s) on {sim.resolve()}" in capsys.readouterr().out
    for stem in ("04_service_graph", "05_investigate_your_logs"):
        html = (out / f"{stem}.html").read_text(encoding="utf-8")
        assert str(sim.resolve()) in html  # the injected SOURCE
        assert "records from" in html
        assert any(name in html for name in services), f"{stem}: no service of the simulation"
        executed = (out / f"{stem}.ipynb").read_text(encoding="utf-8")
        assert '"output_type": "error"' not in executed
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="04_service_graph.html"' in index
    assert 'href="05_investigate_your_logs.html"' in index


def test_report_rejects_a_missing_source_or_notebook(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["report", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    assert "no such file or folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["report", str(tmp_path), "--out", str(tmp_path / "o"), "--notebooks", "99_nope"])
    assert exc.value.code == 2
    assert "no notebook '99_nope'" in capsys.readouterr().err
    args = build_parser().parse_args(
        ["report", "s3://b/AWSLogs/", "--out", "o", "--storage-option", "aws_region=eu-west-1"]
    )
    assert args.storage_options == [("aws_region", "eu-west-1")]
    assert args.notebooks is None  # 04 and 05


def test_report_redact_leaves_no_account_id_or_public_ip(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ECSFLOW_REDACT_KEY", raising=False)
    sim = tmp_path / "sim"
    ecsflow.simulate(sim, seed=2, records=2000)
    flows = ecsflow.read_flow_logs(sim)
    accounts = set(flows["account_id"].cast(pl.String).drop_nulls())
    assert accounts == {"123456789012"}
    out = tmp_path / "shared"
    status = main(
        ["report", str(sim), "--out", str(out), "--notebooks", "05_investigate_your_logs",
         "--redact", "--redact-key", "test-key", "--save-notebooks"]
    )  # fmt: skip
    assert status == 0
    written = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"05_investigate_your_logs.html", "index.html"}
    assert not (out / ".redacted-source").exists()  # the staged copy is removed
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert "123456789012" not in text, path.name
        assert str(sim) not in text, path.name  # nor the original path
    with pytest.raises(SystemExit) as exc:
        main(["report", str(sim), "--out", str(tmp_path / "x"), "--redact"])
    assert exc.value.code == 2


def test_report_refuses_credentials_as_storage_options(tmp_path, capsys):
    for option in (
        "aws_secret_access_key=s3cr3tValue",
        "aws_access_key_id=AKIAEXAMPLE",
        "aws_session_token=sessionTok3n",
    ):
        with pytest.raises(SystemExit) as exc:
            main(
                ["report", str(tmp_path), "--out", str(tmp_path / "o"), "--storage-option", option]
            )
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "is a credential" in err and option.split("=")[1] not in err
