"""The ``ecsflow`` command line.

Each subcommand is registered by one ``_add_<name>(subparsers)`` function that sets
``func`` to its handler, so a new subcommand (``report``, ...) is one more such function
added to :data:`SUBCOMMANDS`.

Examples
--------
>>> import tempfile
>>> out = tempfile.mkdtemp()
>>> main(["simulate", out, "--seed", "2", "--records", "200", "--quiet"])
0
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import sys
import typing
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

__all__ = ["build_parser", "main"]


def _param_value(text: str) -> tuple[str, object]:
    """Parse ``NAME=VALUE`` for ``--set``, typed from :class:`SimulationParams`."""
    from ecsflow.simulate_model import SimulationParams

    name, sep, raw = text.partition("=")
    name = name.strip().replace("-", "_")
    types = typing.get_type_hints(SimulationParams)
    if not sep or name not in types:
        valid = ", ".join(sorted(f.name for f in dataclasses.fields(SimulationParams)))
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE with NAME one of: {valid}")
    kind = types[name]
    try:
        if kind is bool:
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            value: object = raw.lower() in ("true", "1", "yes")
        elif kind is datetime:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        else:
            value = kind(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{name}: {raw!r} is not a valid {kind.__name__}"
        ) from None
    return name, value


def _add_simulate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="simulate an ECS deployment and write its VPC flow logs and ground truth",
        description=(
            "Write simulated VPC flow logs (AWS's S3 layout and file names) to OUT/AWSLogs and "
            "the ground truth to OUT/truth. The same seed gives byte-identical output."
        ),
    )
    p.add_argument("out", help="output directory (its AWSLogs/ and truth/ are replaced)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--records", type=int, default=10_000, help="records to write")
    p.add_argument(
        "--format",
        dest="file_format",
        choices=("text", "parquet"),
        default="text",
        help="object format (default text: gzip with a header line)",
    )
    p.add_argument(
        "--log-format",
        default=None,
        help="fields to write, as AWS's LogFormat ('${version} ${srcaddr} ...') or names; "
        "default: every field of versions 2-7",
    )
    p.add_argument(
        "--layout",
        choices=("default", "hourly", "hive", "hive-hourly"),
        default="default",
        help="S3 prefix layout",
    )
    p.add_argument(
        "--aggregation-interval",
        type=int,
        choices=(60, 600),
        default=None,
        help="maximum aggregation interval in seconds",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        type=_param_value,
        default=[],
        metavar="NAME=VALUE",
        help="a simulation parameter (see ecsflow.SimulationParams), e.g. p_empty_slot=0.3; "
        "repeatable",
    )
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=_run_simulate)


def _run_simulate(args: argparse.Namespace) -> int:
    from ecsflow.simulate import DEFAULT_V7_FORMAT, simulate

    overrides = dict(args.overrides)
    if args.aggregation_interval is not None:
        overrides["aggregation_interval"] = args.aggregation_interval
    result = simulate(
        args.out,
        seed=args.seed,
        records=args.records,
        log_format=args.log_format or DEFAULT_V7_FORMAT,
        file_format=args.file_format,
        layout=args.layout,
        **overrides,
    )
    if not args.quiet:
        print(
            f"wrote {result.records} records in {len(result.files)} files "
            f"({result.start:%Y-%m-%d %H:%M} to {result.end:%Y-%m-%d %H:%M} UTC, "
            f"{result.tasks} tasks) to {result.out_dir}; ground truth in {result.truth_dir}"
        )
    return 0


NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
"""The notebook series (a source checkout's ``notebooks/`` folder)."""

#: Notebooks ``ecsflow report`` runs by default: the ones written for any flow logs. Notebooks
#: 01-03 reproduce the article's findings on its own records and are not retargeted (they can
#: still be named with ``--notebooks``).
REPORT_NOTEBOOKS = ("04_service_graph", "05_investigate_your_logs")


# Options that are secrets: they would be written into the report with the notebook's
# parameters, so they must come from the AWS credential chain instead.
_SECRET_OPTION = re.compile(r"secret|token|access_key|password|credential", re.IGNORECASE)


def _storage_option(text: str) -> tuple[str, str]:
    """Parse ``KEY=VALUE`` for ``--storage-option``; credentials are refused."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    if _SECRET_OPTION.search(key):
        raise argparse.ArgumentTypeError(
            f"{key.strip()} is a credential: reports show their parameters, so give credentials "
            "through the standard AWS chain (environment, profile, role), not --storage-option"
        )
    return key.strip(), value


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="run the notebooks on your flow logs and render offline HTML reports",
        description=(
            "Run the parameterised notebooks on SOURCE (a file, folder, glob or s3:// URL) and "
            "write one self-contained HTML report per notebook plus index.html into OUT. "
            f"Default notebooks: {', '.join(REPORT_NOTEBOOKS)} (01-03 reproduce the article "
            "on its own records)."
        ),
    )
    p.add_argument("source", help="flow logs: a path (made absolute) or an s3:// URL")
    p.add_argument("--out", required=True, type=Path, help="output folder for the reports")
    p.add_argument(
        "--notebooks",
        nargs="+",
        default=None,
        metavar="NB",
        help="notebooks to run: names in notebooks/ (e.g. 05_investigate_your_logs) or paths; "
        f"default: {' '.join(REPORT_NOTEBOOKS)}",
    )
    p.add_argument(
        "--storage-option",
        dest="storage_options",
        action="append",
        type=_storage_option,
        default=[],
        metavar="KEY=VALUE",
        help="an object-store option for s3:// sources (e.g. aws_region=eu-west-1); repeatable",
    )
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    p.add_argument(
        "--save-notebooks",
        action="store_true",
        help="also write each executed notebook (with outputs) beside its report",
    )
    p.add_argument(
        "--redact",
        action="store_true",
        help="mask account ids (also inside ARNs) and public IPs with stable pseudonyms, so "
        "the reports can be shared; the key comes from --redact-key or ECSFLOW_REDACT_KEY",
    )
    p.add_argument(
        "--redact-key",
        default=None,
        help="secret for the pseudonyms: the same key gives the same pseudonyms",
    )
    p.set_defaults(func=_run_report)


def _notebook_paths(names: Sequence[str] | None) -> list[Path]:
    paths = []
    for name in names or REPORT_NOTEBOOKS:
        given = Path(name)
        candidates = [given, NOTEBOOK_DIR / given.name, NOTEBOOK_DIR / f"{given.name}.ipynb"]
        found = next((c for c in candidates if c.suffix == ".ipynb" and c.is_file()), None)
        if found is None:
            raise ValueError(f"no notebook {name!r} (looked in {NOTEBOOK_DIR})")
        paths.append(found.resolve())
    return paths


def _run_report(args: argparse.Namespace) -> int:
    from ecsflow.report import render_reports_cli

    source = args.source
    if "://" not in source:
        local = Path(source).expanduser()
        if not local.exists() and not any(ch in source for ch in "*?["):
            raise ValueError(f"{source}: no such file or folder")
        source = str(local.resolve()) if local.exists() else str(Path.cwd() / local)
    parameters: dict[str, object] = {"SOURCE": source}
    if args.storage_options:
        parameters["STORAGE_OPTIONS"] = dict(args.storage_options)
    notebooks = _notebook_paths(args.notebooks)
    staged, label = None, source
    if args.redact:
        from ecsflow.redact import write_redacted

        key = args.redact_key or os.environ.get("ECSFLOW_REDACT_KEY")
        if not key:
            raise ValueError("--redact needs --redact-key or ECSFLOW_REDACT_KEY")
        # The notebooks read a redacted copy, kept inside OUT while they run: nothing of the
        # original (account ids, public addresses, its path) reaches the reports.
        staged = Path(args.out) / ".redacted-source"
        write_redacted(
            source,
            staged,
            key=key,
            storage_options=dict(args.storage_options) or None,
        )
        parameters, label = {"SOURCE": str(staged.resolve())}, "the redacted logs"
    try:
        return render_reports_cli(
            notebooks,
            out_dir=args.out,
            parameters=parameters,
            timeout=args.timeout,
            save_notebooks=args.save_notebooks,
            label=label,
        )
    finally:
        if staged is not None:
            shutil.rmtree(staged, ignore_errors=True)


def _add_athena(sub: argparse._SubParsersAction) -> None:
    from ecsflow.athena import add_cli

    add_cli(sub)


SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_simulate,
    _add_report,
    _add_athena,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand.

    >>> build_parser().parse_args(["simulate", "out", "--records", "5"]).records
    5
    """
    parser = argparse.ArgumentParser(
        prog="ecsflow", description="Which ECS services talk to which, from VPC Flow Logs."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad arguments or parameters)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:
        parser.exit(2, f"ecsflow {args.command}: error: {exc}\n")
    return 2  # pragma: no cover - parser.exit raises


if __name__ == "__main__":
    sys.exit(main())
