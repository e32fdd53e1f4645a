"""The formats group (issue 11): what the archive's OCSF documents cost at scale.

`python -m bench --only formats`: a report of FULL findings (bench.memory's, as the engine builds
them, each with its findingId and first sighting), and in a process of its own each step:

- ocsf: archive._archive_ocsf, the function's own code: the documents streamed into gzip (level 6,
  a temporary file) a chunk at a time, and a put to an S3 client that keeps the body.
- json: the archived JSON report of the same findings (write_report_json into the same gzip), for scale.

Time is measured inside the process around the step only (perf_counter, process_time); peak RSS of
the whole process by the harness (wait4). The OCSF file is then read back: it must hold one
document a line, as many as the findings (*correct*).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.memory import (
    LAMBDA_MEMORY_MB,
    _rss_mb,
    _timed,
    _vcpu,
    archive_report_of,
    lambda_estimate,
    memory_room_s,
)
from bench.processes import base_env, run_measured

FULL, QUICK = 1_000_000, 50_000
STEPS = ("ocsf", "json")
BUCKET = "bench-bucket"


class KeepingS3:
    """An S3 client whose put_object copies the body to a file (as the upload would read it)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.sizes: dict[str, int] = {}

    def put_object(self, *, Body, Bucket: str, Key: str, **_) -> dict:  # noqa: N803 - boto3's names
        with open(self.folder / Path(Key).name, "wb") as kept:
            shutil.copyfileobj(Body, kept, 1 << 20)
            self.sizes[Key] = kept.tell()
        return {"ETag": '"bench"'}


def step(args) -> dict:
    from cert_audit import archive
    from cert_audit.calls import NO_DEADLINE

    report = archive_report_of(args.findings, 0)
    folder = Path(args.folder)
    s3 = KeepingS3(folder)
    before = _rss_mb()
    if args.step == "ocsf":
        key = archive.report_key(report, "ocsf.json")
        _, wall, cpu = _timed(lambda: archive._archive_ocsf(s3, BUCKET, report, NO_DEADLINE))
    else:
        key = archive.report_key(report, "json")

        def write(compressed) -> None:
            with io.TextIOWrapper(compressed, encoding="utf-8") as text:
                archive.write_report_json(report, text)

        def put() -> None:
            with archive._gzipped(write) as body:
                archive._put(s3, BUCKET, key, body, "application/json", NO_DEADLINE)

        _, wall, cpu = _timed(put)
    return {
        "findings": len(report["findings"]),
        "wall_s": wall,
        "cpu_s": cpu,
        "rss_before_mb": before,
        "gz_bytes": s3.sizes[key],
        "errors": report["errors"],
        "file": str(folder / Path(key).name),
    }


def read_back(path: str) -> tuple[int, int]:
    """The OCSF file's documents (lines between the brackets) and its uncompressed bytes."""
    lines = size = 0
    with gzip.open(path, "rb") as text:
        for line in text:
            lines += 1
            size += len(line)
    return lines - 2, size


def run_step(name: str, findings: int, folder: Path) -> dict:
    """`python -m bench.formats STEP` in a process of its own: its figures and its peak RSS."""
    with tempfile.NamedTemporaryFile(suffix=".json") as result:
        argv = [sys.executable, "-m", "bench.formats", name, "--findings", str(findings)]
        argv += ["--folder", str(folder), "--result", result.name]
        cost = run_measured(argv, base_env(), subprocess.DEVNULL)
        figures = json.loads(Path(result.name).read_text())
    return figures | {"peak_rss_mb": cost.peak_rss_mb, "process_wall_s": cost.wall_s}


def run_group(findings: int, log=print) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        ocsf = run_step("ocsf", findings, Path(folder))
        documents, text_bytes = read_back(ocsf.pop("file"))
        ocsf.update(documents=documents, text_bytes=text_bytes)
        ocsf["correct"] = documents == findings and not ocsf["errors"]
        log(
            f"formats: OCSF of {findings:,} findings: {ocsf['wall_s']:.1f} s ({ocsf['cpu_s']:.1f} s CPU), "
            f"{ocsf['peak_rss_mb']:.0f} MB peak, {ocsf['gz_bytes'] / findings:.0f} bytes a finding"
            f"{'' if ocsf['correct'] else '  WRONG RESULT'}"
        )
        report_json = run_step("json", findings, Path(folder))
        report_json.pop("file")
        log(f"formats: JSON report of {findings:,} findings: {report_json['cpu_s']:.1f} s CPU")
    return {"ocsf": ocsf, "json": report_json}


