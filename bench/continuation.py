"""The continuation group (issue 12): what handing a run over to the next invocation costs, and the
last invocation's merge of the parts at scale.

`PYTHONPATH=lambda:. .venv/bin/python -m bench.continuation` runs it and writes bench/continuation.json;
RESULTS.md shows it (bench/report.py, `section`) from that file, so `python -m bench --rerender` keeps it.
Each step runs in a process of its own (peak RSS by wait4), with the function's own code
(cert_audit.continuation) and an S3 client that keeps the bodies in files:

- handover: one invocation's hand-over at FINDINGS_PER_PART findings (a million certificates at 1%
  flagged, about what one invocation scans at the default rate limit) and at ten times that: the
  part written (gzip JSON Lines, to a temporary file, then put) and the checkpoint as JSON, both ways.
- merge: the last invocation's merge of a run of MERGE_FINDINGS findings in MERGE_PARTS parts: every
  part read back a line at a time, the findings of each CA put together, and the one report built
  (report_of, findings worst first). *correct*: the report holds every finding once.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench.memory import _rss_mb, _timed, finding
from bench.processes import base_env, run_measured

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "continuation.json"
FINDINGS_PER_PART = (10_000, 100_000)
MERGE_FINDINGS, MERGE_PARTS = 1_000_000, 10
QUICK_MERGE_FINDINGS = 50_000
CAS = 10
# The function's figures the section judges with (handler.py, config.DEFAULT_IOT_RATE_LIMIT).
LAMBDA_TIMEOUT_S, CONTINUE_RESERVE_S, DEFAULT_RATE_LIMIT = 900, 120, 5
AUDIT_ID = "bench-audit"
BUCKET = "bench-bucket"


class FolderS3:
    """put_object keeps the body in a file of the folder; get_object reads it back."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.sizes: dict[str, int] = {}

    def _path(self, key: str) -> Path:
        return self.folder / key.replace("/", "_")

    def put_object(self, *, Body, Key: str, **_) -> dict:  # noqa: N803 - boto3's names
        with open(self._path(Key), "wb") as kept:
            shutil.copyfileobj(Body, kept, 1 << 20)
            self.sizes[Key] = kept.tell()
        return {"ETag": '"bench"'}

    def get_object(self, *, Key: str, **_) -> dict:  # noqa: N803
        return {"Body": open(self._path(Key), "rb")}  # noqa: SIM115 - the reader closes it


def _run(folder: Path):
    from cert_audit.calls import NO_DEADLINE
    from cert_audit.config import load_config
    from cert_audit.continuation import Run

    s3 = FolderS3(folder)
    return Run(
        iot_client=None,
        s3=lambda: s3,
        bucket=BUCKET,
        config=load_config({}, require_topic=False),
        account_id="123456789012",
        suppressions=[],
        errors=[],
        scan_deadline=lambda last: NO_DEADLINE,
        part_deadline=NO_DEADLINE,
        room_to_finish=lambda: True,
    ), s3


def _scans(first: int, count: int, with_lines: bool):
    """The CAs of one invocation, holding findings first..first+count (spread over CAS CAs)."""
    from cert_audit.continuation import Done
    from cert_audit.scan import CaScan

    scans = {}
    for index in range(first, first + count):
        found = finding(index)
        scan = scans.setdefault(found["caCertificateId"], CaScan(found["caCertificateId"]))
        scan.findings.append(found)
        scan.by_status[found["status"]] += 1
        scan.certificates_scanned += 1
    done = []
    if with_lines:
        for position, scan in enumerate(scans.values()):
            scan.ca = {"certificateId": scan.ca_certificate_id, "status": "ACTIVE", "validity": {}}
            done.append(Done(scan, position))
    return list(scans.values()), done


def step_handover(args) -> dict:
    from cert_audit.continuation import Checkpoint, write_part

    folder = Path(args.folder)
    run, s3 = _run(folder)
    scans, done = _scans(0, args.findings, with_lines=False)
    in_progress = list(scans)
    checkpoint = Checkpoint(AUDIT_ID, datetime.now(UTC), invocations=0)
    before = _rss_mb()
    _, wall, cpu = _timed(lambda: write_part(run, checkpoint, done, scans))
    handed = Checkpoint(
        AUDIT_ID,
        checkpoint.now,
        invocations=1,
        left=[f"{n:064x}" for n in range(100)],
        in_progress=in_progress,
        positions={scan.ca_certificate_id: n for n, scan in enumerate(in_progress)},
    )
    clock = time.perf_counter()
    text = json.dumps(handed.to_json())
    Checkpoint.from_json(json.loads(text))
    checkpoint_s = time.perf_counter() - clock
    return {
        "findings": args.findings,
        "wall_s": wall,
        "cpu_s": cpu,
        "rss_before_mb": before,
        "gz_bytes": sum(s3.sizes.values()),
        "checkpoint_bytes": len(text.encode()),
        "checkpoint_s": checkpoint_s,
        "checkpoint_cas": {"left": 100, "in_progress": len(in_progress)},
    }


