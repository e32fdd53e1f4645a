"""bench/RESULTS.md: targets with pass/fail, every run's figures, and the sizing that follows from them."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from importlib.metadata import version
from pathlib import Path

from bench.continuation import section as continuation_section
from bench.formats import section as formats_section
from bench.memory import section as memory_section
from bench.processes import AWSCLI_REQUIREMENT, REPO_ROOT
from bench.run import Row
from bench.scenarios import LATENCY, OURS, QUOTA, SHARE, SIZE, SIZE_NAMES
from bench.targets import DEFAULT_RATE_LIMIT, Verdict

# Service Quotas, AWS IoT Core (service code iotcore), "ListCertificatesByCA API TPS",
# quota code L-5A0AFD83: 10 requests per second per account and Region by default (adjustable).
DEFAULT_QUOTA_TPS = 10
LAMBDA_MAX_S = 15 * 60
TIME_RESERVE_S = 60  # the engine stops requesting pages this long before its timeout (handler.py)
# Issue 12: an invocation of the state machine that may hand over scans until this long before its timeout
# (handler.CONTINUE_RESERVE_MS), and a run takes at most 1 + maxContinuations invocations (cdk.json).
CONTINUE_RESERVE_S = 120
LAMBDA_FULL_VCPU_MB = 1769  # Lambda gives one full vCPU at 1,769 MB; CPU scales with memory below it
LAMBDA_MEMORY_STEPS_MB = (256, 512, 1024, 1769, 2048, 3008)


def _verdict_cell(passed: bool | None) -> str:
    return {True: "**pass**", False: "**FAIL**", None: "not measured"}[passed]


def _f(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def machine() -> str:
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    return f"{cpu}, {os.cpu_count()} cores, {memory_gb:.0f} GiB, {platform.system()} {platform.release()}"


def versions() -> str:
    names = ("boto3", "botocore", "aws-lambda-powertools")
    return ", ".join(
        [f"Python {platform.python_version()}"] + [f"{n} {version(n)}" for n in names] + [AWSCLI_REQUIREMENT]
    )


def engine_version() -> str:
    """The commit the engine (lambda/) was measured at, and whether it had uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=REPO_ROOT).stdout.strip()

    dirty = " + uncommitted changes in lambda/" if git("status", "--porcelain", "lambda/") else ""
    return f"engine (lambda/) at commit {git('log', '-1', '--format=%h', '--', 'lambda/') or 'unknown'}{dirty}"


def latest_reruns(meta: dict) -> list[dict]:
    """The last re-run of each group, in the order they ran: an earlier re-run's rows are gone."""
    latest = {again["group"]: again for again in meta.get("rerun", [])}
    return sorted(latest.values(), key=lambda again: meta["rerun"].index(again))


def _busy(run: dict) -> str:
    """A warning when other work kept the machine's cores busy during a run."""
    cores = os.cpu_count() or 1
    if max(run["load_before"], run["load_after"]) <= cores:
        return ""
    return (
        f" The machine was busy with other work (load above its {cores} cores): wall times are "
        "inflated, and under the quota the spacing of requests is disturbed."
    )


def _rows_table(rows: list[Row]) -> list[str]:
    lines = [
        "| scenario | contender | wall s | CPU s | scan wall s | scan CPU s | certs/s | pages (expected) | "
        "discovery | describe | throttled | retries | peak RSS MB | correct |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.scenario} | {r.contender} | {_f(r.process_wall_s)} | {_f(r.process_cpu_s)} | {_f(r.scan_wall_s)} "
            f"| {_f(r.scan_cpu_s)} | {r.certificates_per_s:,.0f} | {r.pages:,} ({r.expected_pages:,})"
            f"{'' if r.pages_exact else ' ≠'} | {r.discovery_pages} | {r.describes} | {r.throttled} "
            f"| {'–' if r.client_retries is None else r.client_retries} | {r.peak_rss_mb:.1f} "
            f"| {'yes' if r.correct else '**no**'} |"
        )
    return lines