def section(formats: dict | None, memory: dict | None = None) -> list[str]:
    """The formats group's section of RESULTS.md (with the memory group's figures, what the OCSF
    file does to the memory steps' estimate in the function)."""
    if not formats:
        return []
    ocsf, report_json, meta = formats["ocsf"], formats["json"], formats["meta"]
    n = ocsf["findings"]
    vcpu = _vcpu()
    rows = [("OCSF documents (`.ocsf.json.gz`)", ocsf), ("the JSON report (`.json.gz`), for scale", report_json)]
    lines = [
        "## The OCSF archive at scale (issue 11)",
        "",
        f"Produced by `{meta['command']}` on {meta['started']} in {meta['duration_s'] / 60:.1f} minutes "
        f"(load average {meta['load_before']:.1f} → {meta['load_after']:.1f}; {meta['versions']}). "
        f"A report of {n:,} open findings (bench.memory's, as the engine builds "
        "them), archived by the function's own code (archive._archive_ocsf: one OCSF 1.5.0 Compliance Finding "
        "a finding, streamed into gzip level 6 a chunk of 1,000 at a time, to a temporary file, then put), each "
        "step in its own process; *peak RSS* is that process's (wait4), *before* its RSS with the report built.",
        "",
        "| file | wall s | CPU s | RSS before → peak MB | gz bytes a finding | gz MB | uncompressed MB | correct |",
        "|---|---:|---:|---|---:|---:|---:|---|",
    ]
    for name, row in rows:
        text = f"{row['text_bytes'] / 1e6:,.0f}" if "text_bytes" in row else "-"
        correct = {True: "yes", False: "**no**"}.get(row.get("correct"), "-")
        lines.append(
            f"| {name} | {row['wall_s']:.1f} | {row['cpu_s']:.1f} | {row['rss_before_mb']:,.0f} → "
            f"{row['peak_rss_mb']:,.0f} | {row['gz_bytes'] / n:.0f} | {row['gz_bytes'] / 1e6:,.1f} | {text} "
            f"| {correct} |"
        )
    added = ocsf["cpu_s"] / vcpu
    grown = ocsf["peak_rss_mb"] - ocsf["rss_before_mb"]
    lines += [
        "",
        f"- **What it adds to a run.** The OCSF file costs {ocsf['cpu_s']:.1f} s of CPU at {n:,} findings "
        f"({ocsf['cpu_s'] / report_json['cpu_s']:.1f}× the JSON report's {report_json['cpu_s']:.1f} s: each "
        f"finding becomes a document of ~{ocsf['text_bytes'] / n:,.0f} bytes, where the report's is a fraction "
        f"of that), about {added:.0f} s in the function at {LAMBDA_MEMORY_MB:,} MB ({vcpu:.2f} vCPU for one "
        "thread), inside the memory steps' reserve (handler.py MEMORY_RESERVE_MS): the memory group's "
        "*archive* step, which runs the whole archive, includes it from its next run on.",
        *_reserve_note(added, memory),
        f"- **Memory.** The documents are never held: the peak grows by {grown:,.0f} MB "
        f"over the report's own {ocsf['rss_before_mb']:,.0f} MB (a chunk of documents and gzip's buffers). "
        f"/tmp holds the compressed file only: {ocsf['gz_bytes'] / 1e6:,.0f} MB of Lambda's default 512 MB.",
        "",
    ]
    return lines


def _reserve_note(added: float, memory: dict | None) -> list[str]:
    """The memory group's estimate of the memory steps at its main point, with the OCSF file added
    if its archive step did not include it yet (a step that did says so: ocsf_gz_bytes)."""
    if not memory:
        return []
    point, archive = memory["points"][0], memory["archive"]
    estimate = lambda_estimate(point, archive)["total"]
    if "ocsf_gz_bytes" in archive:
        total, source = estimate, "the memory group's archive step included it"
    else:
        total, source = estimate + added, f"the memory group's {estimate:.0f} s, measured before, + {added:.0f} s"
    room = memory_room_s()
    verdict = f"within them, with {room - total:.0f} s to spare" if total <= room else "**beyond them**"
    headroom = "fits" if 1.5 * total <= room else "**no longer fits**: the reserve needs a look"
    return [
        f"- **The reserve.** With it, the memory steps at {point['open']:,} open findings and {point['share']:.0%} "
        f"changed are estimated at **{total:.0f} s** ({source}) of the {room} s they have: {verdict}; half again "
        f"as headroom ({1.5 * total:.0f} s) {headroom}.",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="one step of the formats group, in a process of its own")
    parser.add_argument("step", choices=STEPS)
    parser.add_argument("--findings", type=int, required=True)
    parser.add_argument("--folder", required=True)
    parser.add_argument("--result", required=True)
    args = parser.parse_args(argv)
    Path(args.result).write_text(json.dumps(step(args)))


if __name__ == "__main__":
    main()
