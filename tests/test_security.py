"""Untrusted string fields show as text, never as markup; redacted reports leak no account id.

The committed simulated deployment is copied with its cluster and service names rewritten to
hostile strings (in the gzip text, where the loader reads them), loaded, redacted with
:func:`ecsflow.redact` and rendered through notebook 05 into an offline HTML report. Headless
Chromium (no network) opens the report: the payloads would set ``document.title`` or create an
``<img src=x>``; neither may happen, and the names must be on the page as text. The same
rendering shows that no account id of the input is anywhere in the redacted report.

Outside CI a missing Chromium or notebook stack skips; with ``CI=true`` it fails.
"""

from __future__ import annotations

import gzip
import html
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

import ecsflow
from ecsflow.redact import redact
from tests.conftest import ROOT, SAMPLES, require

SIMULATED = SAMPLES / "simulated"
ACCOUNT = "123456789012"  # the simulated deployment's account
KEY = "test-key"
HOSTILE = {
    "ecs-cluster-name": {
        "core": "<img/src=x/onerror=document.title=/pwned-cluster/.source>",
        "edge": "</script><img/src=x/onerror=document.title=/pwned-breakout/.source>",
    },
    "ecs-service-name": {
        "frontend": "<script>document.title=/pwned-script/.source</script>",
        "payments": "<img/src=x/onerror=alert(1)>",
        "orders": '"><svg/onload=document.title=/pwned-attr/.source>',
    },
}
PAYLOADS = [v for names in HOSTILE.values() for v in names.values()]


def _chromium() -> str:
    path = "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None
    path = path or shutil.which("chromium")
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is required under CI")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


def _dump_dom(page: Path, profile: Path) -> str:
    cmd = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


class _Elements(HTMLParser):
    """Every element's tag and attributes, the title text, and all text."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.title, self.text, self._in_title = "", [], False

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        self.text.append(data)


def _parse(dom: str) -> _Elements:
    parser = _Elements()
    parser.feed(dom)
    return parser


def _assert_nothing_injected(dom: str) -> _Elements:
    page = _parse(dom)
    assert "pwned" not in page.title, f"a payload ran: title {page.title!r}"
    imgs = [a for t, a in page.elements if t == "img" and a.get("src") == "x"]
    assert not imgs, f"injected <img> elements: {imgs}"
    handlers = [(t, a) for t, a in page.elements if any(k.startswith("on") for k in a)]
    assert not [h for h in handlers if "pwned" in str(h) or "alert" in str(h)], handlers
    assert not [t for t, _ in page.elements if t == "svg" and "pwned" in dom.split("<svg")[0]]
    return page


def _hostile_copy(dst: Path) -> Path:
    """The simulated logs with cluster and service names replaced by hostile strings."""
    for src in (SIMULATED / "AWSLogs").rglob("*.log.gz"):
        lines = gzip.decompress(src.read_bytes()).decode().splitlines()
        header = lines[0].split()
        where = {header.index(name): table for name, table in HOSTILE.items()}
        out = [lines[0]]
        for line in lines[1:]:
            fields = line.split(" ")
            for i, table in where.items():
                fields[i] = table.get(fields[i], fields[i])
            out.append(" ".join(fields))
        target = dst / src.relative_to(SIMULATED)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.compress(("\n".join(out) + "\n").encode(), mtime=0))
    return dst


def _as_delivery(flows: pl.DataFrame) -> pl.DataFrame:
    """Cleaned flows back to AWS's Parquet types: registry fields only, epoch seconds."""
    fields = [c for c in flows.columns if c in ecsflow.fields.FIELD_BY_COLUMN]
    return flows.select(fields).with_columns(
        pl.col("start", "end").dt.epoch("s"),
        pl.col(pl.Categorical, pl.Enum).cast(pl.String),
    )


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("hostile")
    logs = _hostile_copy(tmp / "logs")
    flows = ecsflow.read_flow_logs(logs)
    redacted = tmp / "redacted" / "flows.log.parquet"
    redacted.parent.mkdir()
    _as_delivery(redact(flows, key=KEY)).write_parquet(redacted)
    return {"logs": logs, "redacted": redacted, "tmp": tmp}


def test_the_hostile_names_load_verbatim(hostile):
    flows = ecsflow.read_flow_logs(hostile["logs"])
    names = set(flows["ecs_cluster_name"].cast(pl.String).drop_nulls())
    names |= set(flows["ecs_service_name"].cast(pl.String).drop_nulls())
    assert set(PAYLOADS) <= names


