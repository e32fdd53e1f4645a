"""Running the scenarios: one fleet and one stand-in server per scenario, each contender in turn.

Every contender's figures are joined with what the server counted while it ran (pages
served, requests throttled), which is the same for every contender whatever it reports.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from bench.fleet import Fleet
from bench.processes import run_awscli, run_python_contender
from bench.scenarios import AWSCLI, Scenario
from bench.server import StandInIoT, serving


@dataclass
class Row:
    """One contender's run of one scenario."""

    group: str
    scenario: str
    contender: str
    cas: int
    certificates: int
    flagged_share: float
    pages: int
    expected_pages: int
    discovery_pages: int
    expected_discovery_pages: int
    throttled: int
    process_wall_s: float
    process_cpu_s: float
    peak_rss_mb: float
    scan_wall_s: float | None
    scan_cpu_s: float | None
    client_retries: int | None
    failed_cas: int
    correct: bool  # listed every certificate, and found exactly the flagged ones where it reports them
    latency_s: float
    quota_rps: float | None

    @property
    def certificates_per_s(self) -> float:
        return self.certificates / self.process_wall_s

    @property
    def pages_exact(self) -> bool:
        return self.pages == self.expected_pages and self.discovery_pages == self.expected_discovery_pages

    @property
    def achieved_rps(self) -> float | None:
        """Requests served (not throttled) per second of scan, for the quota scenario."""
        wall = self.scan_wall_s or self.process_wall_s
        return (self.pages + self.discovery_pages) / wall

    def as_dict(self) -> dict:
        return asdict(self) | {"certificates_per_s": self.certificates_per_s, "pages_exact": self.pages_exact}


def run_contender(contender: str, scenario: Scenario, endpoint: str, ca_ids: list[str]) -> dict:
    if contender == AWSCLI:
        return run_awscli(endpoint, ca_ids, all_cas=scenario.all_cas)
    return run_python_contender(contender, endpoint, [] if scenario.all_cas else ca_ids, scenario.env)


def run_scenario(scenario: Scenario, fleet: Fleet, log=print) -> list[Row]:
    api = StandInIoT(fleet, latency_s=scenario.latency_s, quota_rps=scenario.quota_rps)
    ca_ids = [ca.ca_certificate_id for ca in fleet.cas]
    rows = []
    with serving(api) as endpoint:
        for contender in scenario.contenders:
            api.traffic.reset()
            if api.quota:
                api.quota.tokens = api.quota.capacity  # every contender starts with the same burst
            started = time.perf_counter()
            figures = run_contender(contender, scenario, endpoint, ca_ids)
            row = Row(
                group=scenario.group,
                scenario=scenario.label,
                contender=contender,
                cas=scenario.cas,
                certificates=scenario.certificates,
                flagged_share=scenario.flagged_share,
                pages=api.traffic.pages("ListCertificatesByCA"),
                expected_pages=scenario.expected_pages,
                discovery_pages=api.traffic.pages("ListCACertificates"),
                expected_discovery_pages=scenario.expected_discovery_pages,
                throttled=api.traffic.rejected("ThrottlingException"),
                process_wall_s=figures["process_wall_s"],
                process_cpu_s=figures["process_cpu_s"],
                peak_rss_mb=figures["peak_rss_mb"],
                scan_wall_s=figures.get("scan_wall_s"),
                scan_cpu_s=figures.get("scan_cpu_s"),
                client_retries=figures.get("client_retries"),
                failed_cas=figures["failed_cas"],
                correct=_correct(figures, fleet),
                latency_s=scenario.latency_s,
                quota_rps=scenario.quota_rps,
            )
            rows.append(row)
            log(
                f"  {contender:<20} {row.process_wall_s:7.2f} s wall {row.process_cpu_s:7.2f} s CPU "
                f"{row.peak_rss_mb:7.1f} MB  pages {row.pages}/{row.expected_pages}  throttled {row.throttled}"
                f"{'' if row.correct else '  WRONG RESULT'}  ({time.perf_counter() - started:.1f} s)"
            )
    return rows


def _correct(figures: dict, fleet: Fleet) -> bool:
    listed = figures.get("certificates")
    flagged = figures.get("flagged")
    return (listed is None or listed == fleet.certificates) and (flagged is None or flagged == fleet.flagged)


def run_all(scenarios: list[Scenario], log=print) -> list[Row]:
    rows: list[Row] = []
    fleets: dict[tuple, Fleet] = {}
    for scenario in scenarios:
        key = (scenario.cas, scenario.per_ca, scenario.flagged_share)
        if key not in fleets:
            fleets.clear()  # one fleet in memory at a time: a million certificates is ~300 MB
            started = time.perf_counter()
            fleets[key] = Fleet.build(*key)
            log(f"fleet {scenario.cas} × {scenario.per_ca:,} built in {time.perf_counter() - started:.1f} s")
        log(scenario.label)
        rows += run_scenario(scenario, fleets[key], log)
    return rows
