"""Running the scenarios: one stand-in server process per scenario, each contender in turn.

Every contender's figures are joined with what the server counted while it ran (pages
served, requests throttled), which is the same for every contender whatever it reports.
In a share scenario a competing caller (bench/competitor.py) sends its own requests to the
same stand-in from before the contender starts until it has finished; the server counts
them apart, and the row carries what became of those due during the contender's scan.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, fields

from bench.competitor import Competitor, share_within
from bench.processes import REPO_ROOT, base_env, run_awscli, run_python_contender
from bench.scenarios import AWSCLI, Scenario

COMPETITOR_LEAD_S = 1.0  # the competing caller is under way this long before the contender starts


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
    describes: int  # DescribeCACertificate requests answered (the engine describes each CA once)
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
    quota_burst: float = 1.0
    iot_rate_limit: int | None = None  # ours' IOT_RATE_LIMIT; None: no limiter (or not ours)
    client_throttles: int | None = None  # throttled answers as the contender counted them (ours)
    # The competing caller (share scenarios): its demand, and its requests due during the scan.
    competitor_rps: float | None = None
    competitor_demanded: int | None = None
    competitor_succeeded: int | None = None
    competitor_throttled: int | None = None

    @property
    def certificates_per_s(self) -> float:
        return self.certificates / self.process_wall_s

    @property
    def pages_exact(self) -> bool:
        return self.pages == self.expected_pages and self.discovery_pages == self.expected_discovery_pages

    @property
    def achieved_rps(self) -> float | None:
        """Requests answered (not throttled) per second of scan, for the quota scenario."""
        wall = self.scan_wall_s or self.process_wall_s
        return (self.pages + self.discovery_pages + self.describes) / wall

    @property
    def quota_share(self) -> float | None:
        return self.achieved_rps / self.quota_rps if self.quota_rps else None

    @property
    def competitor_share(self) -> float | None:
        """The share of the competing caller's requests (due during the scan) that succeeded."""
        if not self.competitor_demanded:
            return None
        return self.competitor_succeeded / self.competitor_demanded

    def as_dict(self) -> dict:
        return asdict(self) | {"certificates_per_s": self.certificates_per_s, "pages_exact": self.pages_exact}

    @classmethod
    def from_dict(cls, saved: dict) -> Row:
        return cls(**{f.name: saved[f.name] for f in fields(cls) if f.name in saved})


class StandIn:
    """The harness's handle on a stand-in server process: its URL and its side door."""

    def __init__(self, url: str):
        self.url = url

    def control(self, command: str) -> dict:
        with urllib.request.urlopen(f"{self.url}/_bench/{command}") as response:
            return json.load(response)


@contextmanager
def stand_in_process(scenario: Scenario) -> Iterator[StandIn]:
    """Run the stand-in in a process of its own (see bench.server.main for why)."""
    argv = [sys.executable, "-m", "bench.server", str(scenario.cas), str(scenario.per_ca)]
    argv += [str(scenario.flagged_share), str(scenario.latency_s), str(scenario.quota_rps or "none")]
    argv += [str(scenario.quota_burst)]
    server = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO_ROOT, env=base_env())
    try:
        url = server.stdout.readline().decode().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the stand-in server did not start (said {url!r})")
        yield StandIn(url)
    finally:
        server.stdin.close()
        server.wait(timeout=60)
        server.stdout.close()


def run_contender(contender: str, scenario: Scenario, endpoint: str, ca_ids: list[str]) -> dict:
    if contender == AWSCLI:
        return run_awscli(endpoint, ca_ids, all_cas=scenario.all_cas)
    env = scenario.contender_env(contender)
    return run_python_contender(contender, endpoint, [] if scenario.all_cas else ca_ids, env)


def run_beside_competitor(contender: str, scenario: Scenario, endpoint: str, ca_ids: list[str]) -> dict:
    """Run the contender while the competing caller sends its demand (if the scenario has one);
    the contender's figures, plus what became of the competitor's requests due during its scan."""
    competitor = Competitor(endpoint, ca_ids[0], scenario.competitor_rps) if scenario.competitor_rps else None
    with competitor or nullcontext():
        if competitor:
            time.sleep(COMPETITOR_LEAD_S)  # production is already calling when the audit starts
        figures = run_contender(contender, scenario, endpoint, ca_ids)
    if competitor:
        share = share_within(competitor.outcomes, figures["scan_started"], figures["scan_ended"])
        figures.update(
            competitor_demanded=share.demanded,
            competitor_succeeded=share.succeeded,
            competitor_throttled=share.throttled,
        )
    return figures


def run_scenario(scenario: Scenario, log=print) -> list[Row]:
    rows = []
    started = time.perf_counter()
    with stand_in_process(scenario) as stand_in:
        fleet = stand_in.control("fleet")
        log(f"{scenario.label} (fleet ready in {time.perf_counter() - started:.1f} s)")
        for contender in scenario.contenders:
            started = time.perf_counter()
            runs = []
            for _ in range(scenario.repeats):
                stand_in.control("reset")
                figures = run_beside_competitor(contender, scenario, stand_in.url, fleet["caCertificateIds"])
                runs.append((figures["process_wall_s"], figures, stand_in.control("traffic")))
            _, figures, traffic = min(runs, key=lambda run: run[0])
            row = Row(
                group=scenario.group,
                scenario=scenario.label,
                contender=contender,
                cas=scenario.cas,
                certificates=scenario.certificates,
                flagged_share=scenario.flagged_share,
                pages=traffic.get("ListCertificatesByCA|ok", 0),
                expected_pages=scenario.expected_pages,
                discovery_pages=traffic.get("ListCACertificates|ok", 0),
                expected_discovery_pages=scenario.expected_discovery_pages,
                describes=traffic.get("DescribeCACertificate|ok", 0),
                throttled=sum(
                    n for key, n in traffic.items() if ":" not in key and key.endswith("|ThrottlingException")
                ),
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
                quota_burst=scenario.quota_burst,
                iot_rate_limit=figures.get("iot_rate_limit"),
                client_throttles=figures.get("client_throttles"),
                competitor_rps=scenario.competitor_rps,
                competitor_demanded=figures.get("competitor_demanded"),
                competitor_succeeded=figures.get("competitor_succeeded"),
                competitor_throttled=figures.get("competitor_throttled"),
            )
            rows.append(row)
            log(
                f"  {contender:<20} {row.process_wall_s:7.2f} s wall {row.process_cpu_s:7.2f} s CPU "
                f"{row.peak_rss_mb:7.1f} MB  pages {row.pages}/{row.expected_pages}  throttled {row.throttled}"
                f"{'' if row.correct else '  WRONG RESULT'}  (best of {scenario.repeats}, "
                f"{time.perf_counter() - started:.1f} s)"
                + (
                    f"\n  {'':<20} other caller: {row.competitor_succeeded}/{row.competitor_demanded} succeeded, "
                    f"{row.competitor_throttled} throttled answers; ours {row.achieved_rps:.2f} req/s, "
                    f"{row.failed_cas} failed CAs"
                    if row.competitor_demanded is not None
                    else ""
                )
            )
    return rows


def _correct(figures: dict, fleet: dict) -> bool:
    listed = figures.get("certificates")
    flagged = figures.get("flagged")
    return (listed is None or listed == fleet["certificates"]) and (flagged is None or flagged == fleet["flagged"])


def run_all(scenarios: list[Scenario], log=print) -> list[Row]:
    rows: list[Row] = []
    for scenario in scenarios:
        rows += run_scenario(scenario, log)
    return rows
