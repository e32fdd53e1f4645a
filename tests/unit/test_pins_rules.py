"""Rules users rely on that no other test pinned (issue 9, from a mutation run): the severity
order behind `worstSeverity` (SNS filter policies match on it), the severities of statuses that
are not flagged by default, the age check's boundary and CA, expiries and dates without a time
zone, and dates written on a machine whose clock is not UTC. Expected values are written out
here, never read from the module under test."""

from __future__ import annotations

import itertools
import os
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from cert_audit.aws import Iot
from cert_audit.config import KNOWN_STATUSES, load_config
from cert_audit.findings import ca_findings, finding_for, finding_id, iso_utc, worst_first
from cert_audit.report import build_report
from cert_audit.scan import CaScan, scan_ca
from cert_audit.suppressions import apply_suppressions, expired_suppressions, parse_suppressions

CA = "a" * 64
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
# Worst first, as the README documents it and subscribers' filter policies match on it.
SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"]
ALL_STATUSES = frozenset(KNOWN_STATUSES)


def certificate(status: str, created: datetime = datetime(2024, 5, 1, 12, 0, tzinfo=UTC), cid: str = "c" * 64):
    return {
        "certificateArn": f"arn:aws:iot:eu-west-1:123456789012:cert/{cid}",
        "certificateId": cid,
        "status": status,
        "certificateMode": "DEFAULT",
        "creationDate": created,
    }


def finding_of_severity(severity: str, cid: str = "c" * 64) -> dict:
    """A real finding of each severity, made by the rules."""
    if severity == "CRITICAL":
        [finding] = ca_findings({"certificateId": CA, "status": "INACTIVE"}, 1, NOW, 90)
        return finding
    status = {"HIGH": "INACTIVE", "MEDIUM": "PENDING_TRANSFER", "LOW": "REVOKED", "INFO": "ACTIVE"}[severity]
    return finding_for(certificate(status, cid=cid), CA, ALL_STATUSES)


def report_of(findings: list[dict], scans: list[CaScan] | None = None) -> dict:
    return build_report(
        scans if scans is not None else [CaScan(CA, findings=findings)],
        flagged=ALL_STATUSES,
        audit_id="id",
        account_id="123456789012",
        region="eu-west-1",
        started_at="s",
        finished_at="f",
        now=NOW,
    )


@pytest.mark.parametrize("worse, better", list(itertools.combinations(SEVERITIES, 2)))
def test_worst_severity_is_the_worst_of_any_two(worse, better):
    # Given a finding of each of two severities, in either order
    for order in ([worse, better], [better, worse]):
        findings = [finding_of_severity(severity) for severity in order]

        # When the report is built, Then its worstSeverity is the worse one, whatever the alphabet says
        assert report_of(findings)["summary"]["worstSeverity"] == worse


@pytest.mark.parametrize("severity", SEVERITIES)
def test_worst_severity_of_one_finding_is_its_own(severity):
    assert report_of([finding_of_severity(severity)])["summary"]["worstSeverity"] == severity


def test_worst_severity_without_findings_is_null():
    assert report_of([])["summary"]["worstSeverity"] is None


def test_findings_are_listed_in_severity_order():
    # Given one finding of each severity, best first
    findings = [finding_of_severity(severity, cid=str(n) * 64) for n, severity in enumerate(reversed(SEVERITIES))]

    # Then the report lists them worst first
    assert [f["severity"] for f in report_of(findings)["findings"]] == SEVERITIES
    assert [f["severity"] for f in worst_first(findings)] == SEVERITIES


def test_equal_severities_are_ordered_oldest_first_then_by_certificate():
    old, new = datetime(2020, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)
    findings = [
        finding_for(certificate("REVOKED", new, "2" * 64), CA, ALL_STATUSES),
        finding_for(certificate("REVOKED", new, "1" * 64), CA, ALL_STATUSES),
        finding_for(certificate("REVOKED", old, "3" * 64), CA, ALL_STATUSES),
    ]
    assert [f["certificateId"][0] for f in worst_first(findings)] == ["3", "1", "2"]


