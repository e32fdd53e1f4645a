"""The benchmark's one command: run the scenarios, judge the targets, write RESULTS.md and the plot.

    .venv/bin/python -m bench --quick   # seconds: the same shape at scaled-down sizes
    .venv/bin/python -m bench           # the issue's sizes (about 30 minutes on 2 cores, the memory group included)

Run from the repository root. The AWS CLI is installed into bench/.venv-awscli on first use.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import formats as formats_group
from bench import memory as memory_group
from bench import scenarios
from bench.plot import plot
from bench.report import engine_version, machine, versions, write_results
from bench.run import Row, run_all
from bench.targets import judge

BENCH_DIR = Path(__file__).resolve().parent


MEMORY = "memory"  # the state and archive at scale (bench/memory.py), apart from the scan's scenarios
FORMATS = "formats"  # the archive's OCSF documents at scale (bench/formats.py)


def render(out: Path, rows: list[Row], meta: dict, memory: dict | None = None, formats: dict | None = None) -> list:
    """Judge the targets and write RESULTS.md and the plot from a run's rows and facts (and the memory group's)."""
    verdicts = judge(rows, scenarios.SIZE_NAMES[meta["mode"]])
    plot(rows, out / "results.png", f"IoT certificate audit benchmark ({meta['mode']} run)")
    before_file = out / "results-before.json"  # the run before the engine's profile-driven changes
    before = json.loads(before_file.read_text()) if before_file.exists() else None
    write_results(
        out / "RESULTS.md", rows, verdicts, meta, plot_name="results.png", before=before, memory=memory, formats=formats
    )
    for verdict in verdicts:
        outcome = {True: "pass", False: "FAIL", None: "not measured"}[verdict.passed]
        print(f"{outcome:>12}  {verdict.target}: {verdict.measured}")
    print(f"\nWrote {out / 'RESULTS.md'} and {out / 'results.png'}")
    return verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="scaled-down sizes: a run of seconds")
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for RESULTS.md, results.png, results.json (default: bench/)"
    )
    parser.add_argument(
        "--rerender", action="store_true", help="rewrite RESULTS.md and the plot from results.json, without running"
    )
    parser.add_argument(
        "--only",
        choices=(*scenarios.GROUPS, MEMORY, FORMATS),
        help="run one group of scenarios again and replace its rows in results.json",
    )
    args = parser.parse_args(argv)
    out = args.out or (BENCH_DIR / "quick" if args.quick else BENCH_DIR)  # quick never overwrites the full results
    out.mkdir(parents=True, exist_ok=True)
    if args.rerender:
        saved = json.loads((out / "results.json").read_text())
        rows = [Row.from_dict(row) for row in saved["rows"] if row["contender"] in scenarios.CONTENDERS]
        render(out, rows, saved["meta"], saved.get(MEMORY), saved.get(FORMATS))
        return 0
    mode = "quick" if args.quick else "full"
    command = "python -m bench" + (" --quick" if args.quick else "")
    if args.only == MEMORY:  # keep every scan row, replace the memory group's figures (the last kept as before)
        saved = json.loads((out / "results.json").read_text())
        saved[MEMORY] = memory_group.with_before(run_memory(mode, f"{command} --only {MEMORY}"), saved.get(MEMORY))
        (out / "results.json").write_text(json.dumps(saved, indent=1))
        rows = [Row.from_dict(row) for row in saved["rows"] if row["contender"] in scenarios.CONTENDERS]
        print()
        render(out, rows, saved["meta"], saved[MEMORY], saved.get(FORMATS))
        return 0 if all(point["correct"] for point in saved[MEMORY]["points"]) else 1
    if args.only == FORMATS:  # keep everything else, replace the formats group's figures
        saved = json.loads((out / "results.json").read_text())
        saved[FORMATS] = run_formats(mode, f"{command} --only {FORMATS}")
        (out / "results.json").write_text(json.dumps(saved, indent=1))
        rows = [Row.from_dict(row) for row in saved["rows"] if row["contender"] in scenarios.CONTENDERS]
        print()
        render(out, rows, saved["meta"], saved.get(MEMORY), saved[FORMATS])
        return 0 if saved[FORMATS]["ocsf"]["correct"] else 1
    meta = run_facts(mode, command=command)
    chosen = scenarios.quick() if args.quick else scenarios.full()
    if args.only:
        chosen = [scenario for scenario in chosen if scenario.group == args.only]
    clock = time.perf_counter()
    rows = run_all(chosen, log=lambda line: print(line, flush=True))
    # Other work on the machine slows wall times (CPU times much less): say how busy it was.
    meta.update(duration_s=time.perf_counter() - clock, load_after=os.getloadavg()[0])
    if engine_version() != meta["engine"]:  # someone committed or edited lambda/ during the run
        meta["engine_changed"] = engine_version()
    if args.only:  # keep the other groups' rows and the facts of the run that measured them
        saved = json.loads((out / "results.json").read_text())
        kept = [Row.from_dict(row) for row in saved["rows"] if row["group"] != args.only]
        rerun = saved["meta"].get("rerun", []) + [{"group": args.only, **meta}]
        rows, meta = kept + rows, {**saved["meta"], "rerun": rerun}
        memory, formats = saved.get(MEMORY), saved.get(FORMATS)
    else:
        memory, formats = run_memory(mode, command), run_formats(mode, command)
    results = {"meta": meta, "rows": [r.as_dict() for r in rows]} | ({MEMORY: memory} if memory else {})
    results |= {FORMATS: formats} if formats else {}
    (out / "results.json").write_text(json.dumps(results, indent=1))
    print()
    render(out, rows, meta, memory, formats)
    wrong = any(not r.correct for r in rows) or any(not point["correct"] for point in (memory or {}).get("points", []))
    return 1 if wrong else 0


def run_group(group, quick: int, full: int, mode: str, command: str) -> dict:
    """A sized group (memory, formats) at the mode's size, with the facts RESULTS.md states about its run."""
    facts = run_facts(mode, command)
    clock = time.perf_counter()
    figures = group.run_group(quick if mode == "quick" else full, log=lambda line: print(line, flush=True))
    facts.update(duration_s=time.perf_counter() - clock, load_after=os.getloadavg()[0])
    return figures | {"meta": facts}


def run_memory(mode: str, command: str) -> dict:
    return run_group(memory_group, memory_group.QUICK_OPEN, memory_group.FULL_OPEN, mode, command)


def run_formats(mode: str, command: str) -> dict:
    return run_group(formats_group, formats_group.QUICK, formats_group.FULL, mode, command)


def run_facts(mode: str, command: str) -> dict:
    """What RESULTS.md says about the run, taken before it starts (the engine may change during it)."""
    return {
        "mode": mode,
        "command": command,
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_before": os.getloadavg()[0],
        "machine": machine(),
        "versions": f"{versions()}; {engine_version()}",
        "engine": engine_version(),
    }


if __name__ == "__main__":
    sys.exit(main())
