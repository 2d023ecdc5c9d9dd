"""Execute notebooks and render them as self-contained, offline HTML reports.

A report opens without network access: the ``ecsflow_report`` nbconvert template (in
``ecsflow/templates/``) extends JupyterLab's ``lab`` template, drops its CDN scripts
(require.js, MathJax, mermaid), inlines vl-convert's Vega / Vega-Lite / vega-embed bundle once
(:class:`VegaBundlePreprocessor`), and presets ``VEGA_DEBUG`` so altair's default ``html``
renderer uses that bundle instead of fetching it from a CDN. Charts stay interactive.

Notebooks run with nbclient in their own folder (relative ``data/samples`` paths work), with
``ECSFLOW_REPORT=1`` (see :func:`ecsflow.charts.setup_altair`) and ``TQDM_DISABLE=1`` in the
kernel's environment, and without widget state or cell timestamps. Parameters are injected
papermill-style: a cell tagged ``injected-parameters`` right after the cell tagged
``parameters``.

Command line (``make report`` runs exactly this)::

    python -m ecsflow.report --out reports notebooks/*.ipynb [-p NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
import ast
import copy
import html
import os
import sys
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat
from nbconvert.preprocessors import Preprocessor

from ecsflow.progress import progress

__all__ = [
    "TEMPLATE_DIR",
    "TEMPLATE_NAME",
    "VegaBundlePreprocessor",
    "count_chart_outputs",
    "execute_notebook",
    "inject_parameters",
    "main",
    "notebook_title",
    "render_notebook",
    "render_reports",
]

TEMPLATE_DIR = Path(__file__).parent / "templates"
"""Folder holding the ``ecsflow_report`` nbconvert template."""
TEMPLATE_NAME = "ecsflow_report"

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"

#: Markers of an altair/Vega chart in a cell output's data (html renderer or a vega mimetype).
CHART_MARKERS = ("vegaEmbed", "application/vnd.vegalite", "application/vnd.vega.")


class VegaBundlePreprocessor(Preprocessor):
    """Put vl-convert's Vega JavaScript bundle and altair's versions into the resources.

    The ``ecsflow_report`` template inlines ``resources["vega_bundle"]`` once in the page head
    and sets ``VEGA_DEBUG = resources["vega_preset"]``; altair's loader then skips the CDN.
    """

    def preprocess(self, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """Add ``vega_bundle`` and ``vega_preset`` to ``resources``; the notebook is unchanged."""
        import altair as alt
        import vl_convert as vlc
        from altair.utils._importers import vl_version_for_vl_convert

        bundle = vlc.javascript_bundle(vl_version=vl_version_for_vl_convert())
        # Never let the bundle close the inline <script> early.
        resources["vega_bundle"] = bundle.replace("</script", "<\\/script")
        resources["vega_preset"] = {
            "vega_version": alt.VEGA_VERSION,
            "vegalite_version": alt.VEGALITE_VERSION,
            "vegaembed_version": alt.VEGAEMBED_VERSION,
        }
        return nb, resources


def _read(nb: str | os.PathLike[str] | Any) -> Any:
    if isinstance(nb, str | os.PathLike):
        return nbformat.read(os.fspath(nb), as_version=4)
    return nb


def inject_parameters(nb: Any, parameters: Mapping[str, Any] | None) -> Any:
    """Return a copy of a notebook with papermill-style injected parameters.

    Parameters
    ----------
    nb
        A notebook node (``nbformat.read(..., as_version=4)``) or a path to one.
    parameters
        Names and values; each becomes ``NAME = repr(value)`` in a new code cell tagged
        ``injected-parameters``, placed right after the cell tagged ``parameters`` (or first,
        with a warning, when there is none). A previous injected cell is replaced.

    Returns
    -------
    nbformat.NotebookNode
        A new notebook; the input is not modified. Without parameters, an unchanged copy.

    Examples
    --------
    >>> import nbformat.v4 as v4
    >>> nb = v4.new_notebook(cells=[v4.new_code_cell("X = 1", metadata={"tags": ["parameters"]}),
    ...                             v4.new_code_cell("print(X)")])
    >>> out = inject_parameters(nb, {"X": 2})
    >>> [c.source for c in out.cells]
    ['X = 1', '# Parameters\\nX = 2\\n', 'print(X)']
    """
    nb = copy.deepcopy(_read(nb))
    if not parameters:
        return nb
    for name in parameters:
        if not str(name).isidentifier():
            raise ValueError(f"parameter name {name!r} is not a Python identifier")
    source = "# Parameters\n" + "".join(f"{k} = {v!r}\n" for k, v in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED_TAG]})
    if (nb.nbformat, nb.nbformat_minor) < (4, 5):
        cell.pop("id", None)  # cell ids exist from nbformat 4.5 on
    cells = [c for c in nb.cells if INJECTED_TAG not in c.get("metadata", {}).get("tags", [])]
    where = [i for i, c in enumerate(cells) if PARAMETERS_TAG in c.metadata.get("tags", [])]
    if where:
        cells.insert(where[0] + 1, cell)
    else:
        warnings.warn(
            "notebook has no cell tagged 'parameters'; injecting parameters at the top",
            UserWarning,
            stacklevel=2,
        )
        cells.insert(0, cell)
    nb.cells = cells
    return nb


def execute_notebook(
    nb: str | os.PathLike[str] | Any,
    *,
    parameters: Mapping[str, Any] | None = None,
    timeout: int = 600,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Any:
    """Execute a notebook with nbclient the way reports and tests do, and return it.

    Parameters
    ----------
    nb
        A path to an ``.ipynb`` file or a notebook node (not modified; a copy is executed).
    parameters
        Injected after the ``parameters`` cell, see :func:`inject_parameters`.
    timeout
        Seconds each cell may run before it fails (``None`` is not accepted: a hung cell
        would hang the run).
    cwd
        The kernel's working directory; default: the notebook's folder (or the current
        directory for a notebook node).
    env
        Extra environment variables for the kernel, on top of ``os.environ``,
        ``ECSFLOW_REPORT=1`` and ``TQDM_DISABLE=1``.

    Returns
    -------
    nbformat.NotebookNode
        The executed notebook, with outputs, without widget state and cell timestamps.

    Raises
    ------
    nbclient.exceptions.CellExecutionError
        When a cell raises; the message holds the traceback.
    """
    from nbclient import NotebookClient

    if timeout is None or timeout <= 0:
        raise ValueError("timeout must be a positive number of seconds")
    path = Path(nb) if isinstance(nb, str | os.PathLike) else None
    node = inject_parameters(nb, parameters)
    run_dir = Path(cwd) if cwd is not None else (path.parent if path else Path.cwd())
    kernel_env = {**os.environ, "ECSFLOW_REPORT": "1", "TQDM_DISABLE": "1", **(env or {})}
    client = NotebookClient(
        node,
        timeout=timeout,
        kernel_name="python3",
        coalesce_streams=True,
        store_widget_state=False,
        record_timing=False,
        resources={"metadata": {"path": str(run_dir)}},
    )
    client.execute(env=kernel_env)
    return node


def count_chart_outputs(nb: Any) -> int:
    """Count the outputs of a notebook that hold an altair / Vega chart.

    Parameters
    ----------
    nb
        An executed notebook node (or a path to one).

    Returns
    -------
    int
        Outputs whose data carries a chart (altair's ``html`` renderer calls ``vegaEmbed``;
        the mimetype renderers use ``application/vnd.vega*`` keys).

    Examples
    --------
    >>> import nbformat.v4 as v4
    >>> cell = v4.new_code_cell("chart", outputs=[v4.new_output(
    ...     "display_data", data={"text/html": "<div></div><script>vegaEmbed(el, spec)</script>"})])
    >>> count_chart_outputs(v4.new_notebook(cells=[cell]))
    1
    """
    nb = _read(nb)
    count = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            text = " ".join([*data.keys(), *(v for v in data.values() if isinstance(v, str))])
            if any(marker in text for marker in CHART_MARKERS):
                count += 1
    return count


def notebook_title(nb: Any, *, default: str = "") -> str:
    """Return the first markdown heading of a notebook, or ``default``.

    Examples
    --------
    >>> import nbformat.v4 as v4
    >>> notebook_title(v4.new_notebook(cells=[v4.new_markdown_cell("# Load and clean\\ntext")]))
    'Load and clean'
    """
    nb = _read(nb)
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip()
    return default


def _export_html(nb: Any, *, name: str) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name=TEMPLATE_NAME, extra_template_basedirs=[str(TEMPLATE_DIR)]
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": name}})
    return body


def render_notebook(
    nb_path: str | os.PathLike[str],
    out_html: str | os.PathLike[str],
    *,
    parameters: Mapping[str, Any] | None = None,
    timeout: int = 600,
    cwd: str | os.PathLike[str] | None = None,
    save_notebook: bool = False,
) -> Path:
    """Execute a notebook and write it as one self-contained, offline HTML file.

    Parameters
    ----------
    nb_path
        The ``.ipynb`` file.
    out_html
        Where to write the report; its folder is created.
    parameters
        Injected after the ``parameters`` cell (papermill convention), e.g.
        ``{"SOURCE": "s3://bucket/AWSLogs/"}``.
    timeout
        Seconds each cell may run.
    cwd
        The kernel's working directory; default: the notebook's folder.
    save_notebook
        Also write the executed notebook (with outputs) beside the report, as
        ``out_html`` with the suffix ``.ipynb``; handy for debugging and for tests.

    Returns
    -------
    pathlib.Path
        ``out_html``.

    Raises
    ------
    nbclient.exceptions.CellExecutionError
        When a cell fails; nothing is written then.

    Examples
    --------
    Render notebook 01 on the samples (about ten seconds, most of it kernel start)::

        render_notebook("notebooks/01_load_and_clean.ipynb", "reports/01_load_and_clean.html")
    """
    nb_path = Path(nb_path)
    executed = execute_notebook(nb_path, parameters=parameters, timeout=timeout, cwd=cwd)
    body = _export_html(executed, name=nb_path.stem)
    out = Path(out_html)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body, encoding="utf-8")
    if save_notebook:
        nbformat.write(executed, out.with_suffix(".ipynb"))
    return out


def _index_html(entries: Sequence[tuple[str, str, str]]) -> str:
    items = "\n".join(
        f'    <li><a href="{html.escape(href, quote=True)}">{html.escape(title)}</a>'
        f" <small>({html.escape(stem)})</small></li>"
        for href, title, stem in entries
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>ecsflow reports</title>
  <style>
    body {{ font-family: system-ui, sans-serif; max-width: 48rem; margin: 2rem auto;
           padding: 0 1rem; line-height: 1.5; }}
    small {{ color: #666; }}
  </style>
</head>
<body>
  <h1>ecsflow reports</h1>
  <p>Each report is one self-contained HTML file: it opens offline, charts are interactive.</p>
  <ol>
{items}
  </ol>
</body>
</html>
"""