def step_prepare(args) -> dict:
    """The parts of a run of args.findings findings, args.parts of them (not measured)."""
    from cert_audit.continuation import Checkpoint, write_part

    run, _ = _run(Path(args.folder))
    per_part = args.findings // args.parts
    for part in range(args.parts):
        scans, done = _scans(part * per_part, per_part, with_lines=part == args.parts - 1)
        write_part(run, Checkpoint(AUDIT_ID, datetime.now(UTC), invocations=part), done, scans)
    return {}


def step_merge(args) -> dict:
    from cert_audit.continuation import Checkpoint, _report

    run, _ = _run(Path(args.folder))
    checkpoint = Checkpoint(AUDIT_ID, datetime.now(UTC), invocations=args.parts)
    before = _rss_mb()
    report, wall, cpu = _timed(lambda: _report(run, checkpoint, [], "us-east-1", True))
    ids = {f["findingId"] for f in report["findings"]}
    return {
        "findings": len(report["findings"]),
        "unique": len(ids),
        "wall_s": wall,
        "cpu_s": cpu,
        "rss_before_mb": before,
        "cas": len(report["cas"]),
        "by_status": dict(Counter(f["status"] for f in report["findings"])),
    }


STEPS = {"handover": step_handover, "prepare": step_prepare, "merge": step_merge}


def run_step(name: str, folder: Path, **options) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as result:
        argv = [sys.executable, "-m", "bench.continuation", "--step", name, "--folder", str(folder)]
        argv += ["--result", result.name] + [f"--{key}={value}" for key, value in options.items()]
        cost = run_measured(argv, base_env(), subprocess.DEVNULL)
        figures = json.loads(Path(result.name).read_text() or "{}")
    return figures | {"peak_rss_mb": cost.peak_rss_mb, "process_wall_s": cost.wall_s}


def run_group(merge_findings: int, log=print, handover_sizes: tuple[int, ...] = FINDINGS_PER_PART) -> dict:
    handovers = []
    for findings in handover_sizes:
        with tempfile.TemporaryDirectory() as folder:
            handover = run_step("handover", Path(folder), findings=findings)
        log(
            f"continuation: hand-over of {findings:,} findings: part {handover['cpu_s']:.2f} s CPU, "
            f"{handover['gz_bytes'] / 1e6:.1f} MB; checkpoint {handover['checkpoint_bytes']:,} bytes"
        )
        handovers.append(handover)
    with tempfile.TemporaryDirectory() as folder:
        run_step("prepare", Path(folder), findings=merge_findings, parts=MERGE_PARTS)
        merge = run_step("merge", Path(folder), findings=merge_findings, parts=MERGE_PARTS)
    merge["correct"] = merge["findings"] == merge["unique"] == merge_findings
    log(
        f"continuation: merge of {merge_findings:,} findings in {MERGE_PARTS} parts: {merge['cpu_s']:.1f} s CPU, "
        f"peak {merge['peak_rss_mb']:,.0f} MB{'' if merge['correct'] else '  WRONG RESULT'}"
    )
    return {"handover": handovers, "merge": merge, "merge_parts": MERGE_PARTS}