@pytest.mark.parametrize(
    "status, severity, reason",
    [
        ("PENDING_TRANSFER", "MEDIUM", "Certificate is PENDING_TRANSFER: a transfer to another account"),
        ("PENDING_ACTIVATION", "LOW", "Certificate is PENDING_ACTIVATION and has never been activated."),
        ("ACTIVE", "INFO", "Certificate is ACTIVE (flagged by configuration)."),
        ("INACTIVE", "HIGH", "Certificate is INACTIVE: a dormant credential"),
        ("REGISTER_INACTIVE", "MEDIUM", "Certificate is REGISTER_INACTIVE, a status AWS has deprecated"),
        ("REVOKED", "LOW", "Certificate is REVOKED and can no longer connect"),
    ],
)
def test_each_status_has_its_documented_severity_when_flagged(status, severity, reason):
    # Given a configuration that flags the status (the last three are not flagged by default)
    flagged = load_config({"FLAGGED_STATUSES": status}, require_topic=False).flagged_statuses

    # When a certificate in that status is classified
    finding = finding_for(certificate(status), CA, flagged)

    # Then it is a finding of the documented severity, with a sentence that says why
    assert (finding["type"], finding["severity"], finding["status"]) == ("CERTIFICATE_STATUS", severity, status)
    assert finding["reason"].startswith(reason) and finding["reason"].endswith(".")


def test_a_status_unknown_to_the_rules_is_medium_and_named():
    finding = finding_for(certificate("QUARANTINED"), CA, frozenset({"QUARANTINED"}))
    assert finding["severity"] == "MEDIUM"
    assert finding["reason"] == "Certificate status is QUARANTINED."


class StubIot:
    """The two IoT answers a CA's scan reads, as the API gives them: one CA, one page."""

    def __init__(self, certificates: list[dict], ca_status: str = "ACTIVE"):
        self.certificates = certificates
        self.ca_status = ca_status

    def describe_ca_certificate(self, certificateId: str) -> dict:  # noqa: N803 - the API's name
        return {"certificateDescription": {"certificateId": certificateId, "status": self.ca_status}}

    def list_certificates_by_ca(self, caCertificateId: str, pageSize: int) -> dict:  # noqa: N803
        return {"certificates": self.certificates}


def scan_with_age_limit(certificates: list[dict], max_age_days: int = 365, ca_status: str = "ACTIVE") -> CaScan:
    config = load_config({"MAX_CERTIFICATE_AGE_DAYS": str(max_age_days)}, require_topic=False)
    return scan_ca(Iot(StubIot(certificates, ca_status)), CA, config, NOW)


def test_a_certificate_exactly_max_age_days_old_is_a_finding_and_one_second_younger_is_not():
    # Given two ACTIVE certificates: one exactly 365 days old, one a second younger
    exactly = certificate("ACTIVE", NOW - timedelta(days=365), "1" * 64)
    younger = certificate("ACTIVE", NOW - timedelta(days=365) + timedelta(seconds=1), "2" * 64)

    # When the CA is scanned with a 365-day limit
    scan = scan_with_age_limit([exactly, younger])

    # Then only the first is a finding: an age finding of its CA, with its age
    [finding] = scan.findings
    assert finding["certificateId"] == "1" * 64
    assert finding["caCertificateId"] == CA
    assert (finding["type"], finding["severity"], finding["ageDays"]) == ("DEVICE_CERTIFICATE_AGE", "LOW", 365)
    assert finding["reason"] == "ACTIVE certificate is 365 days old, at or past the 365-day limit: rotate it."
    assert finding["creationDate"] == "2025-06-15T12:00:00Z"


def test_only_active_certificates_are_checked_for_age():
    # Given old certificates in every status but ACTIVE, none flagged
    old = NOW - timedelta(days=4000)
    statuses = [s for s in KNOWN_STATUSES if s != "ACTIVE"]
    certificates = [certificate(status, old, str(n) * 64) for n, status in enumerate(statuses)]
    config = load_config({"MAX_CERTIFICATE_AGE_DAYS": "1", "FLAGGED_STATUSES": "ACTIVE"}, require_topic=False)

    # When the CA is scanned, Then none is an age finding
    assert scan_ca(Iot(StubIot(certificates)), CA, config, NOW).findings == []


def test_an_age_finding_can_be_suppressed_by_its_ca():
    # Given an age finding and a suppression of every finding of its CA
    scan = scan_with_age_limit([certificate("ACTIVE", NOW - timedelta(days=400))])
    suppressions = parse_suppressions([{"caCertificateId": CA, "reason": "legacy fleet, rotation planned"}])

    # When suppressions are applied, Then the CA-level suppression matches it
    kept, suppressed = apply_suppressions(scan.findings, suppressions, NOW)
    assert kept == [] and [f["type"] for f in suppressed] == ["DEVICE_CERTIFICATE_AGE"]


