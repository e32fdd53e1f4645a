"""The real handler against moto: pagination, discovery, the SNS message, metrics, configuration."""

from __future__ import annotations

import json
import math
import threading
import time

import pytest

from cert_audit import handler, scan
from cert_audit.config import ConfigError
from cert_audit.emulator import inject_faults, seed_ca, seed_certificates
from cert_audit.findings import FINDING_TYPES
from tests.integration.conftest import ACCOUNT, REGION, metric_points

FLEET_A = ["ACTIVE"] * 600 + ["REVOKED"] * 3 + ["INACTIVE"] * 2 + ["REGISTER_INACTIVE"] * 1
FLEET_B = ["ACTIVE"] * 240 + ["PENDING_TRANSFER"] * 5 + ["INACTIVE"] * 1


def count_calls(client, operation: str) -> list[dict]:
    """Records the parameters of every call of `operation` the client makes (retries excluded)."""
    calls: list[dict] = []
    client.meta.events.register(f"provide-client-params.iot.{operation}", lambda params, **_: calls.append(params))
    return calls


@pytest.fixture
def two_cas(backend):
    ca_a, ca_b = seed_ca(backend, "a"), seed_ca(backend, "b")
    seed_certificates(backend, ca_a, FLEET_A, mode="SNI_ONLY")
    seed_certificates(backend, ca_b, FLEET_B)
    return ca_a, ca_b


def test_pages_through_every_certificate_of_each_ca(two_cas, alerts, context, monkeypatch):
    # Given two CAs, with a page size that splits them into many pages
    ca_a, ca_b = two_cas
    monkeypatch.setenv("CA_CERTIFICATE_IDS", f"{ca_a},{ca_b}")
    monkeypatch.setenv("PAGE_SIZE", "50")
    iot, _ = handler.clients()
    calls = count_calls(iot, "ListCertificatesByCA")

    # When the scheduled event arrives
    result = handler.lambda_handler({"source": "aws.events"}, context)

    # Then every page was requested exactly once, in marker order, and every certificate counted
    for ca_id, fleet in ((ca_a, FLEET_A), (ca_b, FLEET_B)):
        ca_calls = [c for c in calls if c["caCertificateId"] == ca_id]
        assert len(ca_calls) == math.ceil(len(fleet) / 50)
        assert all(c["pageSize"] == 50 for c in ca_calls)
        assert "marker" not in ca_calls[0] and all(c["marker"] for c in ca_calls[1:])
        assert len({c.get("marker") for c in ca_calls}) == len(ca_calls)
    summary = result["summary"]
    assert summary["certificatesScanned"] == len(FLEET_A) + len(FLEET_B)
    assert summary["byStatus"] == {
        "ACTIVE": 840,
        "INACTIVE": 3,
        "REVOKED": 3,
        "PENDING_TRANSFER": 5,
        "REGISTER_INACTIVE": 1,
    }
    assert summary["findings"] == 3 + 2 + 1 + 1
    assert (summary["casScanned"], summary["casFailed"]) == (2, 0)
    assert [ca["caCertificateId"] for ca in result["cas"]] == [ca_a, ca_b]
    assert "findings" not in result  # the return value is the report without the findings list


def test_sqs_subscriber_receives_the_json_report(two_cas, alerts, context, monkeypatch):
    # Given two CAs configured
    ca_a, ca_b = two_cas
    monkeypatch.setenv("CA_CERTIFICATE_IDS", f"{ca_a},{ca_b}")

    # When the audit runs
    handler.lambda_handler({}, context)

    # Then the queue got the `default` JSON report with every finding, worst first
    [envelope] = alerts.received()
    report = json.loads(envelope["Message"])
    assert report["schemaVersion"] == 1
    assert report["auditId"] == context.aws_request_id
    assert (report["accountId"], report["region"]) == (ACCOUNT, REGION)
    assert report["findingsTruncated"] is False and report["findingsOmitted"] == 0
    statuses = [f["status"] for f in report["findings"]]
    assert statuses == ["INACTIVE"] * 3 + ["REGISTER_INACTIVE"] + ["REVOKED"] * 3
    finding = report["findings"][0]
    assert set(finding) == {
        "type",
        "caCertificateId",
        "certificateId",
        "certificateArn",
        "status",
        "certificateMode",
        "creationDate",
        "severity",
        "reason",
        "findingId",
        "firstSeen",
        "isNew",
    }
    # Without a state table every finding is new, first seen in this run
    assert all(f["isNew"] is True and f["firstSeen"] >= report["startedAt"] for f in report["findings"])
    assert report["changes"] == {"new": 7, "resolved": 0, "ongoing": 0}
    assert finding["certificateArn"].endswith(f":cert/{finding['certificateId']}")
    assert finding["certificateMode"] == "SNI_ONLY"
    assert finding["creationDate"].endswith("Z")
    deprecated = next(f for f in report["findings"] if f["status"] == "REGISTER_INACTIVE")
    assert "deprecated" in deprecated["reason"]
    cas = {ca["caCertificateId"]: ca for ca in report["cas"]}
    assert cas[ca_a]["byStatus"] == {"ACTIVE": 600, "INACTIVE": 2, "REVOKED": 3, "REGISTER_INACTIVE": 1}
    assert cas[ca_b]["error"] is None and cas[ca_b]["findings"] == 1
    # PENDING_TRANSFER is counted but not flagged by default
    assert cas[ca_b]["byStatus"]["PENDING_TRANSFER"] == 5


