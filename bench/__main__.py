"""The benchmark's one command: run the scenarios, judge the targets, write RESULTS.md and the plot.

    .venv/bin/python -m bench --quick   # seconds: the same shape at scaled-down sizes
    .venv/bin/python -m bench           # the issue's sizes (about 15 minutes on 2 cores)

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

from bench import scenarios
from bench.plot import plot
from bench.report import write_results
from bench.run import run_all
from bench.targets import judge

BENCH_DIR = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="scaled-down sizes: a run of seconds")
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for RESULTS.md, results.png, results.json (default: bench/)"
    )
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    out = args.out or BENCH_DIR
    if args.quick and args.out is None:
        out = BENCH_DIR / "quick"  # a quick run never overwrites the committed full results
    out.mkdir(parents=True, exist_ok=True)
    started, clock, load_before = datetime.now(UTC), time.perf_counter(), os.getloadavg()[0]
    rows = run_all(scenarios.quick() if args.quick else scenarios.full(), log=lambda line: print(line, flush=True))
    sizes = scenarios.SIZE_NAMES[mode]
    verdicts = judge(rows, sizes)
    command = "python -m bench" + (" --quick" if args.quick else "")
    plot(rows, out / "results.png", f"IoT certificate audit benchmark ({mode} run)")
    (out / "results.json").write_text(json.dumps([r.as_dict() for r in rows], indent=1))
    write_results(
        out / "RESULTS.md",
        rows,
        verdicts,
        sizes,
        mode=mode,
        command=command,
        started=started.strftime("%Y-%m-%d %H:%M UTC"),
        duration_s=time.perf_counter() - clock,
        plot_name="results.png",
        # Other work on the machine slows wall times (CPU times much less): say how busy it was.
        load=f"{load_before:.1f} at the start and {os.getloadavg()[0]:.1f} at the end (1-minute)",
    )
    print()
    for verdict in verdicts:
        outcome = {True: "pass", False: "FAIL", None: "not measured"}[verdict.passed]
        print(f"{outcome:>12}  {verdict.target}: {verdict.measured}")
    print(f"\nWrote {out / 'RESULTS.md'} and {out / 'results.png'}")
    wrong = [r for r in rows if not r.correct]
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
