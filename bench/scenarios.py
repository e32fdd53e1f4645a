"""What the benchmark runs: fleets, stand-in switches and contenders, for the quick and the full run.

The quick run keeps the shape of the full one at a fraction of the size, so every target
still gets a verdict (on scaled-down sizes) in seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

PAGE_SIZE = 250  # the engine's default PAGE_SIZE, and the API's maximum
OURS, FLOOR, AWSCLI = "ours", "floor", "awscli"
CONTENDERS = (OURS, FLOOR, AWSCLI)
SIZE, LATENCY, QUOTA, SHARE = "size", "latency", "quota", "share"
GROUPS = (SIZE, LATENCY, QUOTA, SHARE)


@dataclass(frozen=True)
class Scenario:
    group: str  # one of GROUPS
    cas: int
    per_ca: int
    flagged_share: float
    contenders: tuple[str, ...]
    latency_s: float = 0.0
    quota_rps: float | None = None
    quota_burst: float = 1.0  # requests the quota lets through at once (see server.TokenBucket)
    all_cas: bool = False  # CA_CERTIFICATE_IDS=*: find the CAs with ListCACertificates first
    env: dict[str, str] = field(default_factory=dict)  # extra engine settings, e.g. SCAN_CONCURRENCY
    # IOT_RATE_LIMIT for ours; None: no rate limiter at all (BENCH_RATE_LIMIT=off, a benchmark-only
    # switch), so that the size and latency groups measure the client, not the limit.
    iot_rate_limit: int | None = None
    # A competing caller's steady demand on the same stand-in (requests/s; bench/competitor.py).
    competitor_rps: float | None = None
    # Runs of each contender; the one with the shortest wall time is kept, as the least disturbed
    # by whatever else the machine is doing (short runs are cheap to repeat, long ones are not).
    repeats: int = 1

    @property
    def certificates(self) -> int:
        return self.cas * self.per_ca

    @property
    def expected_pages(self) -> int:
        """The fewest ListCertificatesByCA requests that can list the fleet: ceil(N/250) per CA."""
        return self.cas * max(1, math.ceil(self.per_ca / PAGE_SIZE))

    @property
    def expected_discovery_pages(self) -> int:
        return math.ceil(self.cas / PAGE_SIZE) if self.all_cas else 0

    @property
    def label(self) -> str:
        cas = f"{self.cas} CAs × {self.per_ca:,}" if self.cas > 1 else f"1 CA × {self.per_ca:,}"
        parts = [cas, f"{self.flagged_share:.0%} flagged"]
        if self.all_cas:
            parts.append("CAs=*")
        if self.latency_s:
            parts.append(f"{self.latency_s * 1000:.0f} ms latency")
        if self.quota_rps:
            parts.append(f"quota {self.quota_rps:g} req/s, burst {self.quota_burst:g}")
        parts += [f"{key}={value}" for key, value in self.env.items()]
        if self.competitor_rps:
            parts.append(f"other caller {self.competitor_rps:g} req/s")
        if self.iot_rate_limit:
            parts.append(f"ours at IOT_RATE_LIMIT={self.iot_rate_limit}")
        return ", ".join(parts)

    def contender_env(self, contender: str) -> dict[str, str]:
        """The settings a contender runs with: the scenario's, and for ours the rate limit."""
        if contender != OURS:
            return dict(self.env)
        if self.iot_rate_limit is None:
            return {**self.env, "BENCH_RATE_LIMIT": "off"}
        return {**self.env, "IOT_RATE_LIMIT": str(self.iot_rate_limit)}


ALL_THREE = (OURS, FLOOR, AWSCLI)
PYTHON_ONLY = (OURS, FLOOR)
QUOTA_RPS = 10  # ListCertificatesByCA's default quota (requests/s per account and Region)
COMPETITOR_RPS = 5  # provisioning, JITR and operators: half the quota, the other half of the default limit