def test_email_subject_and_attributes(two_cas, alerts, context, monkeypatch):
    # Given two CAs with 7 findings between them
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ",".join(two_cas))

    # When the audit runs
    handler.lambda_handler({}, context)

    # Then a person reads a summary, a table per CA, findings with console links
    [published] = alerts.published()
    assert published["Subject"] == "IoT certificate audit: 7 findings in 2 of 2 CAs (us-east-1)"
    assert published["MessageAttributes"]["findings"] == {"Type": "Number", "Value": "7"}
    assert published["MessageAttributes"]["worstSeverity"] == {"Type": "String", "Value": "HIGH"}
    email = published["Message"]["email"]
    assert "Scanned 852 device certificates of 2 CAs" in email
    assert f"CA {two_cas[0]}: scanned, 6 findings" in email
    assert "  REGISTER_INACTIVE" in email
    report = json.loads(published["Message"]["default"])
    for finding in report["findings"]:
        assert (
            f"https://us-east-1.console.aws.amazon.com/iot/home?region=us-east-1#/certificate/{finding['certificateId']}"
            in email
        )
    assert email.index("[HIGH] INACTIVE") < email.index("[MEDIUM] REGISTER_INACTIVE") < email.index("[LOW] REVOKED")


def test_all_cas_are_discovered_when_none_configured(backend, alerts, context):
    # Given more CAs than fit in one ListCACertificates page, and no CA configured
    cas = [seed_ca(backend, f"ca-{n}") for n in range(7)]
    for ca in cas:
        seed_certificates(backend, ca, ["ACTIVE", "REVOKED"])
    iot, _ = handler.clients()
    discovery = count_calls(iot, "ListCACertificates")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PAGE_SIZE", "3")

        # When the audit runs
        result = handler.lambda_handler({}, context)

    # Then discovery paged through all CAs, and each one was scanned
    assert len(discovery) == 3
    assert sorted(ca["caCertificateId"] for ca in result["cas"]) == sorted(cas)
    assert result["summary"]["findings"] == 7


def test_on_demand_event_scans_only_the_requested_cas(two_cas, alerts, context, monkeypatch):
    # Given both CAs configured
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ",".join(two_cas))

    # When an operator asks for the second one only (upper case, as pasted from a console)
    result = handler.lambda_handler({"caCertificateIds": [two_cas[1].upper()]}, context)

    # Then only that CA was audited
    assert [ca["caCertificateId"] for ca in result["cas"]] == [two_cas[1]]
    assert result["summary"]["certificatesScanned"] == len(FLEET_B)


@pytest.mark.parametrize("notify_on, expected_messages", [("findings", 0), ("always", 1)])
def test_clean_run_notifies_only_when_asked(backend, alerts, context, monkeypatch, notify_on, expected_messages):
    # Given a CA whose certificates are all ACTIVE
    ca = seed_ca(backend, "clean")
    seed_certificates(backend, ca, ["ACTIVE"] * 10)
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ca)
    monkeypatch.setenv("NOTIFY_ON", notify_on)

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then a message is published only with NOTIFY_ON=always, and it says all is well
    assert result["summary"]["findings"] == 0
    published = alerts.published()
    assert len(published) == expected_messages
    if published:
        assert published[0]["Subject"] == "IoT certificate audit: 0 findings in 1 CA (us-east-1)"
        assert "No findings" in published[0]["Message"]["email"]
        assert published[0]["MessageAttributes"]["worstSeverity"]["Value"] == "NONE"


