"""`cert-audit demo` as a user runs it: a process of its own, its output checked against the fleet it seeds."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import pytest

from cert_audit.config import DEFAULT_FLAGGED_STATUSES, KNOWN_STATUSES, load_config
from cert_audit.demo import FLEET, REGION
from cert_audit.emulator import PAGE_SIZE_MAX
from cert_audit.findings import CA_EXPIRING, CA_NOT_ACTIVE

SCANNED = [ca for ca in FLEET if not ca.fails_with]
FAILED = [ca for ca in FLEET if ca.fails_with]
WARNING_DAYS = load_config({}, require_topic=False).ca_expiry_warning_days


def flagged(ca) -> int:
    return sum(count for status, count in ca.certificates.items() if status in DEFAULT_FLAGGED_STATUSES)


def status_findings(ca) -> int:
    """Certificates in a flagged status, of a CA that could be read and whose findings are not accepted."""
    return 0 if ca.fails_with or ca.accepted else flagged(ca)


def ca_findings(ca) -> list[str]:
    """The CA-level findings the seeded CA must produce (a failed CA has no ACTIVE count to go on)."""
    findings = []
    if ca.status != "ACTIVE" and ca.certificates.get("ACTIVE") and not ca.fails_with:
        findings.append(CA_NOT_ACTIVE)
    if ca.days_to_expiry <= WARNING_DAYS:
        findings.append(CA_EXPIRING)
    return findings


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One run of `python -m cert_audit demo` for the whole module: (process, report file)."""
    folder = tmp_path_factory.mktemp("demo")
    report_file = folder / "report.json"
    process = subprocess.run(
        [sys.executable, "-m", "cert_audit", "demo", "--report-file", str(report_file)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=folder,
    )
    return process, report_file


def test_demo_exits_0_and_says_the_report_matches_the_fleet(demo):
    process, report_file = demo
    assert process.returncode == 0, process.stderr
    assert "Traceback" not in process.stderr
    assert process.stdout.rstrip().endswith(f"The report matches the seeded fleet. JSON report: {report_file}")


def test_demo_output_has_the_fleets_exact_counts(demo):
    # Given the fleet the demo seeds (its constants)
    scanned = sum(ca.size for ca in SCANNED)
    findings = sum(status_findings(ca) + len(ca_findings(ca)) for ca in FLEET)
    with_findings = sum(1 for ca in FLEET if status_findings(ca) or ca_findings(ca))

    # When the demo has run, then the handler's result, the email subject and text carry those counts
    out = demo[0].stdout
    assert f"Handler result: scanned {scanned:,} certificates of {len(FLEET)} CAs, {findings:,} findings, " in out
    subject = (
        f"Subject: IoT certificate audit: {findings} findings in {with_findings} of {len(FLEET)} CAs, "
        f"{len(FAILED)} failed ({REGION})"
    )
    assert subject in out
    assert f"Scanned {scanned:,} device certificates of {len(FLEET)} CAs" in out
    all_cas = out[out.index("\nAll CAs\n") :]
    for status in KNOWN_STATUSES:
        count = sum(ca.certificates.get(status, 0) for ca in SCANNED)
        if count:
            assert f"\n  {status:<20} {count:>10,}\n" in all_cas
    for ca in FAILED:
        assert f"{ca.name}: ListCertificatesByCA answers {ca.fails_with}" in out
        assert f": FAILED ({ca.fails_with}), 0 findings" in out


def test_demo_shows_pages_requested_and_metrics(demo):
    out = demo[0].stdout
    # Then every CA's pages were requested once each (the failed CA: one refused request)
    for ca in FLEET:
        pages = 0 if ca.fails_with else math.ceil(ca.size / PAGE_SIZE_MAX)
        requests = max(pages, 1)
        assert re.search(rf"\nListCertificatesByCA\s+{ca.name}\s+{requests} \[{pages}\]\n", out), ca.name
    # and the metrics table has the run totals and each scanned CA's certificates by status
    scanned = sum(ca.size for ca in SCANNED)
    assert re.search(rf"\nCertificatesScanned\s+-\s+{scanned:,}\s+Count\n", out)
    assert re.search(rf"\nScanErrors\s+-\s+{len(FAILED)}\s+Count\n", out)
    for ca in SCANNED:
        found, active = status_findings(ca) + len(ca_findings(ca)), ca.certificates["ACTIVE"]
        days = r"[\d,]+" if ca.status == "ACTIVE" else "-"  # days to expiry: ACTIVE CAs only
        assert re.search(rf"\n{ca.name}\s+{found}\s+0\s+{days}\s+{active:,}\s", out), ca.name


def test_demo_report_file_is_the_json_report_with_the_fleets_counts(demo):
    # Then the report file holds what the subscribed queue received: the fleet's counts per CA
    report = json.loads(demo[1].read_text())
    counted = [{s: n for s, n in ca["byStatus"].items() if n} for ca in report["cas"] if not ca["error"]]
    assert sorted(counted, key=json.dumps) == sorted((ca.certificates for ca in SCANNED), key=json.dumps)
    assert sorted(ca["error"]["code"] for ca in report["cas"] if ca["error"]) == sorted(ca.fails_with for ca in FAILED)
    assert report["summary"]["byType"][CA_NOT_ACTIVE] == sum(CA_NOT_ACTIVE in ca_findings(ca) for ca in FLEET)
    assert report["summary"]["byType"][CA_EXPIRING] == sum(CA_EXPIRING in ca_findings(ca) for ca in FLEET)
    # and the accepted CAs' status findings are listed apart, not among the findings
    assert report["summary"]["suppressedFindings"] == sum(flagged(ca) for ca in FLEET if ca.accepted) > 0
    assert report["summary"]["findings"] == sum(status_findings(ca) + len(ca_findings(ca)) for ca in FLEET)