@pytest.mark.parametrize("expires", ["2026-06-15T12:00:00", datetime(2026, 6, 15, 12, 0)])
def test_a_suppression_expiry_without_a_time_zone_is_utc(expires, not_utc_clock):
    # Given a suppression that ends at 12:00 with no zone given, on a machine that is not on UTC
    suppressions = parse_suppressions([{"certificateId": "c" * 64, "reason": "r", "expires": expires}])
    finding = finding_for(certificate("REVOKED"), CA, ALL_STATUSES)

    # Then it applies until 12:00 UTC, not 12:00 local time, and is written as UTC
    just_before = NOW - timedelta(seconds=1)
    assert apply_suppressions([finding], suppressions, just_before)[1] != []
    assert apply_suppressions([finding], suppressions, NOW) == ([finding], [])
    assert expired_suppressions(suppressions, NOW) == [
        {"certificateId": "c" * 64, "reason": "r", "expires": "2026-06-15T12:00:00Z"}
    ]
    assert expired_suppressions(suppressions, just_before) == []


@pytest.fixture
def not_utc_clock():
    """The machine's local time zone is Tokyo's (UTC+9, no tzdata needed) for the test, then restored."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "JST-9"
    time.tzset()
    assert time.timezone == -9 * 3600
    yield
    if saved is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = saved
    time.tzset()


def test_dates_are_written_in_utc_on_a_machine_that_is_not(not_utc_clock):
    # Given times as the API gives them (aware, UTC) and as a file may give them (naive)
    assert iso_utc(datetime(2024, 5, 1, 12, 0, tzinfo=UTC)) == "2024-05-01T12:00:00Z"
    assert iso_utc(datetime(2024, 5, 1, 12, 0)) == "2024-05-01T12:00:00Z"
    assert iso_utc(None) is None and iso_utc("2024-05-01T12:00:00Z") == "2024-05-01T12:00:00Z"

    # When findings and a report are made, Then every date in them is UTC with a Z
    finding = finding_for(certificate("REVOKED", datetime(2024, 5, 1, 12, 0)), CA, ALL_STATUSES)
    assert finding["creationDate"] == "2024-05-01T12:00:00Z"
    ca = {"certificateId": CA, "status": "ACTIVE", "validity": {"notAfter": NOW + timedelta(days=30)}}
    [expiring] = ca_findings(ca, 0, NOW, 90)
    assert expiring["notAfter"] == "2026-07-15T12:00:00Z"
    assert "expires on 2026-07-15T12:00:00Z, in 30 days" in expiring["reason"]
    report = report_of([], [CaScan(CA, ca=ca, by_status=Counter({"ACTIVE": 1}))])
    assert (report["cas"][0]["notAfter"], report["cas"][0]["daysToExpiry"]) == ("2026-07-15T12:00:00Z", 30)


def ca_expiring_in(delta: timedelta, status: str = "ACTIVE") -> dict:
    return {"certificateId": CA, "status": status, "validity": {"notAfter": NOW + delta}}


def test_an_expired_ca_is_a_high_finding_of_its_own():
    # Given an ACTIVE CA whose certificate ended ten days ago
    [finding] = ca_findings(ca_expiring_in(timedelta(days=-10)), 0, NOW, 90)

    # Then it is a HIGH CA_CERTIFICATE_EXPIRED finding about that CA, saying what to do
    assert (finding["type"], finding["severity"]) == ("CA_CERTIFICATE_EXPIRED", "HIGH")
    assert (finding["caCertificateId"], finding["certificateId"]) == (CA, CA)
    assert (finding["notAfter"], finding["daysToExpiry"]) == ("2026-06-05T12:00:00Z", -10)
    assert finding["reason"] == (
        "CA certificate expired on 2026-06-05T12:00:00Z: register its successor and move devices to it."
    )


@pytest.mark.parametrize(
    "days, expected", [(90, ["CA_CERTIFICATE_EXPIRING"]), (91, []), (1, ["CA_CERTIFICATE_EXPIRING"])]
)
def test_a_ca_expiring_within_the_warning_days_is_a_medium_finding(days, expected):
    # Given an ACTIVE CA that ends in `days` days, and a 90-day warning
    findings = ca_findings(ca_expiring_in(timedelta(days=days)), 0, NOW, 90)

    # Then it is a finding at 90 days or fewer, none at 91
    assert [f["type"] for f in findings] == expected
    for finding in findings:
        assert (finding["severity"], finding["caCertificateId"], finding["daysToExpiry"]) == ("MEDIUM", CA, days)
        assert finding["reason"] == (
            f"CA certificate expires on {finding['notAfter']}, in {days} days (warning at 90): "
            "register its successor now."
        )


def test_a_deactivated_ca_is_critical_while_certificates_it_signed_are_active():
    # Given an INACTIVE CA (expired too) that signed 1,234 certificates still ACTIVE
    findings = ca_findings(ca_expiring_in(timedelta(days=-1), "INACTIVE"), 1234, NOW, 90)

    # Then the one finding is CRITICAL, counts them, and is about that CA; its expiry is not alerted
    [finding] = findings
    assert (finding["type"], finding["severity"]) == ("CA_NOT_ACTIVE_WITH_ACTIVE_DEVICE_CERTIFICATES", "CRITICAL")
    assert (finding["caCertificateId"], finding["activeDeviceCertificates"]) == (CA, 1234)
    assert finding["reason"] == (
        "CA is INACTIVE but 1,234 device certificates it signed are still ACTIVE: review them and "
        "deactivate or revoke the ones the CA's owner no longer trusts."
    )
    assert ca_findings(ca_expiring_in(timedelta(days=400), "INACTIVE"), 0, NOW, 90) == []


@pytest.mark.parametrize(
    "account, region, certificate_id, expected",
    [
        ("123456789012", "eu-west-1", "c" * 64, "b064a25532036a12184c1b4ff9c68cc0"),
        (None, None, "c" * 64, "b1672c955bf4de33b3fa8cb34b3f68c3"),  # the CLI, account unknown
        ("123456789012", "eu-west-1", None, "af981d3b597fcd9de959232c1e6a2ff2"),
    ],
)
def test_a_findings_id_stays_what_earlier_versions_stored(account, region, certificate_id, expected):
    # Given a finding the state table already holds under its ID
    finding = {"type": "CERTIFICATE_STATUS", "caCertificateId": CA, "certificateId": certificate_id}

    # Then this version gives it the same ID, or every open finding would look new after an upgrade
    assert finding_id(account, region, finding) == expected


def test_a_finding_carries_the_certificate_as_the_api_gave_it():
    # Given a REVOKED certificate as ListCertificatesByCA lists it
    listed = certificate("REVOKED", datetime(2024, 5, 1, 12, 0, tzinfo=UTC), "c" * 64)

    # When it is classified, Then the finding has every field of the report's contract
    assert finding_for(listed, CA, ALL_STATUSES) == {
        "type": "CERTIFICATE_STATUS",
        "caCertificateId": CA,
        "certificateId": "c" * 64,
        "certificateArn": f"arn:aws:iot:eu-west-1:123456789012:cert/{'c' * 64}",
        "status": "REVOKED",
        "certificateMode": "DEFAULT",
        "creationDate": "2024-05-01T12:00:00Z",
        "severity": "LOW",
        "reason": "Certificate is REVOKED and can no longer connect; delete it to keep the registry clean.",
    }


def test_an_age_finding_carries_the_certificate_too():
    listed = certificate("ACTIVE", NOW - timedelta(days=400), "d" * 64)
    [finding] = scan_with_age_limit([listed]).findings
    assert {key: finding[key] for key in ("certificateArn", "certificateMode", "status", "certificateId")} == {
        "certificateArn": listed["certificateArn"],
        "certificateMode": "DEFAULT",
        "status": "ACTIVE",
        "certificateId": "d" * 64,
    }


def test_a_severity_unknown_to_this_version_sorts_after_the_known_ones():
    # Given a finding whose severity this version does not know (a newer writer's, say) and a LOW one
    unknown = {**finding_of_severity("LOW", "1" * 64), "severity": "SEVERE"}
    low = finding_of_severity("LOW", "2" * 64)

    # Then ordering does not fail, and the known severity comes first
    assert [f["certificateId"][0] for f in worst_first([unknown, low])] == ["2", "1"]
