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
SIZE, LATENCY, QUOTA = "size", "latency", "quota"


@dataclass(frozen=True)
class Scenario:
    group: str  # SIZE, LATENCY or QUOTA
    cas: int
    per_ca: int
    flagged_share: float
    contenders: tuple[str, ...]
    latency_s: float = 0.0
    quota_rps: float | None = None
    quota_burst: float = 1.0  # requests the quota lets through at once (see server.TokenBucket)
    all_cas: bool = False  # CA_CERTIFICATE_IDS=*: find the CAs with ListCACertificates first
    env: dict[str, str] = field(default_factory=dict)  # extra engine settings, e.g. SCAN_CONCURRENCY
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
        return ", ".join(parts)


ALL_THREE = (OURS, FLOOR, AWSCLI)
PYTHON_ONLY = (OURS, FLOOR)


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
        Scenario(QUOTA, 10, 7_500, 0.01, PYTHON_ONLY, quota_rps=10, quota_burst=10, all_cas=True),
        Scenario(QUOTA, 10, 7_500, 0.01, PYTHON_ONLY, quota_rps=10, quota_burst=1, all_cas=True),
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
        Scenario(QUOTA, 2, 5_000, 0.01, (OURS,), quota_rps=10, quota_burst=10, all_cas=True),
    ]


# Which size stands for which of the sizes, per mode (for the targets).
SIZE_NAMES = {
    "full": {"10k": 10_000, "100k": 100_000, "1M": 1_000_000},
    "quick": {"10k": 1_000, "100k": 10_000, "1M": 50_000},
}