def test_polars_html_repr_escapes(hostile):
    flows = ecsflow.read_flow_logs(hostile["logs"])
    table = flows.select("ecs_cluster_name", "ecs_service_name").unique().sort("*")._repr_html_()
    for payload in PAYLOADS:
        assert payload not in table
    assert html.escape("<img/src=x/onerror=alert(1)>", quote=False) in table


def test_altair_chart_html_keeps_data_out_of_markup():
    require("altair")
    from ecsflow.charts import bar_chart

    data = pl.DataFrame({"service": PAYLOADS, "bytes": list(range(len(PAYLOADS)))})
    chart = bar_chart(data, x="service", y="bytes", tooltip=["service", "bytes"])
    import altair as alt

    from ecsflow.charts import ScriptSafeJSONEncoder, setup_altair

    # The renderer the reports use, and altair's own to_html given the same JSON encoder.
    setup_altair(environ={"ECSFLOW_REPORT": "1"})
    try:
        bundle = chart._repr_mimebundle_()
        rendered = (bundle[0] if isinstance(bundle, tuple) else bundle)["text/html"]
    finally:
        alt.data_transformers.enable("default")
    pages = [rendered, chart.to_html(json_kwds={"cls": ScriptSafeJSONEncoder})]
    for page in pages:
        # The spec is JSON inside a <script>: a '</script>' in the data must not close it.
        assert "</script><img" not in page
        assert "<img/src=x" not in page and "<svg/onload" not in page
        assert "\\u003cimg/src=x" in page  # the text is still there, escaped


@pytest.fixture(scope="module")
def report(hostile) -> Path:
    require("nbclient")
    out = hostile["tmp"] / "report" / "05.html"
    from ecsflow.report import render_notebook

    render_notebook(
        ROOT / "notebooks" / "05_investigate_your_logs.ipynb",
        out,
        parameters={"SOURCE": str(hostile["redacted"])},
        save_notebook=True,
    )
    return out


def test_report_shows_hostile_names_as_text_in_chromium(report: Path, tmp_path: Path):
    dom = _dump_dom(report, tmp_path / "profile")
    page = _assert_nothing_injected(dom)
    text = "".join(page.text)
    # the names reached the page (tables and printed output), as text
    assert "<img/src=x/onerror=alert(1)>" in text
    assert 'class="marks"' in dom  # charts were drawn with the hostile names in their data


def test_redacted_report_has_no_account_id(report: Path, hostile):
    page = report.read_text(encoding="utf-8")
    executed = report.with_suffix(".ipynb").read_text(encoding="utf-8")
    for text in (page, executed, json.dumps(json.loads(executed))):
        assert ACCOUNT not in text
    # and the pseudonym is there instead: the report still names the (masked) account
    from ecsflow.redact import pseudonym_account

    flows = pl.read_parquet(hostile["redacted"])
    assert flows["account_id"].unique().to_list() == [pseudonym_account(ACCOUNT, key=KEY)]


def test_redacted_frame_has_no_account_id_or_public_ip(hostile):
    flows = ecsflow.read_flow_logs(hostile["logs"])
    from ecsflow.attribute import is_private_ip

    ips = pl.DataFrame({"ip": pl.concat([flows["srcaddr"], flows["dstaddr"]]).drop_nulls()})
    public = set(ips.filter(~is_private_ip("ip"))["ip"])
    assert public, "the sample has public addresses to mask"
    out = redact(flows, key=KEY)
    texts = out.select(pl.col(pl.String, pl.Categorical, pl.Enum).cast(pl.String))
    everything = texts.unpivot()["value"].drop_nulls()
    assert not everything.str.contains(ACCOUNT, literal=True).any()
    assert not everything.is_in(list(public)).any()
    assert re.fullmatch(r"000\d{9}", out["account_id"].cast(pl.String)[0])


def test_no_code_evaluates_or_unpickles_data():
    # Flow-log values are data someone else controls: nothing in ecsflow may run them.
    import ast

    forbidden = {"eval", "exec", "compile", "__import__"}
    modules = {"pickle", "marshal", "shelve", "dill", "cloudpickle"}
    for path in sorted((ROOT / "ecsflow").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in forbidden, f"{path.name}:{node.lineno}"
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not modules & {n.split(".")[0] for n in names}, f"{path.name}:{node.lineno}"