def test_metrics_per_ca_and_totals(two_cas, alerts, context, monkeypatch, capsys):
    # Given two CAs
    ca_a, ca_b = two_cas
    monkeypatch.setenv("CA_CERTIFICATE_IDS", f"{ca_a},{ca_b}")

    # When the audit runs
    handler.lambda_handler({}, context)

    # Then the EMF output carries per-CA counts (flagged statuses always, 0 included) and run totals
    points = metric_points(capsys.readouterr().out)

    def ca(name, ca_id, status=None):
        dimensions = [("CaCertificateId", ca_id)] + ([("Status", status)] if status else [])
        return points[(name, tuple(sorted(dimensions)))]

    def total(name):
        return points[(name, (("service", "iot-cert-audit"),))]

    assert ca("Certificates", ca_a, "REVOKED") == 3
    assert ca("Certificates", ca_a, "ACTIVE") == 600
    assert ca("Certificates", ca_b, "REVOKED") == 0
    assert ca("Certificates", ca_b, "REGISTER_INACTIVE") == 0
    assert ca("Certificates", ca_b, "PENDING_TRANSFER") == 5
    assert (ca("Findings", ca_a), ca("Findings", ca_b)) == (6, 1)
    assert (ca("ScanErrors", ca_a), ca("ScanErrors", ca_b)) == (0, 0)
    assert total("CertificatesScanned") == 852
    assert total("Findings") == 7
    assert total("ScanErrors") == 0
    assert total("AuditRuns") == 1
    assert total("AuditDuration") >= 0


def test_totals_only_metrics_setting(two_cas, alerts, context, monkeypatch, capsys):
    # Given METRICS_DETAIL=totals, to keep the custom-metric bill flat
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ",".join(two_cas))
    monkeypatch.setenv("METRICS_DETAIL", "totals")

    # When the audit runs
    handler.lambda_handler({}, context)

    # Then only the service totals are emitted, with findings by type
    points = metric_points(capsys.readouterr().out)
    service = ("service", "iot-cert-audit")
    assert {name for name, dimensions in points if dimensions == (service,)} == {
        "CertificatesScanned",
        "Findings",
        "ScanErrors",
        "SuppressedFindings",
        "Throttles",
        "MalformedCertificates",
        "FailedEvents",
        "NewFindings",
        "ResolvedFindings",
        "OpenFindings",
        "AuditRuns",
        "AuditDuration",
    }
    by_type = {dict(dims)["FindingType"]: value for (_, dims), value in points.items() if "FindingType" in dict(dims)}
    assert by_type == {kind: 0 for kind in FINDING_TYPES} | {"CERTIFICATE_STATUS": 7}
    new_by_severity = {dict(dims)["Severity"]: value for (_, dims), value in points.items() if "Severity" in dict(dims)}
    assert new_by_severity == {"CRITICAL": 0, "HIGH": 3, "MEDIUM": 1, "LOW": 3, "INFO": 0}
    assert not any("CaCertificateId" in dict(dimensions) for _, dimensions in points)


def test_findings_beyond_256_kib_are_truncated_worst_first(backend, alerts, context, monkeypatch):
    # Given a CA with more findings than one SNS message can hold
    ca = seed_ca(backend, "big")
    seed_certificates(backend, ca, ["REVOKED"] * 700 + ["INACTIVE"] * 100 + ["ACTIVE"] * 50)
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ca)

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then the message fits SNS's limit, keeps the worst findings, and says how many it left out
    [published] = alerts.published()
    size = len(json.dumps(published["Message"], separators=(",", ":")).encode()) + len(published["Subject"])
    assert size <= 256 * 1024
    report = json.loads(published["Message"]["default"])
    kept = len(report["findings"])
    assert report["findingsTruncated"] is True
    assert 100 < kept < 800 and report["findingsOmitted"] == 800 - kept
    assert [f["status"] for f in report["findings"][:100]] == ["INACTIVE"] * 100
    assert report["summary"]["findings"] == 800
    assert f"{800 - kept:,} more findings did not fit" in published["Message"]["email"]
    assert result["findingsTruncated"] is True


@pytest.mark.parametrize(
    "variable, value, expected",
    [
        ("CA_CERTIFICATE_IDS", "abc123", "CA_CERTIFICATE_IDS: 'abc123' is not a CA certificate ID"),
        ("FLAGGED_STATUSES", "REVOKED,EXPIRED", "FLAGGED_STATUSES: unknown status EXPIRED; allowed: ACTIVE, INACTIVE"),
        ("PAGE_SIZE", "500", "PAGE_SIZE: '500' is not a whole number from 1 to 250"),
        ("NOTIFY_ON", "sometimes", "NOTIFY_ON: 'sometimes' is not allowed; choose one of findings, always"),
        ("ALERT_TOPIC_ARN", "", "ALERT_TOPIC_ARN: missing; set it to the ARN of the SNS topic"),
        ("ALERT_TOPIC_ARN", "alerts", "ALERT_TOPIC_ARN: 'alerts' is not an SNS topic ARN"),
    ],
)
def test_bad_configuration_fails_before_any_call(aws, alerts, context, monkeypatch, variable, value, expected):
    # Given one bad configuration value
    monkeypatch.setenv(variable, value)
    iot, _ = handler.clients()
    calls = []
    iot.meta.events.register("before-call.iot.*", lambda **kwargs: calls.append(kwargs))

    # When the function is invoked, then it fails with a message naming variable, value and fix
    with pytest.raises(ConfigError, match="Invalid configuration: " + expected.replace("(", r"\(")):
        handler.lambda_handler({}, context)
    assert calls == []
    assert alerts.published() == []


