"""Benchmarks: each case runs in its own process, timed, with its peak RSS.

Usage::

    .venv/bin/python benchmarks/run.py DATA_DIR [CASE ...]

``DATA_DIR`` is a simulated deployment (``ecsflow simulate DATA_DIR --records N``). Cases run in
the order given (default: all) and print one Markdown table with wall time, CPU time, peak RSS,
records per second and the ratio to the full load, measured in the same run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

GRAPH_COLUMNS = [
    "interface_id", "srcaddr", "dstaddr", "pkt_srcaddr", "pkt_dstaddr", "srcport", "dstport",
    "protocol", "packets", "bytes", "start", "end", "action", "log_status", "tcp_flags",
    "flow_direction", "pkt_src_aws_service", "pkt_dst_aws_service", "ecs_cluster_name",
    "ecs_container_instance_arn", "ecs_service_name", "ecs_task_definition_arn", "ecs_task_id",
]  # fmt: skip

# Each case is Python source run in a fresh interpreter; it sets `rows`.
CASES = {
    "load_full": "rows = ecsflow.read_flow_logs(DATA).height",
    "load_graph_columns": "rows = ecsflow.read_flow_logs(DATA, columns=COLUMNS).height",
    "attribute_and_graph": (
        "flows = ecsflow.read_flow_logs(DATA, columns=COLUMNS)\n"
        "t0 = time.perf_counter()\n"
        "attributed = ecsflow.attribute_flows(flows)\n"
        "graph = ecsflow.service_graph(attributed, level='task')\n"
        "extra['attribute_and_graph_s'] = time.perf_counter() - t0\n"
        "extra['edges'] = graph.number_of_edges()\n"
        "rows = attributed.height"
    ),
}


def measure(argv: list[str], *, stdout: int | None = subprocess.PIPE) -> dict:
    """Run ``argv`` in its own process: its last stdout line (JSON, if any), wall time, CPU
    time and peak RSS (from ``wait4``, so of that process alone)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=stdout, text=True, env={**os.environ})
    text = proc.stdout.read() if proc.stdout is not None else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"{argv} failed with status {status}")
    lines = text.strip().splitlines()
    out = json.loads(lines[-1]) if lines else {}
    out.update(
        process_s=time.perf_counter() - start,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mib=usage.ru_maxrss / 1024,
    )
    return out


def run_case(name: str, data: str) -> dict:
    code = (
        "import json, sys, time, resource\n"
        "import ecsflow\n"
        f"DATA = {data!r}\nCOLUMNS = {GRAPH_COLUMNS!r}\nextra = {{}}\n"
        "t0 = time.perf_counter()\n"
        f"{CASES[name]}\n"
        "wall = time.perf_counter() - t0\n"
        "print(json.dumps({'rows': rows, 'wall': wall, **extra}))\n"
    )
    out = measure([sys.executable, "-c", code])
    out.update(case=name)
    return out


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        raise SystemExit(__doc__)
    data, names = args[0], args[1:] or list(CASES)
    results = [run_case(n, data) for n in names]
    base = next((r["wall"] for r in results if r["case"] == "load_full"), None)
    print("| case | records | wall s | CPU s | peak RSS MiB | records/s | x full load |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        ratio = f"{r['wall'] / base:.2f}" if base else "-"
        print(
            f"| {r['case']} | {r['rows']:,} | {r['wall']:.1f} | {r['cpu_s']:.1f} | "
            f"{r['peak_rss_mib']:,.0f} | {r['rows'] / r['wall']:,.0f} | {ratio} |"
        )
        extra = {
            k: v
            for k, v in r.items()
            if k not in {"case", "rows", "wall", "cpu_s", "peak_rss_mib", "process_s"}
        }
        if extra:
            print(f"|  {r['case']} details | {json.dumps(extra)} ||||||")


if __name__ == "__main__":
    main()
