"""The memory group (issue 10): the audit's state of open findings at scale, and its archive.

A state table of OPEN open findings (bench/dynamodb.py, in a process of its own), then a run in
which a share of them changed: CHANGED findings resolved (the first ones) and CHANGED new ones,
the rest unchanged. Each step runs as `python -m bench.memory STEP ...` in a process of its own,
so its peak RSS is its own:

- diff: holds the run's findings (as the function's report does), then reads the state with
  state.read_open (a paginated Scan) and compares it with changes.changes_of; writes the
  changes it found to a file for the next step.
- write: state.write_changes of those changes (BatchWriteItem of 25, 4 in flight), with the
  write request units worked out from the item dicts state._item builds.
- archive: archive.archive_report of a report of OPEN findings (gzip to a temporary file),
  with an S3 client whose put_object only reads the body.

Time is measured inside the process around the step only (perf_counter, process_time); RSS
before the step inside it, peak RSS of the whole process by the harness (wait4).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bench.dynamodb import item_size, write_units
from bench.fleet import ACCOUNT_ID, FLAGGED_CYCLE, REGION, ca_certificate_id, certificate
from bench.processes import REPO_ROOT, base_env, run_measured

TABLE = "bench-state"
CAS = 10
FIRST_SEEN = "2026-01-05T06:00:00Z"  # when the last runs first saw the open findings
NOW = "2026-03-02T06:00:00Z"  # this run
STEPS = ("diff", "write", "archive")
FULL_OPEN, QUICK_OPEN = 1_000_000, 50_000
CHANGED_SHARES = (0.01, 0.001, 0.0)  # of the open findings: half resolved, half new

# For the judgement of the function's reserve (handler.py) and memory from these figures. Copies,
# so that the measured steps' processes import neither infra (aws_cdk starts a node process) nor
# the handler (Powertools); tests/bench/test_memory.py keeps each equal to the code's own.
LAMBDA_MEMORY_MB = 2048  # infra.constants.MEMORY_MB: the stack's memory setting
LAMBDA_FULL_VCPU_MB = 1769  # one full vCPU at 1,769 MB; CPU scales with memory below it
MEMORY_RESERVE_S = 290  # handler.MEMORY_RESERVE_MS
TIME_RESERVE_S = 60  # handler.TIME_RESERVE_MS
PUBLISH_RESERVE_S = 40  # handler.PUBLISH_RESERVE_MS: the memory steps end this long before the timeout
ATTEMPT_MAX_S = 15  # calls.ATTEMPT_MAX_S: a scan call already under way when the scan's deadline came
# Not measured here (loopback): assumed round trips of the real service from a function in the
# same Region, for the estimate only (see the section's text).
SCAN_PAGE_S = 0.10  # one 1 MB Scan page
BATCH_WRITE_S = 0.03  # one BatchWriteItem of 25
PUT_EVENTS_S = 0.05  # one PutEvents of 10
WRITERS, EVENT_SENDERS, EVENTS_PER_CALL = 4, 4, 10  # state.WRITERS, events.SENDERS, events.BATCH_MAX
EPHEMERAL_STORAGE_MB = 512  # Lambda's default /tmp, where the archive is written before the upload


def finding(index: int) -> dict:
    """Open finding number `index` as the engine builds it (finding_for + its findingId): a
    device certificate of one of CAS CAs with a flagged status."""
    from cert_audit.findings import finding_for, finding_id

    ca_id = ca_certificate_id(index % CAS)
    shape = certificate(ca_id, index, 1000)  # 1000 per mille: every certificate flagged
    shape["creationDate"] = datetime.fromtimestamp(shape["creationDate"], UTC)
    found = finding_for(shape, ca_id, frozenset(FLAGGED_CYCLE))
    found["findingId"] = finding_id(ACCOUNT_ID, REGION, found)
    return found


def previous_items(open_findings: int) -> Iterator[dict]:
    """The state the last run left: one item per open finding, as state._item writes it."""
    from cert_audit.changes import record_of
    from cert_audit.state import _item

    for index in range(open_findings):
        yield _item(record_of({**finding(index), "firstSeen": FIRST_SEEN}, suppressed=False))


def current_findings(open_findings: int, changed: int) -> list[dict]:
    """This run's findings: the first `changed` are gone (resolved), `changed` new ones appear."""
    return [finding(index) for index in range(changed, open_findings + changed)]