def _limit_note(row: Row) -> str:
    if row.contender != OURS:
        return " (no rate limiter; botocore's adaptive retries)"
    return f" at IOT_RATE_LIMIT={row.iot_rate_limit}" if row.iot_rate_limit else " (no rate limiter)"


def share_section(rows: list[Row]) -> list[str]:
    """Ours beside a competing caller on one quota: what each got."""
    if not rows:
        return []
    demand = rows[0].competitor_rps
    lines = [
        "## Sharing the quota",
        "",
        f"Ours scans while another caller (bench/competitor.py: production's provisioning, JITR and operators) "
        f"asks for {demand:g} ListCertificatesByCA requests/s all the while, on the same {rows[0].quota_rps:g} "
        "req/s quota. The other caller sends each request when it is due whatever became of the earlier ones, "
        "with the AWS SDKs' standard retry mode and its default of 3 attempts: a request that is throttled three "
        "times fails. Its figures count the requests due during ours' scan.",
        "",
        "| burst | ours' IOT_RATE_LIMIT | ours scan s | ours answered req/s (share of quota) | ours throttled "
        "answers | ours failed CAs | ours correct | other caller: requests due | succeeded | its throttled "
        "answers |",
        "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in sorted(rows, key=lambda r: (-r.quota_burst, r.iot_rate_limit or 1000)):
        share = "–" if r.competitor_share is None else f"{r.competitor_succeeded} ({r.competitor_share:.0%})"
        lines.append(
            f"| {r.quota_burst:g} | {r.iot_rate_limit or 'off'} | {_f(r.scan_wall_s, 1)} | {r.achieved_rps:.2f} "
            f"({r.quota_share:.0%}) | {r.throttled} | {r.failed_cas} | {'yes' if r.correct else '**no**'} "
            f"| {r.competitor_demanded if r.competitor_demanded is not None else '–'} | {share} "
            f"| {r.competitor_throttled if r.competitor_throttled is not None else '–'} |"
        )
    return [*lines, ""]


def _past_one_invocation(per_invocation: float, rate: float) -> list[str]:
    """Issue 12: what the state machine scans per run and per day at the default rate limit."""
    continuations = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]["maxContinuations"]
    per_continuation = (LAMBDA_MAX_S - CONTINUE_RESERVE_S) * rate
    per_run = (1 + continuations) * per_continuation
    per_day = 24 * 3600 * rate
    return [
        f"- **Past that size (issue 12).** A fleet beyond ~{per_invocation / 1e6:.2f}M certificates at the default "
        "limit is scanned by the state machine the schedule starts: each invocation that may hand over scans until "
        f"{CONTINUE_RESERVE_S} s before its end, about {per_continuation / 1e6:.2f}M certificates "
        f"({LAMBDA_MAX_S - CONTINUE_RESERVE_S} s × {rate:,.0f} certificates/s), and hands a checkpoint (CAs left, "
        "each CA in progress with its nextMarker and counts) to the next, the findings going to the report bucket "
        "as parts (*Continuation* below: what a hand-over and the final merge cost). **One scheduled run** audits "
        f"up to 1 + maxContinuations ({continuations}, the default) invocations' worth: about "
        f"**{per_run / 1e6:.0f} million certificates** in {(1 + continuations) * LAMBDA_MAX_S / 3600:.1f} hours; "
        "past that the rest is `ScanIncomplete` (raise maxContinuations). **Per day** the rate limit is the bound "
        f"whatever the number of runs: {rate:,.0f} certificates/s × 86,400 s ≈ **{per_day / 1e6:.0f} million** at "
        f"IOT_RATE_LIMIT={DEFAULT_RATE_LIMIT} (twice that with the whole default quota, IOT_RATE_LIMIT=10), "
        "reached by one run with maxContinuations ≈ "
        f"{math.ceil(per_day / per_continuation) - 1} on a daily schedule. A resumed CA whose marker IoT refuses "
        "starts again from its first page (its counts reset, so the result stays exact; `restarts` in the report).",
    ]


