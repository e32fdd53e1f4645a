"""The issue's targets, each judged pass or fail from the rows of one run.

A target whose rows are missing (e.g. the AWS CLI skipped) is reported as not measured,
never as passed.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.run import Row
from bench.scenarios import AWSCLI, FLOOR, LATENCY, OURS, QUOTA, SHARE, SIZE

CPU_RATIO_MAX = 1.10
CLI_SPEEDUP_MIN = 2.0
RSS_GROWTH_MAX_MB = 25.0
LATENCY_RATIO_MAX = 1.5
QUOTA_SHARE_MIN = 0.90
DEFAULT_RATE_LIMIT = 5  # the engine's default IOT_RATE_LIMIT (cert_audit.config)
COMPETITOR_SHARE_MIN = 0.95


@dataclass
class Verdict:
    target: str
    measured: str
    passed: bool | None  # None: not measured in this run


def _one_ca(rows: list[Row], contender: str, certificates: int, share: float | None = None) -> list[Row]:
    return [
        r
        for r in rows
        if r.group == SIZE
        and r.cas == 1
        and r.contender == contender
        and r.certificates == certificates
        and (share is None or r.flagged_share == share)
    ]


def _pairs(rows: list[Row], a: str, b: str, certificates: int):
    for row_a in _one_ca(rows, a, certificates):
        for row_b in _one_ca(rows, b, certificates, row_a.flagged_share):
            yield row_a, row_b


def page_requests(rows: list[Row]) -> Verdict:
    # A run with a failed CA listed less than its fleet (that is the quota's story, told there).
    failed = [r for r in rows if r.contender == OURS and r.failed_cas]
    ours = [r for r in rows if r.contender == OURS and not r.failed_cas]
    wrong = [f"{r.scenario}: {r.pages}+{r.discovery_pages}" for r in ours if not r.pages_exact]
    total = sum(r.pages + r.discovery_pages for r in ours)
    measured = f"{len(ours) - len(wrong)} of {len(ours)} runs exact ({total:,} requests)"
    if wrong:
        measured += "; off: " + "; ".join(wrong)
    if failed:
        measured += f"; {len(failed)} run(s) with a failed CA not judged: " + "; ".join(r.scenario for r in failed)
    return Verdict("Page requests = ceil(N/250) per CA (+ discovery pages for `*`), ours", measured, not wrong)


def cpu_vs_floor(rows: list[Row], sizes: dict[str, int]) -> Verdict:
    ratios = []
    for name in ("100k", "1M"):
        for ours, floor in _pairs(rows, OURS, FLOOR, sizes[name]):
            ratios.append((f"{name} @ {ours.flagged_share:.0%}", ours.scan_cpu_s / floor.scan_cpu_s))
    measured = ", ".join(f"{label}: {ratio:.2f}×" for label, ratio in ratios) or "not measured"
    passed = all(r <= CPU_RATIO_MAX for _, r in ratios) if ratios else None
    return Verdict(f"Scan CPU of ours ≤ {CPU_RATIO_MAX:.2f} × floor at 100k and 1M", measured, passed)


def faster_than_cli(rows: list[Row], sizes: dict[str, int]) -> Verdict:
    speedups = [
        (f"{ours.flagged_share:.0%}", cli.process_wall_s / ours.process_wall_s, ours, cli)
        for ours, cli in _pairs(rows, OURS, AWSCLI, sizes["100k"])
    ]
    measured = (
        "; ".join(
            f"{label}: {s:.2f}× (AWS CLI {cli.process_wall_s:.1f} s, ours {ours.process_wall_s:.1f} s; "
            f"CPU {cli.process_cpu_s / ours.process_cpu_s:.2f}×)"
            for label, s, ours, cli in speedups
        )
        or "not measured"
    )
    passed = all(s >= CLI_SPEEDUP_MIN for _, s, _, _ in speedups) if speedups else None
    return Verdict(f"Ours ≥ {CLI_SPEEDUP_MIN:g}× faster than the AWS CLI at 100k (process wall time)", measured, passed)


def flat_memory(rows: list[Row], sizes: dict[str, int]) -> Verdict:
    small = _one_ca(rows, OURS, sizes["10k"], 0.01)
    large = _one_ca(rows, OURS, sizes["1M"], 0.01)
    if not (small and large):
        return Verdict("Peak RSS growth 10k → 1M at 1% flagged < 25 MB, ours", "not measured", None)
    growth = large[0].peak_rss_mb - small[0].peak_rss_mb
    return Verdict(
        f"Peak RSS growth 10k → 1M at 1% flagged < {RSS_GROWTH_MAX_MB:g} MB, ours",
        f"{small[0].peak_rss_mb:.1f} → {large[0].peak_rss_mb:.1f} MB (+{growth:.1f} MB)",
        growth < RSS_GROWTH_MAX_MB,
    )


def latency_parallelism(rows: list[Row]) -> Verdict:
    ours = [r for r in rows if r.group == LATENCY and r.contender == OURS and "SCAN_CONCURRENCY" not in r.scenario]
    one = [r for r in ours if r.cas == 1]
    ten = [r for r in ours if r.cas == 10]
    name = f"With 50 ms latency, 10 CAs ≤ {LATENCY_RATIO_MAX:g} × one CA of the same size (default concurrency)"
    if not (one and ten):
        return Verdict(name, "not measured", None)
    ratio = ten[0].scan_wall_s / one[0].scan_wall_s
    return Verdict(
        name,
        f"{ten[0].scan_wall_s:.2f} s vs {one[0].scan_wall_s:.2f} s = {ratio:.2f}× (N = {one[0].certificates:,} per CA)",
        ratio <= LATENCY_RATIO_MAX,
    )


def quota_use(rows: list[Row]) -> Verdict:
    """The audit alone in the account, its limit raised to the whole quota (IOT_RATE_LIMIT = the
    quota): judged on the quota with a one-second burst (the usual AWS bucket); the strict,
    no-burst quota and the other limits are reported beside it."""
    ours = sorted(
        (r for r in rows if r.group == QUOTA and r.contender == OURS),
        key=lambda r: (-r.quota_burst, r.iot_rate_limit or 0),
    )
    name = (
        f"Under a 10 req/s quota (1 s burst), ours alone at IOT_RATE_LIMIT=10: ≥ {QUOTA_SHARE_MIN:.0%} of the "
        "quota achieved, zero failed CAs"
    )
    judged = [r for r in ours if r.iot_rate_limit == r.quota_rps]
    if not judged:
        return Verdict(name, "not measured", None)
    measured = "; ".join(
        f"burst {r.quota_burst:g}, limit {r.iot_rate_limit or 'off'}: {r.achieved_rps:.2f} req/s = "
        f"{r.quota_share:.0%} of {r.quota_rps:g}, {r.failed_cas} failed CAs, {r.throttled} throttled answers"
        for r in ours
    )
    row = judged[0]
    return Verdict(name, measured, row.quota_share >= QUOTA_SHARE_MIN and row.failed_cas == 0)


def quota_shared(rows: list[Row]) -> Verdict:
    """The quota shared with a competing caller: judged at the default limit with a one-second
    burst; the other limits and the strict quota are reported beside it."""
    ours = sorted(
        (r for r in rows if r.group == SHARE and r.contender == OURS),
        key=lambda r: (-r.quota_burst, r.iot_rate_limit or 1000),
    )
    name = (
        f"Sharing the 10 req/s quota (1 s burst) with a caller at 5 req/s, default IOT_RATE_LIMIT="
        f"{DEFAULT_RATE_LIMIT}: ≥ {COMPETITOR_SHARE_MIN:.0%} of the other caller's requests succeed; ours exact, "
        "zero failed CAs"
    )
    judged = [r for r in ours if r.iot_rate_limit == DEFAULT_RATE_LIMIT and r.competitor_share is not None]
    if not judged:
        return Verdict(name, "not measured", None)
    measured = "; ".join(
        f"burst {r.quota_burst:g}, limit {r.iot_rate_limit or 'off'}: ours {r.achieved_rps:.2f} req/s = "
        f"{r.quota_share:.0%} of the quota, {r.failed_cas} failed CAs{'' if r.correct else ', WRONG RESULT'}; "
        f"other caller {r.competitor_share:.0%} of {r.competitor_demanded} succeeded"
        for r in ours
        if r.competitor_share is not None
    )
    row = judged[0]
    passed = row.competitor_share >= COMPETITOR_SHARE_MIN and row.failed_cas == 0 and row.correct
    return Verdict(name, measured, passed)


def judge(rows: list[Row], sizes: dict[str, int]) -> list[Verdict]:
    return [
        page_requests(rows),
        cpu_vs_floor(rows, sizes),
        faster_than_cli(rows, sizes),
        flat_memory(rows, sizes),
        latency_parallelism(rows),
        quota_use(rows),
        quota_shared(rows),
    ]