def full() -> list[Scenario]:
    """The issue's sizes. The AWS CLI holds the whole listing in memory and is slowest, so at
    1M certificates it runs at 1% flagged only (the flagged share changes nothing for it but
    the size of its output)."""
    return [
        Scenario(SIZE, 1, 10_000, 0.01, ALL_THREE, repeats=3),
        Scenario(SIZE, 1, 10_000, 0.10, ALL_THREE, repeats=3),
        Scenario(SIZE, 1, 100_000, 0.01, ALL_THREE, repeats=3),
        Scenario(SIZE, 1, 100_000, 0.10, ALL_THREE, repeats=3),
        Scenario(SIZE, 1, 1_000_000, 0.01, ALL_THREE),
        Scenario(SIZE, 1, 1_000_000, 0.10, PYTHON_ONLY),
        Scenario(SIZE, 10, 100_000, 0.01, ALL_THREE, all_cas=True),
        Scenario(SIZE, 10, 100_000, 0.10, PYTHON_ONLY, all_cas=True),
        # 20 pages per CA at 50 ms: one CA takes about a second, so 10 CAs show the parallelism.
        Scenario(LATENCY, 1, 5_000, 0.01, (OURS,), latency_s=0.05, repeats=3),
        Scenario(LATENCY, 10, 5_000, 0.01, (OURS,), latency_s=0.05, repeats=3),
        Scenario(LATENCY, 10, 5_000, 0.01, (OURS,), latency_s=0.05, env={"SCAN_CONCURRENCY": "10"}, repeats=3),
        # 300 pages at 10 req/s: a 30 s scan that cannot go faster than the quota. AWS does not
        # publish IoT's burst: a bucket of one second's requests (the usual AWS shape) and the
        # strictest one (no burst at all, so every request must keep 100 ms from the one before).
        # The audit alone in the account: ours with its limit raised to the whole quota (what an
        # owner of the quota would set; the target is judged on it), and at the maximum, 100,
        # where only its back-off keeps it within the quota.
        *quota_scenarios(10, 7_500, bursts=(10, 1), limits=(10, 100)),
        # The quota shared with production: a caller at 5 req/s (half the quota) all the while.
        *share_scenarios(10, 5_000, bursts=(10, 1), limits=(5, 8, 100)),
    ]


def quota_scenarios(cas: int, per_ca: int, bursts: tuple[float, ...], limits: tuple[int, ...]) -> list[Scenario]:
    """Per burst: ours at each limit; the floor (no limiter, botocore's retries) once, beside the first."""
    return [
        Scenario(
            QUOTA,
            cas,
            per_ca,
            0.01,
            PYTHON_ONLY if limit == limits[0] else (OURS,),
            quota_rps=QUOTA_RPS,
            quota_burst=burst,
            all_cas=True,
            iot_rate_limit=limit,
        )
        for burst in bursts
        for limit in limits
    ]


def share_scenarios(cas: int, per_ca: int, bursts: tuple[float, ...], limits: tuple[int, ...]) -> list[Scenario]:
    return [
        Scenario(
            SHARE,
            cas,
            per_ca,
            0.01,
            (OURS,),
            quota_rps=QUOTA_RPS,
            quota_burst=burst,
            all_cas=True,
            iot_rate_limit=limit,
            competitor_rps=COMPETITOR_RPS,
        )
        for burst in bursts
        for limit in limits
    ]


def quick() -> list[Scenario]:
    """The same shape, scaled down: 1k / 10k / 50k stand for 10k / 100k / 1M."""
    return [
        Scenario(SIZE, 1, 1_000, 0.01, ALL_THREE),
        Scenario(SIZE, 1, 10_000, 0.01, ALL_THREE),
        Scenario(SIZE, 1, 10_000, 0.10, PYTHON_ONLY),
        Scenario(SIZE, 1, 50_000, 0.01, PYTHON_ONLY),
        Scenario(SIZE, 3, 5_000, 0.01, PYTHON_ONLY, all_cas=True),
        Scenario(LATENCY, 1, 1_000, 0.01, (OURS,), latency_s=0.05),
        Scenario(LATENCY, 10, 1_000, 0.01, (OURS,), latency_s=0.05),
        *quota_scenarios(2, 5_000, bursts=(10,), limits=(10,)),
        *share_scenarios(2, 2_500, bursts=(10,), limits=(5, 100)),
    ]


# Which size stands for which of the sizes, per mode (for the targets).
SIZE_NAMES = {
    "full": {"10k": 10_000, "100k": 100_000, "1M": 1_000_000},
    "quick": {"10k": 1_000, "100k": 10_000, "1M": 50_000},
}
