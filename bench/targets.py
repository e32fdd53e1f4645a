"""The issue's targets, each judged pass or fail from the rows of one run.

A target whose rows are missing (e.g. the AWS CLI skipped) is reported as not measured,
never as passed.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.run import Row
from bench.scenarios import AWSCLI, FLOOR, LATENCY, OURS, QUOTA, SIZE

CPU_RATIO_MAX = 1.10
CLI_SPEEDUP_MIN = 2.0
RSS_GROWTH_MAX_MB = 25.0
LATENCY_RATIO_MAX = 1.5
QUOTA_SHARE_MIN = 0.90


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
    ours = [r for r in rows if r.contender == OURS]
    wrong = [f"{r.scenario}: {r.pages}+{r.discovery_pages}" for r in ours if not r.pages_exact]
    total = sum(r.pages + r.discovery_pages for r in ours)
    measured = f"{len(ours) - len(wrong)} of {len(ours)} runs exact ({total:,} requests)"
    if wrong:
        measured += "; off: " + "; ".join(wrong)
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
    """Judged on the quota with a one-second burst (the usual AWS bucket); the strict, no-burst
    quota is reported beside it."""
    ours = sorted((r for r in rows if r.group == QUOTA and r.contender == OURS), key=lambda r: -r.quota_burst)
    name = f"Under a 10 req/s quota (1 s burst): ≥ {QUOTA_SHARE_MIN:.0%} of the quota achieved, zero failed CAs"
    if not ours:
        return Verdict(name, "not measured", None)
    measured = "; ".join(
        f"burst {r.quota_burst:g}: {r.achieved_rps:.2f} req/s = {r.achieved_rps / r.quota_rps:.0%} of "
        f"{r.quota_rps:g}, {r.failed_cas} failed CAs, {r.throttled} throttled answers"
        for r in ours
    )
    row = ours[0]
    return Verdict(name, measured, row.achieved_rps / row.quota_rps >= QUOTA_SHARE_MIN and row.failed_cas == 0)


def judge(rows: list[Row], sizes: dict[str, int]) -> list[Verdict]:
    return [
        page_requests(rows),
        cpu_vs_floor(rows, sizes),
        faster_than_cli(rows, sizes),
        flat_memory(rows, sizes),
        latency_parallelism(rows),
        quota_use(rows),
    ]
