"""`cert-audit demo` as a user runs it: a process of its own, its output checked against the fleet it
seeds, the change it makes between its two runs, and the memory (state table, archive, events) it sets up."""

from __future__ import annotations

import json
import math
import re

import pytest

from cert_audit.config import DEFAULT_FLAGGED_STATUSES, KNOWN_STATUSES, load_config
from cert_audit.demo import CHANGED_CA, EVENT_QUEUE, FLEET, REGION, REPORT_BUCKET, REQUEST_IDS, changed
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
def demo(demo_run):
    """The session's run of `python -m cert_audit demo`: (process, report file)."""
    return demo_run.process, demo_run.report_file


FINDINGS = sum(status_findings(ca) + len(ca_findings(ca)) for ca in FLEET)  # the change keeps the count


def section(out: str, title: str) -> str:
    """The numbered section of the demo's output whose title starts with `title`."""
    start = re.search(rf"\n\d+\. {re.escape(title)}", out).start()
    return out[start : out.index("\n" + "=" * 100, start)]


def archive_uri(report: dict) -> str:
    return f"s3://{REPORT_BUCKET}/reports/{report['startedAt'][:10].replace('-', '/')}/{report['auditId']}.json.gz"


def test_demo_exits_0_and_says_the_reports_match_the_fleet_and_its_change(demo):
    process, report_file = demo
    assert process.returncode == 0, process.stderr
    assert "Traceback" not in process.stderr
    report = json.loads(report_file.read_text())
    assert "\nBoth reports match the seeded fleet and its change. Demo took " in process.stdout
    assert process.stdout.rstrip().endswith(f"Archived report {archive_uri(report)} written to {report_file}")


def test_demo_output_has_the_fleets_exact_counts(demo):
    # Given the fleet the demo seeds (its constants), and the change: one ACTIVE certificate
    # revoked and one REVOKED deleted
    scanned = sum(ca.size for ca in SCANNED)
    findings = FINDINGS
    with_findings = sum(1 for ca in FLEET if status_findings(ca) or ca_findings(ca))

    # When the demo has run, then each handler's result, the email subject and text carry those counts
    out = demo[0].stdout
    first, second = section(out, "First run"), section(out, "Second run")
    assert f"Handler result: scanned {scanned:,} certificates of {len(FLEET)} CAs, {findings:,} findings, " in first
    assert (
        f"Handler result: scanned {scanned - 1:,} certificates of {len(FLEET)} CAs, {findings:,} findings, " in second
    )
    subject = (
        f"Subject: IoT certificate audit: {findings} findings in {with_findings} of {len(FLEET)} CAs, "
        f"{len(FAILED)} failed ({REGION})"
    )
    assert subject in section(out, "The first run's message")
    email = section(out, "The second run's change-only email")
    assert subject in email
    assert f"Scanned {scanned - 1:,} device certificates of {len(FLEET)} CAs" in email
    all_cas = email[email.index("\nAll CAs\n") :]
    for status in KNOWN_STATUSES:
        count = sum(changed(ca).get(status, 0) for ca in SCANNED)
        if count:
            assert f"\n  {status:<20} {count:>10,}\n" in all_cas
    for ca in FAILED:
        assert f"{ca.name}: ListCertificatesByCA answers {ca.fails_with}" in out
        assert f": FAILED ({ca.fails_with}), 0 findings" in out


def test_demo_shows_pages_requested_and_metrics(demo):
    out = demo[0].stdout
    # Then in each run every CA's pages were requested once each (the failed CA: one refused request)
    for run, size in (("First run", lambda ca: ca.size), ("Second run", lambda ca: sum(changed(ca).values()))):
        for ca in FLEET:
            pages = 0 if ca.fails_with else math.ceil(size(ca) / PAGE_SIZE_MAX)
            requests = max(pages, 1)
            pattern = rf"\nListCertificatesByCA\s+{ca.name}\s+{requests} \[{pages}\]\n"
            assert re.search(pattern, section(out, run)), (run, ca.name)
    # and the second run's metrics table has the run totals and each scanned CA's certificates by status
    metrics = section(out, "CloudWatch metrics the second run emitted")
    scanned = sum(sum(changed(ca).values()) for ca in SCANNED)
    assert re.search(rf"\nCertificatesScanned\s+-\s+{scanned:,}\s+Count\n", metrics)
    assert re.search(rf"\nScanErrors\s+-\s+{len(FAILED)}\s+Count\n", metrics)
    assert re.search(r"\nNewFindings\s+-\s+1\s+Count\n", metrics)
    assert re.search(r"\nResolvedFindings\s+-\s+1\s+Count\n", metrics)
    for ca in SCANNED:
        found, active = status_findings(ca) + len(ca_findings(ca)), changed(ca)["ACTIVE"]
        days = r"[\d,]+" if ca.status == "ACTIVE" else "-"  # days to expiry: ACTIVE CAs only
        assert re.search(rf"\n{ca.name}\s+{found}\s+0\s+{days}\s+{active:,}\s", metrics), ca.name


