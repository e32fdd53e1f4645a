"""The benchmark harness measures what it claims: the engine and the floor run correctly against the
stand-in, the server counts every page, and the targets judge the figures they are given."""

from __future__ import annotations

import os

import boto3
import pytest

from bench.fleet import Fleet
from bench.processes import run_python_contender
from bench.run import Row, run_scenario
from bench.scenarios import FLOOR, OURS, QUOTA, SIZE, Scenario
from bench.server import StandInIoT, serving
from bench.targets import judge
from cert_audit.audit import run_audit
from cert_audit.aws import make_clients
from cert_audit.config import load_config


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return Fleet.build(ca_count=3, certificates_per_ca=1000, flagged_share=0.1)


def test_fleet_has_exactly_the_flagged_share():
    # Given a fleet of 2 x 5000 at 1%; Then exactly 50 flagged per CA, 10 in every thousand
    fleet = Fleet.build(ca_count=2, certificates_per_ca=5000, flagged_share=0.01)
    assert [ca.flagged for ca in fleet.cas] == [50, 50]
    for first in range(0, 5000, 1000):
        assert fleet.cas[0].slice(first, 1000).count(b'"status":"ACTIVE"') == 990


def test_engine_scans_the_whole_fleet_through_the_stand_in(fleet):
    # Given the stand-in serving 3 CAs x 1000 certificates (10% flagged) and the engine's own clients
    api = StandInIoT(fleet)
    with serving(api) as url:
        iot, _ = make_clients(boto3.Session(region_name="us-east-1"), endpoint_url=url)
        config = load_config({"CA_CERTIFICATE_IDS": "*"}, require_topic=False)
        # When the engine audits every CA
        report = run_audit(iot, config, audit_id="test", account_id="123456789012")
    # Then it found the CAs, scanned every certificate, flagged exactly the flagged ones,
    # in ceil(1000 / 250) = 4 pages per CA plus one discovery page
    assert report["summary"]["casScanned"] == 3 and report["summary"]["casFailed"] == 0
    assert report["summary"]["certificatesScanned"] == 3000
    assert report["summary"]["findings"] == fleet.flagged == 300
    assert api.traffic.pages("ListCertificatesByCA") == 12
    assert api.traffic.pages("ListCACertificates") == 1


def test_scenario_rows_carry_the_server_counts_and_correctness():
    # Given a scenario of 3 CAs x 1000 with the floor contender (server and contender are subprocesses)
    scenario = Scenario(SIZE, 3, 1000, 0.1, (FLOOR,), all_cas=True)
    # When it runs
    (row,) = run_scenario(scenario, log=lambda _: None)
    # Then the row has the pages the server served, judged exact, and a correct listing
    assert (row.pages, row.expected_pages, row.discovery_pages) == (12, 12, 1)
    assert row.pages_exact and row.correct
    assert row.peak_rss_mb > 0 and row.process_cpu_s > 0


def test_ours_contender_reports_the_engines_findings(fleet):
    # Given the stand-in; When the engine runs as the benchmark runs it (own process)
    with serving(StandInIoT(fleet)) as url:
        figures = run_python_contender(OURS, url, [fleet.cas[0].ca_certificate_id], {})
    # Then it scanned one CA's certificates, found its flagged ones and built the SNS message
    assert figures["certificates"] == 1000
    assert figures["flagged"] == fleet.cas[0].flagged == 100
    assert 0 < figures["message_bytes"] <= 256 * 1024
    assert os.environ.get("AWS_ENDPOINT_URL") is None  # the harness never points the test process anywhere


def make_row(**overrides) -> Row:
    values = dict(
        group=SIZE,
        scenario="s",
        contender=OURS,
        cas=1,
        certificates=100_000,
        flagged_share=0.01,
        pages=400,
        expected_pages=400,
        discovery_pages=0,
        expected_discovery_pages=0,
        describes=0,
        throttled=0,
        process_wall_s=10.0,
        process_cpu_s=10.0,
        peak_rss_mb=90.0,
        scan_wall_s=9.0,
        scan_cpu_s=9.0,
        client_retries=0,
        failed_cas=0,
        correct=True,
        latency_s=0.0,
        quota_rps=None,
    )
    return Row(**(values | overrides))


SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}


def test_targets_fail_on_an_extra_page_and_on_cpu_over_the_floor():
    # Given ours making one page too many and using 20% more CPU than the floor
    rows = [make_row(pages=401, scan_cpu_s=12.0), make_row(contender=FLOOR, scan_cpu_s=10.0)]
    # When judged
    verdicts = {v.target.split(" ")[0]: v for v in judge(rows, SIZES)}
    # Then both targets fail, and the ones without figures are not measured (never passed)
    assert verdicts["Page"].passed is False and "401" in verdicts["Page"].measured
    assert verdicts["Scan"].passed is False and "1.20×" in verdicts["Scan"].measured
    assert verdicts["Peak"].passed is None and verdicts["Ours"].passed is None


def verdict(rows: list[Row], first_word: str):
    return next(v for v in judge(rows, SIZES) if v.target.startswith(first_word))


def test_quota_target_needs_90_percent_and_no_failed_ca():
    # Given 300 pages served in 40 s under a 10 req/s quota (75%), ours at IOT_RATE_LIMIT=10
    rows = [make_row(group=QUOTA, pages=300, scan_wall_s=40.0, quota_rps=10, iot_rate_limit=10)]
    # When judged; Then the quota target fails with the achieved rate in its figure
    quota = verdict(rows, "Under")
    assert quota.passed is False and "7.50 req/s = 75%" in quota.measured
    # And at 30 s (100%) it passes, but not with a failed CA
    full = dict(group=QUOTA, pages=300, scan_wall_s=30.0, quota_rps=10, iot_rate_limit=10)
    assert verdict([make_row(**full)], "Under").passed is True
    assert verdict([make_row(**full, failed_cas=1)], "Under").passed is False


def test_quota_target_is_judged_on_the_limit_set_to_the_quota():
    # Given ours at the default limit (50% of the quota, by design) and at the quota's own rate (100%)
    rows = [
        make_row(group=QUOTA, pages=150, scan_wall_s=30.0, quota_rps=10, iot_rate_limit=5),
        make_row(group=QUOTA, pages=300, scan_wall_s=30.0, quota_rps=10, iot_rate_limit=10),
    ]
    # When judged; Then it passes on the run at IOT_RATE_LIMIT=10 and reports both
    quota = verdict(rows, "Under")
    assert quota.passed is True
    assert "limit 5: 5.00 req/s = 50%" in quota.measured and "limit 10: 10.00 req/s = 100%" in quota.measured
    # And without a run at the quota's rate it is not measured, never passed
    assert verdict(rows[:1], "Under").passed is None