def ca_entries() -> list[dict]:
    """The report's CAs, as the engine's report lists them: every one scanned to the end, so every
    missing finding is resolved."""
    from cert_audit.report import build_report
    from cert_audit.scan import CaScan

    scans = [CaScan(ca_certificate_id(i), {"status": "ACTIVE"}) for i in range(CAS)]
    now = datetime.fromisoformat(NOW)
    return build_report(scans, flagged=frozenset(), audit_id="", account_id=None, region=None, started_at=NOW,
                        finished_at=NOW, now=now)["cas"]  # fmt: skip


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak so far; Linux reports KiB


def _timed(step):
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def dynamodb_client(endpoint: str):
    """The DynamoDB client the function uses (aws.make_client: its configuration, botocore's
    retries off, and the Scan pages read with json.loads by its before-parse hook), pointed at
    the stand-in."""
    import boto3

    from cert_audit.aws import make_client

    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    return make_client("dynamodb", session, endpoint_url=endpoint)


def step_diff(args) -> dict:
    from cert_audit.calls import NO_DEADLINE
    from cert_audit.changes import changes_of
    from cert_audit.state import read_open

    client = dynamodb_client(args.endpoint)
    base = _rss_mb()
    report = {"cas": ca_entries(), "findings": current_findings(args.open, args.changed), "suppressedFindings": []}
    before = _rss_mb()

    def diff():
        return changes_of(report, read_open(client, TABLE, NO_DEADLINE), True, NOW)

    changes, wall, cpu = _timed(diff)
    Path(args.changes).write_text(json.dumps({"writes": changes.writes, "deletes": changes.deletes}))
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "rss_base_mb": base,
        "rss_before_mb": before,
        **changes.counts(),
        "oldest": changes.oldest,
    }


def step_write(args) -> dict:
    from cert_audit.calls import NO_DEADLINE
    from cert_audit.state import _item, write_changes

    client = dynamodb_client(args.endpoint)
    saved = json.loads(Path(args.changes).read_text())
    writes, deletes = saved["writes"], saved["deletes"]
    # What DynamoDB bills: each put by the size of the item state._item builds, rounded up to
    # 1 KB (these keys are new); each delete 1 unit (the deleted items are under 1 KB).
    sizes = [item_size(_item(record)) for record in writes]
    expected = sum(write_units(size) for size in sizes) + len(deletes)
    before = _rss_mb()
    requests, wall, cpu = _timed(lambda: write_changes(client, TABLE, writes, deletes, NO_DEADLINE))
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "rss_before_mb": before,
        "requests": requests,
        "puts": len(writes),
        "deletes": len(deletes),
        "write_units_expected": expected,
        "item_bytes_max": max(sizes, default=0),
        "item_bytes_mean": sum(sizes) / len(sizes) if sizes else 0,
    }


class ReadingS3:
    """An S3 client whose put_object reads the whole body (as the upload would) and keeps its size."""

    def __init__(self):
        self.sizes: dict[str, int] = {}

    def put_object(self, *, Body, Bucket: str, Key: str, **_) -> dict:  # noqa: N803 - boto3's names
        size = 0
        while chunk := Body.read(1 << 20):
            size += len(chunk)
        self.sizes[Key] = size
        return {"ETag": '"bench"'}


def archive_report_of(open_findings: int, changed: int) -> dict:
    """The full report of the run after the diff: its findings marked, its changes, its resolved findings."""
    from cert_audit.report import build_report

    report = build_report(
        [],
        flagged=frozenset(FLAGGED_CYCLE),
        audit_id="bench-memory",
        account_id=ACCOUNT_ID,
        region=REGION,
        started_at=NOW,
        finished_at=NOW,
        now=datetime.fromisoformat(NOW),
    )
    findings = current_findings(open_findings, changed)
    for position, found in enumerate(findings):  # the last `changed` are the new ones
        is_new = position >= open_findings - changed
        found.update(firstSeen=NOW if is_new else FIRST_SEEN, isNew=is_new)
    resolved = [{**finding(i), "firstSeen": FIRST_SEEN, "resolvedAt": NOW} for i in range(changed)]
    report.update(
        cas=ca_entries(),
        findings=findings,
        resolvedFindings=resolved,
        changes={"new": changed, "resolved": changed, "ongoing": open_findings - changed},
        oldestOpenSince=FIRST_SEEN,
    )
    report["summary"]["findings"] = len(findings)
    return report