def section(results: dict | None = None) -> list[str]:
    """The group's section of RESULTS.md, from bench/continuation.json."""
    if results is None:
        if not RESULTS.exists():
            return []
        results = json.loads(RESULTS.read_text())
    meta, merge = results["meta"], results["merge"]
    lines = [
        "## Continuation (issue 12)",
        "",
        f"Produced by `{meta['command']}` on {meta['started']} in {meta['duration_s'] / 60:.1f} minutes "
        f"(load average {meta['load_before']:.1f} → {meta['load_after']:.1f}; {meta['engine']}). "
        "The function's own code (cert_audit.continuation), each step in a process of its own "
        "(*peak RSS* by wait4, *before*: its RSS with the findings built), S3 replaced by files (the upload and "
        "the download themselves are not measured: one PutObject a hand-over, one GetObject a part at the end).",
        "",
        "| hand-over of | part CPU s | part wall s | part gz MB | bytes a finding | checkpoint bytes | "
        "checkpoint JSON both ways ms | RSS before → peak MB |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in results["handover"]:
        cas = row["checkpoint_cas"]
        lines.append(
            f"| {row['findings']:,} findings ({cas['in_progress']} CAs in progress, {cas['left']} left) "
            f"| {row['cpu_s']:.2f} | {row['wall_s']:.2f} | {row['gz_bytes'] / 1e6:.1f} "
            f"| {row['gz_bytes'] / row['findings']:.0f} | {row['checkpoint_bytes']:,} "
            f"| {row['checkpoint_s'] * 1000:.1f} | {row['rss_before_mb']:,.0f} → {row['peak_rss_mb']:,.0f} |"
        )
    n = merge["findings"]
    correct = "every finding once" if merge["correct"] else "**WRONG RESULT**"
    lines += [
        "",
        f"The last invocation's merge of {n:,} findings in {results['merge_parts']} parts (read a line at a time, "
        f"put together by CA, the one report built): {merge['cpu_s']:.1f} s CPU ({merge['wall_s']:.1f} s wall), "
        f"peak RSS {merge['peak_rss_mb']:,.0f} MB (from {merge['rss_before_mb']:,.0f} MB after imports); "
        f"{correct}.",
        "",
        *_meaning(results),
    ]
    return lines


def _meaning(results: dict) -> list[str]:
    """What the figures mean for the function (handler.py's reserves, 2,048 MB)."""
    small, large = results["handover"][0], results["handover"][-1]
    merge = results["merge"]
    scanned_s = (LAMBDA_TIMEOUT_S - CONTINUE_RESERVE_S) * DEFAULT_RATE_LIMIT * 250
    per_finding_ms = large["cpu_s"] / large["findings"] * 1000
    return [
        f"- **Overhead per continuation.** An invocation that scanned its {scanned_s / 1e6:.2f}M certificates at "
        f"1% flagged hands over about {small['findings']:,} findings: a part of {small['gz_bytes'] / 1e6:.1f} MB "
        f"written in {small['cpu_s']:.2f} s of CPU ({per_finding_ms * 1000:.0f} µs a finding, "
        f"{large['cpu_s']:.1f} s at {large['findings']:,}), and a checkpoint of "
        f"{small['checkpoint_bytes'] / 1024:.0f} KiB ({small['checkpoint_cas']['in_progress']} CAs in progress, "
        f"{small['checkpoint_cas']['left']} not started; Step Functions takes 256 KiB), plus one PUT, two state "
        "transitions and the next invocation's start (its clients are made again when it lands in a new "
        "container). Against the "
        f"{LAMBDA_TIMEOUT_S - CONTINUE_RESERVE_S} s of scanning each invocation gets, that is well under 1%; the "
        f"{CONTINUE_RESERVE_S} s the scan leaves (handler.CONTINUE_RESERVE_MS) hold a call under way (15 s) and a "
        f"part of about {int((CONTINUE_RESERVE_S - 15 - 20) / (per_finding_ms / 1000) / 1e5) / 10:.1f} million "
        "findings at this machine's speed (S3's upload time aside).",
        f"- **The final merge** of {merge['findings']:,} findings peaks at {merge['peak_rss_mb']:,.0f} MB, what "
        "the memory group finds the run's findings take in the function anyway (they are the same findings, "
        "their key and low-cardinality strings shared as the engine's are); the memory steps that follow add "
        f"their own (*The memory at scale*), within the 2,048 MB for a million. Its {merge['cpu_s']:.0f} s of CPU "
        "and the parts' GETs come out of the memory steps' reserve in the last invocation.",
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", choices=list(STEPS))
    parser.add_argument("--folder")
    parser.add_argument("--result")
    parser.add_argument("--findings", type=int, default=MERGE_FINDINGS)
    parser.add_argument("--parts", type=int, default=MERGE_PARTS)
    parser.add_argument("--quick", action="store_true", help=f"merge {QUICK_MERGE_FINDINGS:,} findings")
    args = parser.parse_args(argv)
    if args.step:
        Path(args.result).write_text(json.dumps(STEPS[args.step](args)))
        return 0
    from bench.__main__ import run_facts

    command = "python -m bench.continuation" + (" --quick" if args.quick else "")
    facts = run_facts("quick" if args.quick else "full", command)
    clock = time.perf_counter()
    results = run_group(QUICK_MERGE_FINDINGS if args.quick else MERGE_FINDINGS)
    facts.update(duration_s=time.perf_counter() - clock, load_after=os.getloadavg()[0])
    results["meta"] = facts
    if not args.quick:
        RESULTS.write_text(json.dumps(results, indent=1))
    print("\n".join(section(results)))
    return 0 if results["merge"]["correct"] else 1


if __name__ == "__main__":
    sys.exit(main())