def test_demo_report_file_is_the_archived_report_with_the_changed_fleets_counts(demo):
    # Then the report file holds the second run's archived report: the changed fleet's counts per CA
    report = json.loads(demo[1].read_text())
    assert report["auditId"] == REQUEST_IDS[1]
    counted = [{s: n for s, n in ca["byStatus"].items() if n} for ca in report["cas"] if not ca["error"]]
    assert sorted(counted, key=json.dumps) == sorted((changed(ca) for ca in SCANNED), key=json.dumps)
    assert sorted(ca["error"]["code"] for ca in report["cas"] if ca["error"]) == sorted(ca.fails_with for ca in FAILED)
    assert report["summary"]["byType"][CA_NOT_ACTIVE] == sum(CA_NOT_ACTIVE in ca_findings(ca) for ca in FLEET)
    assert report["summary"]["byType"][CA_EXPIRING] == sum(CA_EXPIRING in ca_findings(ca) for ca in FLEET)
    # and the accepted CAs' status findings are listed apart, not among the findings
    assert report["summary"]["suppressedFindings"] == sum(flagged(ca) for ca in FLEET if ca.accepted) > 0
    assert report["summary"]["findings"] == FINDINGS
    # and every finding, untrimmed
    assert len(report["findings"]) == FINDINGS and not report["findingsTruncated"]


def test_demo_second_run_reports_just_the_change(demo):
    # Given the second run's archived report
    out, report = demo[0].stdout, json.loads(demo[1].read_text())
    [new] = [f for f in report["findings"] if f["isNew"]]
    [resolved] = report["resolvedFindings"]

    # Then the revoked certificate is the one new finding, the deleted one the one resolved, both of the changed CA
    assert report["changes"] == {"new": 1, "resolved": 1, "ongoing": FINDINGS - 1}
    assert (new["status"], resolved["status"]) == ("REVOKED", "REVOKED")
    change = section(out, "The fleet changes")
    assert f"{CHANGED_CA}: certificate {new['certificateId']} revoked (it was ACTIVE)" in change
    assert f"{CHANGED_CA}: certificate {resolved['certificateId']} deleted (it was REVOKED" in change
    # and every other finding kept the first run's firstSeen
    assert {f["firstSeen"] for f in report["findings"] if not f["isNew"]} == {report["oldestOpenSince"]}
    assert report["oldestOpenSince"] <= report["startedAt"]


def test_demo_shows_the_change_only_email_of_the_second_run(demo):
    out, report = demo[0].stdout, json.loads(demo[1].read_text())
    [new] = [f for f in report["findings"] if f["isNew"]]
    [resolved] = report["resolvedFindings"]
    email = section(out, "The second run's change-only email")

    # Then it leads with the change, lists the new finding first and the resolved one, and links the archive
    assert f"\n1 new, 1 resolved, {FINDINGS - 1} still open (oldest since {report['oldestOpenSince'][:10]}).\n" in email
    new_part = email[email.index("New since the last run") : email.index("Still open")]
    assert new["certificateId"] in new_part and new_part.count("certificate ") == 1
    resolved_part = email[email.index("Resolved since the last run") :]
    assert f"REVOKED {resolved['certificateId']} (CA " in resolved_part
    assert f"Full report (every finding, as JSON and CSV): {archive_uri(report)}" in email
    # and the first run's message said everything was new
    assert f"\n{FINDINGS} new, 0 resolved, 0 still open" in section(out, "The first run's message")


def test_demo_shows_the_events_of_each_run(demo):
    out, report = demo[0].stdout, json.loads(demo[1].read_text())
    [new] = [f for f in report["findings"] if f["isNew"]]
    [resolved] = report["resolvedFindings"]

    # Then the first run sent one event per finding, the second exactly the two changes
    assert f"{FINDINGS} events sent, 0 failed." in section(out, "First run")
    assert "2 events sent, 0 failed." in section(out, "Second run")
    events = section(out, "The events the second run sent")
    assert f"The events the second run sent: 2, as the rule delivered them to {EVENT_QUEUE}" in events
    assert re.search(rf"\nNEW\s+LOW\s+REVOKED\s+{new['certificateId']}\s+{CHANGED_CA}\n", events)
    assert re.search(rf"\nRESOLVED\s+LOW\s+REVOKED\s+{resolved['certificateId']}\s+{CHANGED_CA}\n", events)
    # and the second run's writes scale with the change: one state write batch, one events batch
    # (and the archive's four objects: JSON, CSV, OCSF, HTML)
    second = section(out, "Second run")
    for operation, requests in (("Scan", 1), ("BatchWriteItem", 1), ("PutEvents", 1), ("PutObject", 4)):
        assert re.search(rf"\n{operation}\s+-\s+{requests}\n", second), operation


def test_demo_shows_the_archived_report(demo):
    out, report = demo[0].stdout, json.loads(demo[1].read_text())
    archive = section(out, "The second run's archived report")
    assert f"The second run's archived report: {archive_uri(report)}\n" in archive
    assert "application/json, ContentEncoding gzip" in archive
    for run_id in REQUEST_IDS:  # a JSON report and its findings as CSV and OCSF per run
        for extension in ("json", "csv", "ocsf.json"):
            assert re.search(rf"\nreports/\d{{4}}/\d\d/\d\d/{run_id}\.{extension}\.gz\s+[\d,]+\n", archive)
        # and its HTML page, `.html` (gzip-encoded all the same) so that a browser opens it
        assert re.search(rf"\nreports/\d{{4}}/\d\d/\d\d/{run_id}\.html\s+[\d,]+\n", archive)


def test_demo_writes_the_html_report_beside_the_json_and_says_where_to_open_it(demo):
    process, report_file = demo
    report = json.loads(report_file.read_text())
    page = report_file.with_suffix(".html").resolve()

    # Then the archived page is written beside the JSON report, and the last lines say where to open it
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert report["auditId"] in page.read_text(encoding="utf-8")
    html_uri = archive_uri(report).removesuffix(".json.gz") + ".html"
    assert f"\nReport page {html_uri} written to {page}: open {page.as_uri()}\n" in process.stdout