def step_archive(args) -> dict:
    from cert_audit.archive import archive_report
    from cert_audit.calls import NO_DEADLINE

    report = archive_report_of(args.open, args.changed)
    s3 = ReadingS3()
    before = _rss_mb()
    uri, wall, cpu = _timed(lambda: archive_report(s3, "bench-bucket", report, NO_DEADLINE))
    json_key = uri["reportUri"].split("/", 3)[3]
    csv_key = json_key.replace(".json.gz", ".csv.gz")
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "rss_before_mb": before,
        "findings": len(report["findings"]),
        "json_gz_bytes": s3.sizes[json_key],
        "csv_gz_bytes": s3.sizes[csv_key],
        "ocsf_gz_bytes": s3.sizes.get(json_key.replace(".json.gz", ".ocsf.json.gz")),  # the OCSF file (issue 11)
    }


STEP_FUNCTIONS = {"diff": step_diff, "write": step_write, "archive": step_archive}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="one step of the memory group, in a process of its own")
    parser.add_argument("step", choices=STEPS)
    parser.add_argument("--open", type=int, required=True)
    parser.add_argument("--changed", type=int, required=True)
    parser.add_argument("--endpoint")
    parser.add_argument("--changes", help="file the diff writes its changes to and the write step reads")
    parser.add_argument("--result", required=True)
    args = parser.parse_args(argv)
    result = STEP_FUNCTIONS[args.step](args)
    Path(args.result).write_text(json.dumps(result))


# The harness: a stand-in per group, each step a measured process.


class StandInTable:
    def __init__(self, url: str):
        self.url = url

    def control(self, command: str) -> dict:
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/_bench/{command}") as response:
            return json.load(response)

    def traffic(self) -> dict:
        return self.control("traffic")[TABLE]


@contextmanager
def table_process(open_findings: int) -> Iterator[StandInTable]:
    argv = [sys.executable, "-m", "bench.dynamodb", str(open_findings)]
    server = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO_ROOT, env=base_env())
    try:
        url = server.stdout.readline().decode().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the DynamoDB stand-in did not start (said {url!r})")
        yield StandInTable(url)
    finally:
        server.stdin.close()
        server.wait(timeout=120)
        server.stdout.close()


def run_step(
    step: str, open_findings: int, changed: int, endpoint: str | None = None, changes: Path | None = None
) -> dict:
    """`python -m bench.memory STEP` in a process of its own: its figures and its peak RSS."""
    with tempfile.NamedTemporaryFile(suffix=".json") as result:
        argv = [sys.executable, "-m", "bench.memory", step, "--open", str(open_findings), "--changed", str(changed)]
        argv += ["--result", result.name]
        if endpoint:
            argv += ["--endpoint", endpoint]
        if changes:
            argv += ["--changes", str(changes)]
        cost = run_measured(argv, base_env(), subprocess.DEVNULL)
        figures = json.loads(Path(result.name).read_text())
    return figures | {"peak_rss_mb": cost.peak_rss_mb, "process_wall_s": cost.wall_s}