@pytest.mark.parametrize("event", [{"caCertificateIds": "abc"}, {"caCertificateIds": []}, {"caCertificateIds": ["x"]}])
def test_bad_on_demand_event_is_rejected(aws, alerts, context, event):
    with pytest.raises(ConfigError, match="event.caCertificateIds"):
        handler.lambda_handler(event, context)


def test_several_config_problems_are_reported_together(aws, context, monkeypatch):
    monkeypatch.setenv("PAGE_SIZE", "0")
    monkeypatch.setenv("NOTIFY_ON", "never")
    monkeypatch.delenv("ALERT_TOPIC_ARN", raising=False)
    with pytest.raises(ConfigError) as error:
        handler.lambda_handler({}, context)
    assert all(name in str(error.value) for name in ("PAGE_SIZE", "NOTIFY_ON", "ALERT_TOPIC_ARN"))


def test_scan_stops_before_the_timeout_and_reports_what_it_has(backend, alerts, context, virtual_time, monkeypatch):
    # Given a CA of many pages, each taking 25 s, and an invocation with 100 s left
    ca = seed_ca(backend, "slow")
    seed_certificates(backend, ca, ["REVOKED"] * 30)
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ca)
    monkeypatch.setenv("PAGE_SIZE", "10")
    context.timeout_ms = 100_000
    iot, _ = handler.clients()
    inject_faults(iot, "ListCertificatesByCA", lambda request: virtual_time.advance(25, None))

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then it scanned the pages that started before the last minute, reported the CA as
    # incomplete, still published its findings, and returned with time to spare
    [ca_result] = result["cas"]
    assert ca_result["certificatesScanned"] == 20
    assert ca_result["error"]["code"] == "ScanIncomplete"
    assert "about to reach its timeout" in ca_result["error"]["message"]
    [published] = alerts.published()
    assert len(json.loads(published["Message"]["default"])["findings"]) == 20
    assert context.get_remaining_time_in_millis() > 0


def test_unknown_status_is_counted_under_its_own_name(backend, alerts, context, monkeypatch):
    # Given a status the API may add one day
    ca = seed_ca(backend, "future")
    seed_certificates(backend, ca, ["ACTIVE", "QUARANTINED", "QUARANTINED"])
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ca)

    # When the audit runs, then nothing crashes and the new status is counted
    result = handler.lambda_handler({}, context)
    assert result["cas"][0]["byStatus"]["QUARANTINED"] == 2
    assert result["summary"]["casFailed"] == 0


def test_cas_are_scanned_concurrently_within_the_bound(backend, alerts, context, monkeypatch):
    # Given five CAs of a few pages each and SCAN_CONCURRENCY=2
    cas = [seed_ca(backend, f"c{n}") for n in range(5)]
    for ca in cas:
        seed_certificates(backend, ca, ["ACTIVE"] * 30)
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ",".join(cas))
    monkeypatch.setenv("PAGE_SIZE", "10")
    monkeypatch.setenv("SCAN_CONCURRENCY", "2")
    iot, _ = handler.clients()
    lock, in_flight, peak = threading.Lock(), set(), []

    def started(params, **_):
        with lock:
            in_flight.add(params["caCertificateId"])
            peak.append(len(in_flight))
        time.sleep(0.02)  # hold the call open so that overlapping scans show

    iot.meta.events.register("provide-client-params.iot.ListCertificatesByCA", started)
    done = []
    real_scan_ca = scan.scan_ca

    def scan_ca(*args, **kwargs):
        result = real_scan_ca(*args, **kwargs)
        with lock:
            in_flight.discard(result.ca_certificate_id)
            done.append(result.ca_certificate_id)
        return result

    monkeypatch.setattr(scan, "scan_ca", scan_ca)

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then two CAs were in progress at once, never more, and every CA finished
    assert max(peak) == 2
    assert sorted(done) == sorted(cas)
    assert result["summary"]["certificatesScanned"] == 150