def sizing(rows: list[Row]) -> list[str]:
    """Certificates per invocation, memory setting, and what happens past that size."""
    largest = max(
        (r for r in rows if r.group == SIZE and r.contender == OURS and r.cas == 1), key=lambda r: r.certificates
    )
    by_share = {
        r.flagged_share: r
        for r in rows
        if r.group == SIZE and r.contender == OURS and r.cas == 1 and r.certificates == largest.certificates
    }
    quota = sorted(
        (r for r in rows if r.group == QUOTA and r.contender == OURS and r.iot_rate_limit == r.quota_rps),
        key=lambda r: -r.quota_burst,
    )
    share = quota[0].quota_share if quota else 1.0
    usable_s = LAMBDA_MAX_S - TIME_RESERVE_S
    quota_rate = DEFAULT_QUOTA_TPS * 250 * min(share, 1.0)  # certificates/s the quota lets through
    limit_rate = DEFAULT_RATE_LIMIT * 250  # certificates/s at the default IOT_RATE_LIMIT
    cpu_rate = largest.certificates / largest.scan_cpu_s  # certificates per CPU-second, this machine
    memory_for_quota = LAMBDA_FULL_VCPU_MB * quota_rate / cpu_rate
    peak = max(r.peak_rss_mb for r in by_share.values())
    memory_for_rss = 2 * peak  # headroom: twice the peak we measured at the worst flagged share
    memory = next(m for m in LAMBDA_MEMORY_STEPS_MB if m >= max(memory_for_rss, memory_for_quota))
    vcpu = min(1.0, memory / LAMBDA_FULL_VCPU_MB)
    whole_quota = usable_s * min(quota_rate, cpu_rate * vcpu)  # IOT_RATE_LIMIT = the quota, nothing else calling
    per_invocation = usable_s * min(limit_rate, cpu_rate * vcpu)  # the default IOT_RATE_LIMIT
    limit = "the rate limit, not the client's CPU" if limit_rate <= cpu_rate * vcpu else "the client's CPU"
    low, high = min(by_share), max(by_share)
    extra_findings = largest.certificates * (high - low)
    per_finding_kb = (
        (by_share[high].peak_rss_mb - by_share[low].peak_rss_mb) * 1024 / extra_findings if extra_findings else 0
    )
    max_findings = round(largest.certificates * high)
    rss_lines = ", ".join(f"{s:.0%} flagged: {r.peak_rss_mb:.0f} MB" for s, r in sorted(by_share.items()))
    return [
        "## Sizing and scale",
        "",
        f"- **Quota.** ListCertificatesByCA is limited per account and Region by the Service Quotas entry "
        f'"ListCertificatesByCA API TPS" (AWS IoT Core, quota code L-5A0AFD83), {DEFAULT_QUOTA_TPS} requests/s '
        f"by default and adjustable (AWS General Reference, *AWS IoT Core endpoints and quotas*, API throttling "
        f"limits). At 250 certificates a page that is at most {DEFAULT_QUOTA_TPS * 250:,} certificates/s for the "
        f"whole account, whatever the client does; alone on the stand-in with IOT_RATE_LIMIT=10, ours "
        f"achieved {share:.0%} of its quota.",
        f"- **Rate limit.** The engine makes at most IOT_RATE_LIMIT IoT requests a second, all CAs together "
        f"(default {DEFAULT_RATE_LIMIT}: half the default quota, the rest left to provisioning, just-in-time "
        "registration and operators; see *Sharing the quota* above for what each setting leaves them).",
        f"- **One invocation.** Lambda runs at most {LAMBDA_MAX_S // 60} minutes and the engine stops "
        f"{TIME_RESERVE_S} s early, leaving {usable_s} s of scanning. On this machine ours scans "
        f"{cpu_rate:,.0f} certificates per CPU-second, so with {memory} MB "
        f"(≈ {vcpu:.2f} vCPU) the limit is {limit}, and one invocation scans about "
        f"**{per_invocation / 1e6:.2f} million certificates** at the default IOT_RATE_LIMIT of {DEFAULT_RATE_LIMIT} "
        f"({usable_s} s × {DEFAULT_RATE_LIMIT} requests/s × 250 certificates). With IOT_RATE_LIMIT=10 (the whole "
        f"default quota, nothing else in the account calling ListCertificatesByCA) it is about "
        f"{whole_quota / 1e6:.1f} million ({usable_s} s × {whole_quota / usable_s:,.0f} certificates/s); a raised "
        "quota (Service Quotas) needs IOT_RATE_LIMIT raised with it.",
        f"- **Memory setting.** Peak RSS of ours at {largest.certificates:,} certificates: {rss_lines}. "
        f"It grows with the number of *findings*, not with N: {per_finding_kb:.1f} KB per finding between the "
        "flagged shares measured (each finding is a dict of about ten fields, held until the report is "
        "built). Keeping the quota busy needs about "
        f"{memory_for_quota:,.0f} MB of CPU share; twice the measured peak is {memory_for_rss:,.0f} MB. "
        f"**Use {memory} MB** (the next Lambda size above both); a run with more than the "
        f"{max_findings:,} findings measured here needs it re-measured (about {per_finding_kb:.1f} KB each).",
        *_past_one_invocation(per_invocation, min(limit_rate, cpu_rate * vcpu)),
        "",
    ]