def run_group(open_findings: int, shares: tuple[float, ...] = CHANGED_SHARES, log=print) -> dict:
    """Every point (a share changed) against one stand-in holding the same state, then the archive."""
    points = []
    started = time.perf_counter()
    with table_process(open_findings) as table, tempfile.TemporaryDirectory() as folder:
        log(f"memory: state of {open_findings:,} open findings ready in {time.perf_counter() - started:.1f} s")
        for share in shares:
            changed = round(open_findings * share / 2)
            table.control("reset")
            changes = Path(folder) / "changes.json"
            diff = run_step("diff", open_findings, changed, table.url, changes)
            read = table.traffic()
            write = run_step("write", open_findings, changed, table.url, changes)
            after = table.traffic()
            point = {
                "open": open_findings,
                "share": share,
                "changed": changed,
                "diff": diff,
                "write": write,
                "scan_pages": read.get("scan_pages", 0),
                "scanned_items": read.get("scanned_items", 0),
                "scanned_bytes": read.get("scanned_bytes", 0),
                "read_units": read["read_units"],
                "write_units": after.get("write_units", 0),
                "batches": after.get("batches", 0),
                "items_after": after["items"],
                "correct": (
                    (diff["new"], diff["resolved"], diff["ongoing"]) == (changed, changed, open_findings - changed)
                    and read.get("scanned_items", 0) == open_findings
                    and (after.get("puts", 0), after.get("deletes", 0)) == (changed, changed)
                    and after["items"] == open_findings
                    and after.get("write_units", 0) == write["write_units_expected"]
                ),
            }
            points.append(point)
            log(
                f"  {share:.1%} changed: diff {diff['wall_s']:.1f} s ({diff['peak_rss_mb']:.0f} MB peak), "
                f"writes {write['wall_s']:.2f} s, {point['write_units']} WRU, {point['read_units']:,.1f} RRU"
                f"{'' if point['correct'] else '  WRONG RESULT'}"
            )
    archive = run_step("archive", open_findings, round(open_findings * shares[0] / 2))
    log(f"  archive of {open_findings:,} findings: {archive['wall_s']:.1f} s, {archive['peak_rss_mb']:.0f} MB peak")
    return {"points": points, "archive": archive}


# RESULTS.md


def _vcpu(memory_mb: int = LAMBDA_MEMORY_MB) -> float:
    """The share of a vCPU one thread gets: Lambda gives CPU in proportion to memory, a full vCPU at
    1,769 MB; above it the function has a second vCPU, which one Python thread cannot use."""
    return min(1.0, memory_mb / LAMBDA_FULL_VCPU_MB)


def lambda_estimate(point: dict, archive: dict, memory_mb: int = LAMBDA_MEMORY_MB) -> dict:
    """Seconds the memory steps would take in the function at `memory_mb`: each step's CPU here
    scaled to the function's share of a vCPU, plus the assumed round trips of the real
    services, which loopback does not have. Events are not measured: their calls only."""
    vcpu = _vcpu(memory_mb)
    changes = point["changed"] * 2
    parts = {
        "diff": point["diff"]["cpu_s"] / vcpu + point["scan_pages"] * SCAN_PAGE_S,
        "write": point["write"]["cpu_s"] / vcpu + math.ceil(point["batches"] / WRITERS) * BATCH_WRITE_S,
        "events": math.ceil(changes / EVENTS_PER_CALL / EVENT_SENDERS) * PUT_EVENTS_S,
        "archive": archive["cpu_s"] / vcpu,
    }
    return parts | {"total": sum(parts.values())}


def memory_room_s() -> int:
    """Seconds the memory steps have when the scan ran to its deadline: the scan stops
    TIME_RESERVE + MEMORY_RESERVE before the timeout, a call under way may take ATTEMPT_MAX_S
    more, and the steps stop PUBLISH_RESERVE before the timeout."""
    return TIME_RESERVE_S + MEMORY_RESERVE_S - PUBLISH_RESERVE_S - ATTEMPT_MAX_S


def _reserve_for(seconds: float) -> int:
    """MEMORY_RESERVE_MS (in s, a multiple of 10) that gives `seconds` of room."""
    return max(10, 10 * math.ceil((seconds - (memory_room_s() - MEMORY_RESERVE_S)) / 10))


