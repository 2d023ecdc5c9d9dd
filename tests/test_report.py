"""Rendered reports are self-contained: they open offline in Chromium with every chart drawn.

All notebooks are rendered once through the command line ``make report`` uses
(``python -m ecsflow.report --out DIR notebooks/*.ipynb``), keeping the executed notebooks so
the drawn charts can be counted against the chart outputs. Chromium runs headless with every
host name mapped to NOTFOUND, on a file:// URL, so any attempt to fetch a script fails visibly.

Outside CI a missing Chromium skips the browser checks; with ``CI=true`` it fails them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from ecsflow.report import count_chart_outputs, execute_notebook, inject_parameters, main

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("*.ipynb"))
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}

SCRIPT_SRC = re.compile(r"<script[^>]*\bsrc\s*=", re.IGNORECASE)
# Elements that make a browser fetch something from another host.
EXTERNAL_FETCH = re.compile(
    r"<(script|link|img|iframe|source|embed|object)\b[^>]*\b(src|href|data)\s*=\s*"
    r"[\"']?(https?:)?//[^\s\"'>]*",
    re.IGNORECASE,
)
DRAWN_CHART = 'class="marks"'  # the canvas vega draws into
LOADER_ERROR = 'style="color:red;">Error'  # altair's loader, when a library failed to load

by_name = pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; CI=true, so this is required, not skipped")
    pytest.skip(reason)


def _chromium() -> str:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    _missing("chromium is not installed (apt-get install chromium)")
    raise AssertionError("unreachable")


def _dump_dom(html_path: Path, profile: Path) -> tuple[str, str]:
    """Open a file in headless Chromium with no network; return (DOM after JS, stderr)."""
    cmd = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
        "--dump-dom",
        html_path.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"chromium exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc.stdout, proc.stderr


def _console_errors(stderr: str) -> list[str]:
    """Chromium log lines of JS errors and failed host lookups (any fetch attempt fails so)."""
    return [
        line
        for line in stderr.splitlines()
        if (":CONSOLE" in line and ("Error" in line or "Uncaught" in line))
        or "ERR_NAME_NOT_RESOLVED" in line
    ]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    status = main(["--out", str(out), "--save-notebooks", *map(str, NOTEBOOKS)])
    assert status == 0, "a notebook failed while rendering (see captured stderr)"
    return out


def test_index_links_every_report(reports: Path):
    class Links(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.hrefs: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "a":
                self.hrefs += [v for k, v in attrs if k == "href" and v]

    parser = Links()
    parser.feed((reports / "index.html").read_text(encoding="utf-8"))
    assert parser.hrefs == [f"{nb.stem}.html" for nb in NOTEBOOKS]
    for href in parser.hrefs:
        assert (reports / href).is_file()
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert "Load and clean VPC flow logs" in index  # the title, from the first heading


@by_name
def test_report_has_no_external_script(reports: Path, nb_path: Path):
    html = (reports / f"{nb_path.stem}.html").read_text(encoding="utf-8")
    assert not SCRIPT_SRC.search(html), "a <script src=...> would need the network"
    assert not EXTERNAL_FETCH.search(html)
    assert "unpkg.com" not in html and "@jupyter-widgets/html-manager" not in html
    assert html.count('id="ecsflow-vega-bundle"') == 1, "the Vega bundle is inlined exactly once"


@by_name
def test_report_draws_every_chart_offline(reports: Path, nb_path: Path, tmp_path: Path):
    executed = nbformat.read(reports / f"{nb_path.stem}.ipynb", as_version=4)
    charts = count_chart_outputs(executed)
    if nb_path.stem == "01_load_and_clean":
        assert charts >= 2
    dom, stderr = _dump_dom(reports / f"{nb_path.stem}.html", tmp_path / "profile")
    assert dom.count(DRAWN_CHART) == charts, f"drawn {dom.count(DRAWN_CHART)} of {charts} charts"
    assert LOADER_ERROR not in dom
    fetches = [m.group(0) for m in EXTERNAL_FETCH.finditer(dom)]
    assert not fetches, f"the page tried to fetch from the network: {fetches}"
    assert not _console_errors(stderr), _console_errors(stderr)


def test_the_chromium_check_catches_a_cdn_report(reports: Path, tmp_path: Path):
    """Control: the same notebook through nbconvert's plain lab template draws nothing offline."""
    from nbconvert import HTMLExporter

    executed = nbformat.read(reports / "01_load_and_clean.ipynb", as_version=4)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(executed)
    page = tmp_path / "cdn.html"
    page.write_text(body, encoding="utf-8")
    dom, stderr = _dump_dom(page, tmp_path / "profile")
    assert dom.count(DRAWN_CHART) == 0
    assert LOADER_ERROR in dom
    assert any("cdn.jsdelivr.net" in m.group(0) for m in EXTERNAL_FETCH.finditer(dom))
    assert _console_errors(stderr)


def test_execute_injects_parameters_and_sets_the_report_environment(tmp_path: Path):
    v4 = nbformat.v4
    nb = v4.new_notebook(
        cells=[
            v4.new_markdown_cell("# Probe"),
            v4.new_code_cell('SOURCE = "default"', metadata={"tags": ["parameters"]}),
            v4.new_code_cell(
                "import os\n"
                "print(SOURCE, os.environ['ECSFLOW_REPORT'], os.environ['TQDM_DISABLE'],"
                " os.getcwd())"
            ),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    executed = execute_notebook(path, parameters={"SOURCE": "s3://bucket/AWSLogs/"})
    assert "injected-parameters" in executed.cells[2].metadata["tags"]
    assert executed.cells[3].outputs[0].text.split() == [
        "s3://bucket/AWSLogs/",
        "1",
        "1",
        str(tmp_path),
    ]
    assert "execution" not in executed.cells[3].metadata  # record_timing=False
    assert len(nbformat.read(path, as_version=4).cells) == 3  # the file is untouched


def test_inject_parameters_replaces_a_previous_injection():
    v4 = nbformat.v4
    nb = v4.new_notebook(cells=[v4.new_code_cell("X = 1", metadata={"tags": ["parameters"]})])
    once = inject_parameters(nb, {"X": 2})
    twice = inject_parameters(once, {"X": 3})
    assert [c.source for c in twice.cells] == ["X = 1", "# Parameters\nX = 3\n"]
    assert inject_parameters(nb, None).cells == nb.cells
    with pytest.raises(ValueError, match="identifier"):
        inject_parameters(nb, {"not a name": 1})
    with pytest.warns(UserWarning, match="no cell tagged 'parameters'"):
        top = inject_parameters(v4.new_notebook(cells=[v4.new_code_cell("print(1)")]), {"X": 1})
    assert top.cells[0].source == "# Parameters\nX = 1\n"
