"""CA-level checks, certificate age and suppressions, through the real handler against moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from cert_audit import handler
from cert_audit.emulator import seed_ca, seed_certificates
from tests.integration.conftest import REGION, metric_points

DAY = timedelta(days=1)


def run(context, monkeypatch, cas: list[str], **env: str) -> dict:
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ",".join(cas))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return handler.lambda_handler({}, context)


def findings_of(alerts, kind: str | None = None, key: str = "findings") -> list[dict]:
    [published] = alerts.published()
    report = json.loads(published["Message"]["default"])
    return [f for f in report[key] if kind is None or f["type"] == kind]


def test_inactive_ca_with_active_device_certificates_is_critical(backend, alerts, context, monkeypatch):
    # Given a CA its owner deactivated while 3 device certificates it signed are still ACTIVE
    disabled = seed_ca(backend, "disabled", status="INACTIVE")
    seed_certificates(backend, disabled, ["ACTIVE"] * 3 + ["REVOKED"])

    # When the audit runs
    result = run(context, monkeypatch, [disabled])

    # Then one CRITICAL finding names the CA and the count, and the CA's details are reported
    [finding] = findings_of(alerts, "CA_NOT_ACTIVE_WITH_ACTIVE_DEVICE_CERTIFICATES")
    assert finding["severity"] == "CRITICAL"
    assert finding["caCertificateId"] == disabled and finding["status"] == "INACTIVE"
    assert finding["activeDeviceCertificates"] == 3
    assert "3 device certificates" in finding["reason"]
    [ca] = result["cas"]
    assert (ca["status"], ca["certificateMode"], ca["autoRegistrationStatus"]) == ("INACTIVE", "DEFAULT", "DISABLE")
    [published] = alerts.published()
    assert published["MessageAttributes"]["worstSeverity"]["Value"] == "CRITICAL"
    assert f"#/cacertificate/{disabled}" in published["Message"]["email"]
    email = published["Message"]["email"]
    # grouped by type, the group with the worst finding first
    assert email.index("CA_NOT_ACTIVE_WITH_ACTIVE_DEVICE_CERTIFICATES (1)") < email.index("CERTIFICATE_STATUS (1)")


def test_inactive_ca_with_no_active_device_certificates_is_fine(backend, alerts, context, monkeypatch):
    # Given a deactivated CA whose device certificates were all revoked: the follow-up was done
    done = seed_ca(backend, "done", status="INACTIVE")
    seed_certificates(backend, done, ["REVOKED"] * 2)

    # When the audit runs, then only the status findings remain
    run(context, monkeypatch, [done])
    assert {f["type"] for f in findings_of(alerts)} == {"CERTIFICATE_STATUS"}


@pytest.mark.parametrize(
    "valid_for, expected_type, expected_days",
    [
        (90 * DAY + timedelta(hours=1), "CA_CERTIFICATE_EXPIRING", 90),  # exactly at the threshold
        (91 * DAY + timedelta(hours=1), None, 91),  # one day beyond it
        (-DAY + timedelta(hours=1), "CA_CERTIFICATE_EXPIRED", -1),  # expired yesterday
    ],
)
def test_ca_expiry(backend, alerts, context, monkeypatch, capsys, valid_for, expected_type, expected_days):
    # Given a CA certificate valid until the given time from now
    ca = seed_ca(backend, "expiring", not_after=datetime.now(UTC) + valid_for)
    seed_certificates(backend, ca, ["ACTIVE"])

    # When the audit runs with the default 90-day warning
    result = run(context, monkeypatch, [ca], NOTIFY_ON="always")

    # Then the finding (or none), the days left in the report and in the metric
    found = findings_of(alerts)
    assert [f["type"] for f in found] == ([expected_type] if expected_type else [])
    if expected_type:
        assert found[0]["daysToExpiry"] == expected_days
        assert found[0]["severity"] == ("MEDIUM" if expected_type == "CA_CERTIFICATE_EXPIRING" else "HIGH")
    [ca_entry] = result["cas"]
    assert ca_entry["daysToExpiry"] == expected_days
    assert ca_entry["notAfter"].endswith("Z")
    assert metric_points(capsys.readouterr().out)[("CaDaysToExpiry", (("CaCertificateId", ca),))] == expected_days


def test_expiry_of_a_deactivated_ca_is_not_a_finding(backend, alerts, context, monkeypatch, capsys):
    # Given a deactivated CA that expired long ago and no longer signs anything in use
    old = seed_ca(backend, "old", status="INACTIVE", not_after=datetime.now(UTC) - 400 * DAY + timedelta(hours=1))
    seed_certificates(backend, old, ["REVOKED"])

    # When the audit runs, then its expiry neither alerts nor feeds the expiry alarm's metric
    result = run(context, monkeypatch, [old])
    assert {f["type"] for f in findings_of(alerts)} == {"CERTIFICATE_STATUS"}
    assert result["cas"][0]["daysToExpiry"] == -400
    assert not any(name == "CaDaysToExpiry" for name, _ in metric_points(capsys.readouterr().out))


def test_expiry_warning_days_is_configurable(backend, alerts, context, monkeypatch):
    ca = seed_ca(backend, "soon", not_after=datetime.now(UTC) + 100 * DAY)
    seed_certificates(backend, ca, ["ACTIVE"])
    run(context, monkeypatch, [ca], CA_EXPIRY_WARNING_DAYS="120")
    assert [f["daysToExpiry"] for f in findings_of(alerts, "CA_CERTIFICATE_EXPIRING")] == [99]


def test_certificate_age_is_checked_only_when_enabled(backend, alerts, context, monkeypatch):
    # Given certificates created one minute apart around the 365-day mark, and an old INACTIVE one
    ca = seed_ca(backend, "aged")
    start = datetime.now(UTC) - 365 * DAY - timedelta(minutes=1)
    past, at, within = seed_certificates(backend, ca, ["ACTIVE"] * 3, first_created=start)
    seed_certificates(backend, ca, ["INACTIVE"], first_created=start - 900 * DAY)

    # When the audit runs without and then with MAX_CERTIFICATE_AGE_DAYS
    run(context, monkeypatch, [ca])
    assert {f["type"] for f in findings_of(alerts)} == {"CERTIFICATE_STATUS"}
    result = run(context, monkeypatch, [ca], MAX_CERTIFICATE_AGE_DAYS="365")

    # Then only ACTIVE certificates at or past 365 days are age findings, LOW
    aged = findings_of_last(alerts, "DEVICE_CERTIFICATE_AGE")
    assert sorted(f["certificateId"] for f in aged) == sorted([past, at])
    assert within not in {f["certificateId"] for f in aged}
    assert {f["severity"] for f in aged} == {"LOW"} and {f["ageDays"] for f in aged} == {365}
    assert result["summary"]["byType"]["DEVICE_CERTIFICATE_AGE"] == 2


def findings_of_last(alerts, kind: str) -> list[dict]:
    report = json.loads(alerts.published()[-1]["Message"]["default"])
    return [f for f in report["findings"] if f["type"] == kind]


@pytest.fixture
def suppress(aws, monkeypatch):
    """Store suppressions in an SSM parameter, as the stack does, and point the function at it."""

    def store(entries: object) -> None:
        value = entries if isinstance(entries, str) else json.dumps(entries)
        boto3.client("ssm", region_name=REGION).put_parameter(
            Name="/iot-cert-audit/suppressions", Value=value, Type="String", Overwrite=True
        )
        monkeypatch.setenv("SUPPRESSIONS_PARAMETER", "/iot-cert-audit/suppressions")

    return store


@pytest.fixture
def fleet(backend):
    """Two CAs: `lab` with an INACTIVE and a REVOKED certificate and an expiring CA certificate."""
    lab = seed_ca(backend, "lab", not_after=datetime.now(UTC) + 10 * DAY)
    other = seed_ca(backend, "other")
    inactive, revoked = seed_certificates(backend, lab, ["INACTIVE", "REVOKED"])
    [other_revoked] = seed_certificates(backend, other, ["REVOKED"])
    return {"lab": lab, "other": other, "inactive": inactive, "revoked": revoked, "other_revoked": other_revoked}


def test_suppression_by_certificate(fleet, alerts, context, monkeypatch, suppress, capsys):
    # Given the lab's INACTIVE certificate is accepted
    suppress([{"certificateId": fleet["inactive"], "reason": "Spare device in the safe"}])

    # When the audit runs
    result = run(context, monkeypatch, [fleet["lab"], fleet["other"]])

    # Then it is listed apart with its reason, counted, and not alerted on
    suppressed = findings_of(alerts, key="suppressedFindings")
    assert [f["certificateId"] for f in suppressed] == [fleet["inactive"]]
    assert suppressed[0]["suppression"]["reason"] == "Spare device in the safe"
    assert fleet["inactive"] not in {f["certificateId"] for f in findings_of(alerts)}
    assert result["summary"]["suppressedFindings"] == 1
    assert result["summary"]["findings"] == 3  # the lab's REVOKED, its CA expiring, the other REVOKED
    points = metric_points(capsys.readouterr().out)
    assert points[("SuppressedFindings", (("service", "iot-cert-audit"),))] == 1
    assert points[("Findings", (("CaCertificateId", fleet["lab"]),))] == 2


def test_suppression_by_ca_and_type(fleet, alerts, context, monkeypatch, suppress):
    # Given the lab CA's status findings are accepted, but not its CA-level ones
    suppress({"suppressions": [{"caCertificateId": fleet["lab"], "type": "CERTIFICATE_STATUS", "reason": "Lab"}]})

    # When the audit runs
    run(context, monkeypatch, [fleet["lab"], fleet["other"]])

    # Then both lab certificates are suppressed; the expiring CA and the other CA are alerted
    assert {f["certificateId"] for f in findings_of(alerts, key="suppressedFindings")} == {
        fleet["inactive"],
        fleet["revoked"],
    }
    assert {(f["type"], f["caCertificateId"]) for f in findings_of(alerts)} == {
        ("CA_CERTIFICATE_EXPIRING", fleet["lab"]),
        ("CERTIFICATE_STATUS", fleet["other"]),
    }


def test_expired_suppression_stops_applying_and_is_listed(fleet, alerts, context, monkeypatch, suppress):
    # Given one suppression that expired yesterday and one that expires today
    yesterday = (datetime.now(UTC) - DAY).date().isoformat()
    today = datetime.now(UTC).date().isoformat()
    suppress(
        [
            {"certificateId": fleet["inactive"], "reason": "Was accepted", "expires": yesterday},
            {"certificateId": fleet["revoked"], "reason": "Accepted until tonight", "expires": today},
        ]
    )

    # When the audit runs
    run(context, monkeypatch, [fleet["lab"]])

    # Then the expired one no longer suppresses and is listed for renewal; today's still applies
    assert fleet["inactive"] in {f["certificateId"] for f in findings_of(alerts)}
    assert [f["certificateId"] for f in findings_of(alerts, key="suppressedFindings")] == [fleet["revoked"]]
    [published] = alerts.published()
    report = json.loads(published["Message"]["default"])
    assert [s["certificateId"] for s in report["expiredSuppressions"]] == [fleet["inactive"]]
    assert "Expired suppressions (no longer applied: renew or remove them)" in published["Message"]["email"]


@pytest.mark.parametrize(
    "value, code, words",
    [
        ("{not json", "InvalidSuppressions", "Expecting property name"),
        ('[{"certificateId": "abc", "reason": "x"}]', "InvalidSuppressions", "entry 1: certificateId 'abc'"),
        ('[{"caCertificateId": "' + "a" * 64 + '"}]', "InvalidSuppressions", "entry 1: reason is required"),
    ],
)
def test_malformed_suppressions_are_a_scan_error_and_the_audit_runs_unsuppressed(
    fleet, alerts, context, monkeypatch, suppress, capsys, value, code, words
):
    # Given a malformed suppressions parameter
    suppress(value)

    # When the audit runs
    result = run(context, monkeypatch, [fleet["lab"]])

    # Then every finding is alerted, and the problem is a scan error that names the parameter
    assert result["summary"]["findings"] == 3 and result["summary"]["suppressedFindings"] == 0
    [error] = result["errors"]
    assert error["source"] == "suppressions" and error["code"] == code
    assert words in error["message"] and "/iot-cert-audit/suppressions" in error["message"]
    assert "ran without suppressions" in error["message"]
    points = metric_points(capsys.readouterr().out)
    assert points[("ScanErrors", (("service", "iot-cert-audit"),))] == 1
    [published] = alerts.published()
    assert "- suppressions: InvalidSuppressions" in published["Message"]["email"]
    assert published["Subject"] == "IoT certificate audit: 3 findings in 1 of 1 CA, with errors (us-east-1)"


def test_missing_suppressions_parameter_is_a_scan_error(fleet, alerts, context, monkeypatch):
    monkeypatch.setenv("SUPPRESSIONS_PARAMETER", "/nowhere")
    result = run(context, monkeypatch, [fleet["lab"]])
    [error] = result["errors"]
    assert error["code"] == "ParameterNotFound"
    assert result["summary"]["findings"] == 3