def before_after(rows: list[Row], before: dict | None) -> list[str]:
    """What the profile showed, what the engine changed, and ours before and after, per scenario."""
    lines = [
        "## Where the time went, and what the engine changed",
        "",
        "A first run (engine at the commit named below) missed the CPU, AWS CLI, memory and latency "
        "targets. cProfile of its scan of one CA (50,000 certificates, 200 pages): botocore's response "
        "parsing was nearly all of the CPU, and 3.6 s of its 5.9 s (61%) was `parse_timestamp`, which turns "
        "every `creationDate` into a datetime through dateutil's `tzlocal()`; the engine's own work per page "
        "was under 2%. tracemalloc showed the peak memory growing ~3.3 KB per finding in `fit_report`, which "
        "rendered the SNS message of every finding once before trimming it to 256 KB. The engine then "
        "changed (commit 3a16b69): certificate pages are read with `json.loads` in a `before-parse` hook "
        "(errors still go through botocore's parser and retries), and the message is fitted from per-item "
        "costs.",
        "",
    ]
    if not before:
        return lines
    earlier = {(r["scenario"], r["contender"]): r for r in before["rows"]}
    lines += [
        f"Before: {before['meta']['versions'].split('; ')[-1]}, run on {before['meta']['started']} "
        f"(load average {before['meta']['load_before']:.1f}, so its wall times are inflated; CPU and RSS much less).",
        "",
        "| scenario (ours) | scan CPU s before → after | process wall s before → after | peak RSS MB before → after |",
        "|---|---|---|---|",
    ]
    for row in rows:
        old = earlier.get((row.scenario, row.contender))
        if row.contender != OURS or not old or row.group in (QUOTA, SHARE):
            continue
        lines.append(
            f"| {row.scenario} | {_f(old['scan_cpu_s'])} → {_f(row.scan_cpu_s)} "
            f"| {_f(old['process_wall_s'])} → {_f(row.process_wall_s)} "
            f"| {old['peak_rss_mb']:.1f} → {row.peak_rss_mb:.1f} |"
        )
    return [*lines, ""]


