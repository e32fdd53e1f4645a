"""The pure rules: configuration parsing, classification, and the report's counts."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest

from cert_audit.config import DEFAULT_FLAGGED_STATUSES, ConfigError, ca_ids_from_event, load_config
from cert_audit.findings import SEVERITY_ORDER, finding_for, iso_utc, worst_first
from cert_audit.report import build_report, status_counts, without_findings
from cert_audit.scan import CaScan

CA = "a" * 64
TOPIC = "arn:aws:sns:eu-west-1:123456789012:alerts"
FLAGGED = frozenset(DEFAULT_FLAGGED_STATUSES)


def certificate(status: str, created: datetime = datetime(2024, 5, 1, 12, 0), cid: str = "c" * 64) -> dict:
    return {
        "certificateArn": f"arn:aws:iot:eu-west-1:123456789012:cert/{cid}",
        "certificateId": cid,
        "status": status,
        "certificateMode": "DEFAULT",
        "creationDate": created,
    }


def test_defaults():
    config = load_config({"ALERT_TOPIC_ARN": TOPIC})
    assert config.all_cas
    assert config.flagged_statuses == {"REVOKED", "INACTIVE", "REGISTER_INACTIVE"}
    assert (config.notify_on, config.page_size, config.scan_concurrency, config.metrics_detail) == (
        "findings",
        250,
        10,
        "ca",
    )


def test_ca_ids_are_normalised_and_deduplicated():
    config = load_config({"ALERT_TOPIC_ARN": TOPIC, "CA_CERTIFICATE_IDS": f" {CA.upper()} ,{CA},{'b' * 64}"})
    assert config.ca_certificate_ids == (CA, "b" * 64)


@pytest.mark.parametrize("value", ["*", "", " * "])
def test_star_or_empty_means_every_ca(value):
    assert load_config({"ALERT_TOPIC_ARN": TOPIC, "CA_CERTIFICATE_IDS": value}).all_cas


def test_statuses_are_case_insensitive():
    config = load_config({"ALERT_TOPIC_ARN": TOPIC, "FLAGGED_STATUSES": "revoked, pending_transfer"})
    assert config.flagged_statuses == {"REVOKED", "PENDING_TRANSFER"}


def test_topic_not_required_for_the_cli():
    assert load_config({}, require_topic=False).alert_topic_arn is None


@pytest.mark.parametrize("value", ["abc", "g" * 64, "a" * 63, f"{CA},nope"])
def test_malformed_ca_id_names_variable_value_and_format(value):
    with pytest.raises(ConfigError, match=r"CA_CERTIFICATE_IDS: .* is not a CA certificate ID; expected 64 hex"):
        load_config({"ALERT_TOPIC_ARN": TOPIC, "CA_CERTIFICATE_IDS": value})


def test_event_override():
    assert ca_ids_from_event({"caCertificateIds": [CA]}) == (CA,)
    assert ca_ids_from_event({"source": "aws.events", "detail-type": "Scheduled Event"}) is None
    assert ca_ids_from_event(None) is None


@pytest.mark.parametrize(
    "status, severity", [("INACTIVE", "HIGH"), ("REGISTER_INACTIVE", "MEDIUM"), ("REVOKED", "LOW")]
)
def test_flagged_status_makes_a_finding(status, severity):
    finding = finding_for(certificate(status), CA, FLAGGED)
    assert finding["severity"] == severity
    assert finding["status"] == status
    assert finding["caCertificateId"] == CA
    assert finding["creationDate"] == "2024-05-01T12:00:00Z"
    assert status in finding["reason"]


@pytest.mark.parametrize("status", ["ACTIVE", "PENDING_TRANSFER", "PENDING_ACTIVATION", "SOMETHING_NEW"])
def test_unflagged_status_makes_no_finding(status):
    assert finding_for(certificate(status), CA, FLAGGED) is None


def test_a_flagged_status_with_no_default_severity_still_gets_one():
    finding = finding_for(certificate("SOMETHING_NEW"), CA, frozenset({"SOMETHING_NEW"}))
    assert finding["severity"] in SEVERITY_ORDER and "SOMETHING_NEW" in finding["reason"]


def test_dates_are_written_in_utc():
    plus_two = timezone(timedelta(hours=2))
    assert iso_utc(datetime(2024, 5, 1, 14, 0, tzinfo=plus_two)) == "2024-05-01T12:00:00Z"
    assert iso_utc(datetime(2024, 5, 1, 12, 0, tzinfo=UTC)) == "2024-05-01T12:00:00Z"


def test_worst_first_then_oldest_first():
    old, new = datetime(2020, 1, 1), datetime(2024, 1, 1)
    findings = [
        finding_for(certificate("REVOKED", old, "1" * 64), CA, FLAGGED),
        finding_for(certificate("INACTIVE", new, "2" * 64), CA, FLAGGED),
        finding_for(certificate("REGISTER_INACTIVE", new, "3" * 64), CA, FLAGGED),
        finding_for(certificate("INACTIVE", old, "4" * 64), CA, FLAGGED),
    ]
    assert [f["certificateId"][0] for f in worst_first(findings)] == ["4", "2", "3", "1"]


def test_status_counts_always_list_flagged_statuses_and_keep_new_ones():
    counts = status_counts(Counter({"ACTIVE": 5, "NEW_STATUS": 1}), FLAGGED)
    assert counts == {"ACTIVE": 5, "INACTIVE": 0, "REVOKED": 0, "REGISTER_INACTIVE": 0, "NEW_STATUS": 1}


def test_report_sums_cas_and_counts_failures():
    ok = CaScan(
        CA,
        certificates_scanned=3,
        by_status=Counter({"ACTIVE": 2, "REVOKED": 1}),
        findings=[finding_for(certificate("REVOKED"), CA, FLAGGED)],
    )
    failed = CaScan(
        "b" * 64,
        certificates_scanned=1,
        by_status=Counter({"INACTIVE": 1}),
        findings=[finding_for(certificate("INACTIVE"), "b" * 64, FLAGGED)],
        error={"code": "UnauthorizedException", "message": "denied"},
    )
    report = build_report(
        [ok, failed],
        flagged=FLAGGED,
        audit_id="id",
        account_id="123456789012",
        region="eu-west-1",
        started_at="s",
        finished_at="f",
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert report["summary"] == {
        "certificatesScanned": 4,
        "findings": 2,
        "byStatus": {"ACTIVE": 2, "INACTIVE": 1, "REVOKED": 1, "REGISTER_INACTIVE": 0},
        "casScanned": 2,
        "casFailed": 1,
        "worstSeverity": "HIGH",
        "retries": 0,
        "byType": {
            "CERTIFICATE_STATUS": 2,
            "CA_NOT_ACTIVE_WITH_ACTIVE_DEVICE_CERTIFICATES": 0,
            "CA_CERTIFICATE_EXPIRED": 0,
            "CA_CERTIFICATE_EXPIRING": 0,
            "DEVICE_CERTIFICATE_AGE": 0,
            "DEVICE_CERTIFICATE_EXPIRED": 0,
            "DEVICE_CERTIFICATE_EXPIRING": 0,
            "WEAK_KEY": 0,
            "WEAK_SIGNATURE": 0,
        },
        "suppressedFindings": 0,
        "errors": 0,
        "throttles": 0,
        "malformedCertificates": 0,
        "eventsSent": 0,
        "eventsFailed": 0,
        "securityHubImported": 0,
        "securityHubFailed": 0,
    }
    assert report["findings"][0]["status"] == "INACTIVE"
    assert report["cas"][1]["error"] == {"code": "UnauthorizedException", "message": "denied"}
    assert "findings" not in without_findings(report) and without_findings(report)["cas"] == report["cas"]