def render_reports(
    notebooks: Iterable[str | os.PathLike[str]],
    *,
    out_dir: str | os.PathLike[str],
    parameters: Mapping[str, Any] | None = None,
    timeout: int = 600,
    save_notebooks: bool = False,
) -> list[Path]:
    """Render notebooks to ``out_dir/<stem>.html`` and write ``out_dir/index.html``.

    Parameters
    ----------
    notebooks
        The ``.ipynb`` files, rendered in the given order (sorted by name is the series order).
    out_dir
        Folder for the reports; created when missing.
    parameters
        Injected into every notebook (see :func:`render_notebook`).
    timeout
        Seconds each cell may run.
    save_notebooks
        Also write each executed notebook as ``out_dir/<stem>.ipynb``.

    Returns
    -------
    list of pathlib.Path
        The reports, in order. ``index.html`` beside them links each one under its notebook's
        title (its first markdown heading).

    Raises
    ------
    nbclient.exceptions.CellExecutionError
        When a cell of any notebook fails (the reports rendered before it are kept).

    Examples
    --------
    Render the series on your own logs::

        render_reports(sorted(Path("notebooks").glob("*.ipynb")), out_dir="reports",
                       parameters={"SOURCE": "s3://my-bucket/AWSLogs/"})
    """
    paths = [Path(p) for p in notebooks]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    entries: list[tuple[str, str, str]] = []
    for nb_path in progress(paths, desc="reports", unit="nb"):
        started = time.perf_counter()
        target = render_notebook(
            nb_path,
            out / f"{nb_path.stem}.html",
            parameters=parameters,
            timeout=timeout,
            save_notebook=save_notebooks,
        )
        title = notebook_title(nb_path, default=nb_path.stem)
        written.append(target)
        entries.append((target.name, title, nb_path.stem))
        print(
            f"rendered {nb_path.name} -> {target} in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
    (out / "index.html").write_text(_index_html(entries), encoding="utf-8")
    return written


def _parse_parameter(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return name.strip(), value


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m ecsflow.report --out DIR NOTEBOOK... [-p NAME=VALUE]``.

    Returns the exit status: 0 when every report was written, 1 when a notebook failed.
    """
    parser = argparse.ArgumentParser(
        prog="python -m ecsflow.report",
        description="Execute notebooks and render self-contained offline HTML reports.",
    )
    parser.add_argument("notebooks", nargs="+", type=Path, help=".ipynb files to render")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        type=_parse_parameter,
        metavar="NAME=VALUE",
        help="inject a parameter (a Python literal, else a string); repeatable",
    )
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (600)")
    parser.add_argument(
        "--save-notebooks",
        action="store_true",
        help="also write each executed notebook (with outputs) beside its report",
    )
    args = parser.parse_args(argv)
    return render_reports_cli(
        args.notebooks,
        out_dir=args.out,
        parameters=dict(args.parameter) or None,
        timeout=args.timeout,
        save_notebooks=args.save_notebooks,
    )


def render_reports_cli(
    notebooks: Sequence[str | Path],
    *,
    out_dir: Path,
    parameters: dict[str, Any] | None = None,
    timeout: int = 600,
    save_notebooks: bool = False,
    label: str = "",
) -> int:
    """Render reports for a command line: one summary line, exit status 0, or 1 on a failed cell."""
    from nbclient.exceptions import CellExecutionError

    started = time.perf_counter()
    on = f" on {label}" if label else ""
    try:
        written = render_reports(
            notebooks,
            out_dir=out_dir,
            parameters=parameters,
            timeout=timeout,
            save_notebooks=save_notebooks,
        )
    except CellExecutionError as exc:
        print(f"error: a notebook cell failed{on}:\n{exc}", file=sys.stderr)
        return 1
    print(
        f"wrote {len(written)} report(s){on} and {Path(out_dir) / 'index.html'} "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