def _round_down(count: float) -> int:
    """A count of findings to two significant figures, rounded down (a limit is not to be passed)."""
    if count < 100:
        return max(0, int(count))
    step = 10 ** (int(math.log10(count)) - 1)
    return int(count // step * step)


def limits(memory: dict) -> dict:
    """How many open findings the reserve and the memory hold, from the main point (1% changed)
    scaled linearly: every step's CPU, pages and memory grow with the open findings (the writes
    and events with the changes, at the same share)."""
    point, archive = memory["points"][0], memory["archive"]
    opened, d = point["open"], point["diff"]
    per_finding_s = lambda_estimate(point, archive)["total"] / opened
    peak = max(d["peak_rss_mb"], archive["peak_rss_mb"])
    per_finding_mb = (peak - d["rss_base_mb"]) / opened
    return {
        "reserve": _round_down(memory_room_s() / per_finding_s),
        "reserve_headroom": _round_down(memory_room_s() / (1.5 * per_finding_s)),
        "memory": _round_down((LAMBDA_MEMORY_MB - d["rss_base_mb"]) / per_finding_mb),
        "memory_headroom": _round_down((LAMBDA_MEMORY_MB / 1.25 - d["rss_base_mb"]) / per_finding_mb),
    }


EARLIER_KEPT = 3  # earlier runs of the memory group RESULTS.md compares with


def with_before(memory: dict, previous: dict | None) -> dict:
    """The memory group's figures with the runs before them kept in `earlier` (oldest first, the
    last EARLIER_KEPT), each without its own."""
    if not previous:
        return memory
    earlier = [*previous.get("earlier", []), {key: value for key, value in previous.items() if key != "earlier"}]
    return memory | {"earlier": earlier[-EARLIER_KEPT:]}


def _before_after(memory: dict) -> list[str]:
    """A row per run, the earlier ones and this one: what the engine's changes did at the main point."""
    if not memory.get("earlier"):
        return []
    lines = [
        f"Before and after, at {memory['points'][0]['open']:,} open findings and "
        f"{memory['points'][0]['share']:.0%} changed (each run's engine as its run recorded it; the estimate is "
        f"each at today's {LAMBDA_MEMORY_MB:,} MB, as below):",
        "",
        "| run | engine | diff CPU s | diff peak RSS MB | archive CPU s | archive peak RSS MB "
        "| JSON.gz bytes a finding | CSV.gz bytes a finding | memory steps in the function, est. s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in [*(("earlier", run) for run in memory["earlier"]), ("this run", memory)]:
        point, archive = run["points"][0], run["archive"]
        engine = run["meta"].get("engine", "?").removeprefix("engine (lambda/) at ")
        lines.append(
            f"| {name} ({run['meta']['started']}) | {engine} | {point['diff']['cpu_s']:.1f} "
            f"| {point['diff']['peak_rss_mb']:,.0f} | {archive['cpu_s']:.1f} | {archive['peak_rss_mb']:,.0f} "
            f"| {archive['json_gz_bytes'] / archive['findings']:.0f} "
            f"| {archive['csv_gz_bytes'] / archive['findings']:.0f} "
            f"| {lambda_estimate(point, archive)['total']:.0f} |"
        )
    return [*lines, ""]


def section(memory: dict | None) -> list[str]:
    """The memory group's section of RESULTS.md, with the judgement of the reserve and memory."""
    if not memory:
        return []
    points, archive, meta = memory["points"], memory["archive"], memory["meta"]
    main_point = points[0]
    opened = main_point["open"]
    lines = [
        "## The memory at scale (issue 10)",
        "",
        f"Produced by `{meta['command']}` on {meta['started']} in {meta['duration_s'] / 60:.1f} minutes "
        f"(load average {meta['load_before']:.1f} → {meta['load_after']:.1f}; {meta['versions']}). A state table "
        f"of {opened:,} open findings on the DynamoDB stand-in (bench/dynamodb.py: Scan pages of 1 MB, "
        "BatchWriteItem, DynamoDB's JSON protocol through botocore), read and written with the function's own "
        'client (`aws.make_client("dynamodb")`: its configuration and its Scan pages read with json.loads), '
        "then a run in which a share changed: "
        "half of the changes resolved findings, half new ones, the rest unchanged. Each step in its own process; "
        "*peak RSS* is that process's (wait4), *before* its RSS when the step started (the diff's process "
        "already holds the run's findings, as the function does).",
        "",
        "| changed (new + resolved) | diff s | diff CPU s | RSS before → peak MB | Scan pages | read units "
        "| writes s | writes CPU s | write requests | BatchWriteItem calls | write units | writes peak RSS MB "
        "| correct |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in points:
        d, w = p["diff"], p["write"]
        lines.append(
            f"| {p['share']:.1%} ({p['changed']:,} + {p['changed']:,}) | {d['wall_s']:.1f} | {d['cpu_s']:.1f} "
            f"| {d['rss_before_mb']:,.0f} → {d['peak_rss_mb']:,.0f} | {p['scan_pages']:,} | {p['read_units']:,.1f} "
            f"| {w['wall_s']:.2f} | {w['cpu_s']:.2f} | {w['requests']:,} | {p['batches']:,} | {p['write_units']:,} "
            f"| {w['peak_rss_mb']:,.0f} | {'yes' if p['correct'] else '**no**'} |"
        )
    lines.append("")
    lines += _before_after(memory)
    per_item = main_point["scanned_bytes"] / max(1, main_point["scanned_items"])
    d = main_point["diff"]
    estimate = lambda_estimate(main_point, archive)
    room = memory_room_s()
    advised = _reserve_for(1.5 * estimate["total"])
    per_finding_kb = (d["rss_before_mb"] - d["rss_base_mb"]) * 1024 / opened
    sensitivity = ", ".join(
        f"{estimate['total'] + main_point['scan_pages'] * (page_s - SCAN_PAGE_S):.0f} s at {page_s * 1000:.0f} ms "
        "a Scan page"
        for page_s in (SCAN_PAGE_S / 2, SCAN_PAGE_S * 2)
    )
    json_per = archive["json_gz_bytes"] / archive["findings"]
    csv_per = archive["csv_gz_bytes"] / archive["findings"]
    temp_mb = max(archive["json_gz_bytes"], archive["csv_gz_bytes"]) / 2**20
    peak = max(d["peak_rss_mb"], archive["peak_rss_mb"])
    fits = peak < LAMBDA_MEMORY_MB
    needed_mb = math.ceil(peak * 1.25 / 64) * 64
    at_needed = lambda_estimate(main_point, archive, needed_mb)["total"]
    reserve_at_needed = _reserve_for(1.5 * at_needed)
    held = limits(memory)
    lines += [
        f"- **Writes scale with changes.** {main_point['write_units']:,} write units at {main_point['share']:.1%} "
        f"changed, {points[1]['write_units']:,} at {points[1]['share']:.1%}, {points[-1]['write_units']:,} at "
        f"{points[-1]['share']:.0%}{' (no BatchWriteItem call at all)' if not points[-1]['batches'] else ''}: "
        "each new finding is one put of "
        f"{main_point['write']['item_bytes_mean']:.0f} bytes on average (at most "
        f"{main_point['write']['item_bytes_max']} bytes: {write_units(main_point['write']['item_bytes_max'])} "
        "unit each), each resolved one a delete (1 unit); an "
        "unchanged finding costs nothing. The stand-in's count equals the one worked out from the item dicts "
        "state._item builds (*correct*).",
        f"- **Reading the state** costs the same at every share: {main_point['scan_pages']:,} Scan pages, "
        f"{main_point['read_units']:,.1f} read request units (eventually consistent: ½ unit per 4 KB of "
        f"{per_item:.0f}-byte items), every run. The diff's memory: {d['rss_before_mb']:,.0f} MB before "
        f"(the run's {opened:,} findings and the clients), {d['peak_rss_mb']:,.0f} MB peak: "
        f"+{d['peak_rss_mb'] - d['rss_before_mb']:,.0f} MB for the index of this run's findings, the two fields "
        "the diff adds to each finding, the changes and one Scan page at a time, never the table "
        f"({main_point['scanned_bytes'] / 2**20:,.0f} MB of items).",
        f"- **Archive** of {archive['findings']:,} findings: {archive['wall_s']:.1f} s ({archive['cpu_s']:.1f} s "
        f"CPU), peak RSS {archive['peak_rss_mb']:,.0f} MB (from {archive['rss_before_mb']:,.0f}); JSON.gz "
        f"{archive['json_gz_bytes'] / 2**20:,.1f} MB ({json_per:.0f} bytes a finding), CSV.gz "
        f"{archive['csv_gz_bytes'] / 2**20:,.1f} MB ({csv_per:.0f} bytes a finding). Each is written to a "
        f"temporary file first: {temp_mb:,.0f} MB of /tmp at most (Lambda's default is {EPHEMERAL_STORAGE_MB} MB).",
        f"- **Time reserve** (handler.py MEMORY_RESERVE_MS = {MEMORY_RESERVE_S} s). When the scan runs to its "
        f"deadline, the memory steps get the scan's reserve ({TIME_RESERVE_S} s) plus MEMORY_RESERVE_MS, less "
        f"PUBLISH_RESERVE_MS ({PUBLISH_RESERVE_S} s) and a scan call still under way ({ATTEMPT_MAX_S} s): "
        f"{room} s. Estimated in the function at {LAMBDA_MEMORY_MB:,} MB (one thread gets "
        f"{_vcpu():.2f} vCPU: CPU measured here ÷ {_vcpu():.2f}, taking a Lambda vCPU as fast as this machine's "
        f"core; plus assumed round trips of {SCAN_PAGE_S * 1000:.0f} ms a Scan page, {BATCH_WRITE_S * 1000:.0f} ms "
        f"a BatchWriteItem and {PUT_EVENTS_S * 1000:.0f} ms a PutEvents, {WRITERS} in flight) at {opened:,} open "
        f"findings and {main_point['share']:.0%} changed: diff {estimate['diff']:.0f} s, state writes "
        f"{estimate['write']:.0f} s, events {estimate['events']:.0f} s (not measured: calls only), archive "
        f"{estimate['archive']:.0f} s; **{estimate['total']:.0f} s in all** ({sensitivity}). "
        + (
            f"That is within the {room} s, with {room - estimate['total']:.0f} s to spare."
            if estimate["total"] <= room
            else f"That is **more than the {room} s**: the archive or the publish would be cut short."
        )
        + (
            f" With half again as headroom ({1.5 * estimate['total']:.0f} s), MEMORY_RESERVE_MS should be "
            f"**{advised * 1000:,}** ({advised} s)."
            if advised > MEMORY_RESERVE_S
            else f" With half again as headroom ({1.5 * estimate['total']:.0f} s) a reserve of {advised} s would "
            f"do: {MEMORY_RESERVE_S} s is enough."
        )
        + f" Everything here grows with the open findings, so the {room} s hold up to about "
        f"**{held['reserve']:,} open findings** ({held['reserve_headroom']:,} with that headroom) at "
        f"{main_point['share']:.0%} changed.",
        f"- **Function memory** ({LAMBDA_MEMORY_MB:,} MB). Peak RSS {d['peak_rss_mb']:,.0f} MB for the diff and "
        f"{archive['peak_rss_mb']:,.0f} MB for the archive, each holding the run's {opened:,} findings "
        f"({per_finding_kb:.2f} KB a finding: {d['rss_base_mb']:,.0f} MB after imports and clients, "
        f"{d['rss_before_mb']:,.0f} MB with the findings): "
        + (
            f"**it fits** in {LAMBDA_MEMORY_MB:,} MB, with {LAMBDA_MEMORY_MB - peak:,.0f} MB to spare, before the "
            "IoT scan's own working set."
            if fits
            else f"**it does not fit** in {LAMBDA_MEMORY_MB:,} MB; the function would be killed (out of memory) "
            f"before publishing. It needs at least **{needed_mb:,} MB** (the peak plus a quarter), or fewer "
            f"findings held at once. At {needed_mb:,} MB (one thread gets {_vcpu(needed_mb):.2f} vCPU) the memory "
            f"steps would take about {at_needed:.0f} s, and MEMORY_RESERVE_MS would need to be "
            f"{reserve_at_needed * 1000:,} ({reserve_at_needed} s) with the same headroom."
        )
        + f" The peak grows linearly with the open findings: {LAMBDA_MEMORY_MB:,} MB holds up to about "
        f"**{held['memory']:,}** ({held['memory_headroom']:,} with a quarter to spare).",
        "",
    ]
    return lines


if __name__ == "__main__":
    main()
