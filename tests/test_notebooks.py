"""Every notebook in notebooks/ follows the house rules and runs on the samples.

The notebooks are executed here the way a reader meets them in JupyterLab (``ECSFLOW_REPORT=0``:
altair's offline ``jupyter`` renderer); tests/test_report.py executes them again in report mode
and checks the rendered HTML in Chromium.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from ecsflow.report import execute_notebook

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("*.ipynb"))
NAME = re.compile(r"^\d\d_[a-z][a-z0-9]*(_[a-z0-9]+)+\.ipynb$")
DEF_OR_CLASS = re.compile(r"^\s*(async\s+def|def|class)\s", re.MULTILINE)

# Outputs a notebook must show when run on the samples (its findings, reproduced from data).
FINDINGS_SHOWN = {
    "01_load_and_clean": [
        "loaded 10 flow records",
        "FieldMismatchWarning",
        "look like interface_id",
        "warnings after rename: 0",
        "CSV (renamed) equals the S3 text records: True",
    ],
    "02_ecs_fields_are_per_eni": [
        "4 ENIs; every record of an ENI carries the same ECS values: True",
        "the ping reply from 8.8.8.8 carries the ECS fields of task "
        "88316020871d4ec7a200c1ce6d25273d (client deploy 1)",
        "4 of 4 curl flow sides are recorded 2 times, on 2 ENIs, with 2 different ecs_task_id",
        "ecs_container_instance_arn is '-' on 10 of 10 ECS records",
        "egress records without traffic_path: 0",
        "ingress records with traffic_path: 0",
        "src_ecs_task_id = 88316020871d4ec7a200c1ce6d25273d (client)",
    ],
    "03_container_id_ordering": [
        "deploy 1 curl: sent by NginxContainer; the client task's slots say BusyboxContainer / -",
        "slot 1 names the sender on 2 of 5 egress records, either slot on 4 of 5",
        "server deploy 1: slot 1 = NginxContainer, slot 2 = BusyboxContainer",
        "server deploy 2: slot 1 = BusyboxContainer, slot 2 = NginxContainer",
        "tasks with an empty slot: 2 of 4",
        "suffix 3254704778 (NginxContainer): 3 tasks, 2 services, 2 deploys, slots [1, 2]",
        "suffix 3472355196 (BusyboxContainer): 3 tasks, 2 services, 2 deploys, slots [1, 2]",
    ],
    # The simulated figures follow from the committed sample (make simulated-sample).
    "04_service_graph": [
        "article: client deploy 1 -> server deploy 1, server ports [80], protocols [6]",
        "article: client deploy 2 -> server deploy 2, server ports [80], protocols [6]",
        "article: client deploy 1 -> internet, server ports [], protocols [1]",
        "payments -> catalog on 80",
        "7 addresses were held by more than one task's ENI",
        "attributed to the task that held it then (ground truth): 912 of 912",
        "deploy of payments (edge-payments:8 -> edge-payments:9)",
        "GraphML read back: 14 nodes, 37 edges (same as the graph: True)",
    ],
    "05_investigate_your_logs": [
        "loaded 4,000 records from ../data/samples/simulated",
        "ECS fields: yes; both ends attributable: True",
        "rejected records: 22 of 3,795 (0.6%)",
        "top sender: payments",
        "inside ends exchange traffic with aws:S3, internet",
        "service graph: 14 nodes, 37 edges",
    ],
    "06_scale_with_athena": [
        "flow-log format: 39 fields, 10 of them ECS fields",
        "DDL: 39 columns; they follow the header, in order: True",
        "BETWEEN '2024/06/03' AND '2024/06/04'",
        "BETWEEN '2024/06/03/02' AND '2024/06/03/03'",
        "local (polars): 3,696 aggregate rows from 4,000 records; DuckDB (the Athena SQL): 3,696",
        "local (polars) and DuckDB (the Athena SQL) aggregates are equal: True",
        "service graph from the aggregates: 14 nodes, 37 edges",
        "same edges, bytes, packets, flows, ports and times as the graph from the records: True",
        "distinct connections per ENI: 3,632",
        "Athena would scan 102 of 102 deliveries, 193,869 bytes",
    ],
}

by_name = pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)


def _read(nb_path: Path) -> nbformat.NotebookNode:
    return nbformat.read(nb_path, as_version=4)


def _code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _text_outputs(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in _code_cells(nb):
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            else:
                parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def test_the_series_starts_with_notebook_01():
    assert NB_DIR / "01_load_and_clean.ipynb" in NOTEBOOKS


@by_name
def test_name_follows_nn_verb_topic(nb_path: Path):
    assert NAME.match(nb_path.name), f"{nb_path.name}: name notebooks NN_verb_topic.ipynb"


@by_name
def test_committed_without_outputs(nb_path: Path):
    nb = _read(nb_path)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{nb_path.name}: cells {dirty} have outputs; clear them before committing"
    timed = [i for i, cell in enumerate(nb.cells) if "execution" in cell.get("metadata", {})]
    assert not timed, f"{nb_path.name}: cells {timed} keep execution timestamps"


@by_name
def test_no_def_or_class(nb_path: Path):
    cells = _read(nb_path).cells
    offenders = [
        i for i, c in enumerate(cells) if c.cell_type == "code" and DEF_OR_CLASS.search(c.source)
    ]
    assert not offenders, f"{nb_path.name}: cells {offenders} define functions or classes"


@by_name
def test_opens_with_markdown_then_the_one_parameters_cell(nb_path: Path):
    nb = _read(nb_path)
    tagged = [i for i, cell in enumerate(nb.cells) if "parameters" in _tags(cell)]
    assert len(tagged) == 1, f"{nb_path.name}: {len(tagged)} cells tagged 'parameters', want 1"
    assert nb.cells[0].cell_type == "markdown", "open with a markdown cell saying what it shows"
    first_code = next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code")
    assert tagged[0] == first_code, "the parameters cell is the first code cell"


@by_name
def test_parameters_are_literals_or_ecsflow_env_vars(nb_path: Path):
    """Each input is ``NAME = literal`` or ``NAME = os.environ.get("ECSFLOW_...", literal)``."""
    cell = next(c for c in _read(nb_path).cells if "parameters" in _tags(c))
    tree = ast.parse(cell.source)
    names = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            continue
        assert isinstance(node, ast.Assign), f"only assignments: {ast.unparse(node)}"
        value = node.value
        if isinstance(value, ast.Call):
            assert ast.unparse(value.func) == "os.environ.get", ast.unparse(node)
            env, default = value.args
            assert isinstance(env, ast.Constant) and env.value.startswith("ECSFLOW_")
            value = default
        ast.literal_eval(value)  # raises when the default is not a literal
        names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    assert names, f"{nb_path.name}: the parameters cell holds no inputs"
    for name in names:
        assert name.isupper(), f"parameter {name} should be UPPER_CASE"


@by_name
def test_notebook_executes(nb_path: Path):
    """Run every cell (kernel cwd = notebooks/, 600 s per cell); a failing cell fails the test."""
    nb = execute_notebook(nb_path, timeout=600, cwd=NB_DIR, env={"ECSFLOW_REPORT": "0"})
    errors = [o for c in _code_cells(nb) for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    if nb_path.stem in FINDINGS_SHOWN:
        text = _text_outputs(nb)
        for expected in FINDINGS_SHOWN[nb_path.stem]:
            assert expected in text, f"{nb_path.name}: no output shows {expected!r}"


def test_notebook_01_states_its_findings_in_markdown():
    nb = _read(NB_DIR / "01_load_and_clean.ipynb")
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown").lower()
    for statement in ("first notebook", "finding 7", "finding 8", 'pl.col("log_status") == "ok"'):
        assert statement in markdown, statement