def write_results(
    path: Path,
    rows: list[Row],
    verdicts: list[Verdict],
    meta: dict,
    *,
    plot_name: str,
    before: dict | None = None,
    memory: dict | None = None,
    formats: dict | None = None,
) -> None:
    sizes = SIZE_NAMES[meta["mode"]]
    size_note = ", ".join(f"{name} = {n:,}" for name, n in sizes.items())
    load = f"{meta['load_before']:.1f} at the start and {meta['load_after']:.1f} at the end (1-minute)"
    lines = [
        "# Benchmark results",
        "",
        f"Produced by `{meta['command']}` ({meta['mode']} run, {size_note}) on {meta['started']}, "
        f"in {meta['duration_s'] / 60:.1f} minutes.",
        "",
        f"- Machine: {meta['machine']}; load average {load}",
        f"- Versions: {meta['versions']}",
        *(
            [f"- **The engine changed during the run** (now {meta['engine_changed']}): rows mix two versions."]
            if meta.get("engine_changed")
            else []
        ),
        *(
            f"- The *{again['group']}* scenarios were run again with `{again['command']} --only {again['group']}` on "
            f"{again['started']} (load average {again['load_before']:.1f} → {again['load_after']:.1f}; "
            f"{again['versions']}); their rows replace the first run's.{_busy(again)}"
            for again in latest_reruns(meta)
        ),
        *(f"- {note}" for note in meta.get("notes", [])),
        "- Endpoint: the stand-in IoT server of bench/server.py on loopback (see bench/README.md for how it "
        "differs from the real API). Each contender runs in its own process; wall, CPU and peak RSS are that "
        "process's (wait4); *scan* figures are timed inside the process after imports and client creation.",
        "",
        "## Targets",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    lines += [f"| {v.target} | {v.measured} | {_verdict_cell(v.passed)} |" for v in verdicts]
    lines += ["", f"![certificates/s and peak RSS against N]({plot_name})", ""]
    for group, title in ((SIZE, "Sizes"), (LATENCY, "With per-request latency"), (QUOTA, "Under a request quota")):
        group_rows = [r for r in rows if r.group == group]
        if group_rows:
            lines += [f"## {title}", "", *_rows_table(group_rows), ""]
    quota = [r for r in rows if r.group == QUOTA]
    if quota:
        lines += ["Achieved request rate under the quota (requests answered, not throttled, per second of scan):", ""]
        lines += [
            f"- {r.contender}{_limit_note(r)}, burst {r.quota_burst:g}: {r.achieved_rps:.2f} req/s = "
            f"{r.quota_share:.0%} of {r.quota_rps:g}, "
            f"{r.throttled} throttled answers, {r.failed_cas} failed CAs"
            for r in quota
        ]
        lines.append("")
    lines += share_section([r for r in rows if r.group == SHARE])
    lines += before_after(rows, before)
    lines += sizing(rows)
    lines += memory_section(memory)
    lines += formats_section(formats, memory)
    lines += continuation_section()
    lines += [
        "## How to read this",
        "",
        "- *wall s / CPU s / peak RSS*: the whole process, start to exit, including Python start-up and imports "
        "(~1 s); *certs/s* = certificates / process wall time.",
        "- *pages*: ListCertificatesByCA requests the server answered with a page; *expected*: ceil(N/250) per CA. "
        "*discovery*: ListCACertificates pages (runs with `CAs=*`). *describe*: DescribeCACertificate "
        "requests (the engine describes each CA once; not pages). *throttled*: the contender's requests answered "
        "ThrottlingException (ours retries each within its call's 10 attempts; the floor and the AWS CLI through "
        "botocore's adaptive retries). *retries*: as the client counted them.",
        "- *correct*: the contender listed every certificate and, where it reports them, found exactly the "
        "flagged ones.",
        f"- {math.ceil(sum(r.process_wall_s for r in rows))} s of contender processes in total.",
        "",
    ]
    path.write_text("\n".join(lines))
