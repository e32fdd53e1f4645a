"""The SNS message: subject, email text, the 256 KiB budget. Pure, no AWS."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from cert_audit.config import DEFAULT_FLAGGED_STATUSES
from cert_audit.findings import ca_findings, finding_for
from cert_audit.message import build_message, console_url, email_text, fit_report, should_notify, subject
from cert_audit.report import build_report
from cert_audit.scan import CaScan

CA = "a" * 64
NOW = datetime(2026, 1, 1, tzinfo=UTC)
SUPPRESSIONS_ERROR = {"source": "suppressions", "code": "AccessDeniedException", "message": "not allowed"}


def certificate(n: int, status: str, region: str = "eu-west-1", created: int = 2024) -> dict:
    return {
        "certificateId": f"{n:064x}",
        "certificateArn": f"arn:aws:iot:{region}:123456789012:cert/{n:064x}",
        "status": status,
        "certificateMode": "DEFAULT",
        "creationDate": datetime(created, 1, 1, tzinfo=UTC),
    }


def report(
    findings: int = 0,
    cas: int = 1,
    failed: int = 0,
    region: str = "eu-west-1",
    statuses: list[str] | None = None,
    ca_level: list[dict] = (),
    errors: list[dict] = (),
) -> dict:
    """A report built by the engine's own builder: `findings` findings (or one per status of
    `statuses`) and the CA-level findings `ca_level` under the first CA."""
    statuses = statuses or ["INACTIVE" if n % 2 else "REVOKED" for n in range(findings)]
    scans = [
        CaScan(
            f"{n:064x}",
            certificates_scanned=10,
            by_status=Counter({"ACTIVE": 10}),
            error={"code": "UnauthorizedException", "message": "not allowed"} if n < failed else None,
        )
        for n in range(cas)
    ]
    flagged = frozenset(DEFAULT_FLAGGED_STATUSES)
    ca_id = scans[0].ca_certificate_id
    scans[0].findings = [finding_for(certificate(n, s, region), ca_id, flagged) for n, s in enumerate(statuses)]
    scans[0].findings += ca_level
    return build_report(
        scans,
        flagged=flagged,
        audit_id="id",
        account_id="123456789012",
        region=region,
        started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T00:01:00Z",
        now=NOW,
        errors=errors,
    )


def test_subject_is_short_even_for_huge_numbers():
    text = subject(report(findings=3, cas=12345, failed=9999, region="ap-southeast-5"))
    assert len(text) <= 100
    assert text.startswith("IoT certificate audit: 3 findings in 1 of 12,345 CAs, 9999 failed")


def test_subject_singular_and_plural():
    assert subject(report(findings=1)) == "IoT certificate audit: 1 finding in 1 of 1 CA (eu-west-1)"
    assert subject(report(findings=0, cas=3)) == "IoT certificate audit: 0 findings in 3 CAs (eu-west-1)"


def test_small_report_is_sent_whole():
    # Given a report far below the SNS limit
    whole = report(findings=5, cas=3, failed=1)

    # When it is fitted, then nothing is left out and every count of left-out items says so
    assert fit_report(whole) == {
        **whole,
        "casOmitted": 0,
        "errorsOmitted": 0,
        "expiredSuppressionsOmitted": 0,
        "resolvedFindingsOmitted": 0,
    }


def test_email_names_failed_cas_and_the_cut():
    fitted = fit_report(report(findings=2_000, cas=2, failed=1))
    text = email_text(fitted)
    assert "Scan errors (not everything was audited as configured)" in text
    assert f"- CA {0:064x}: UnauthorizedException: not allowed" in text
    assert f"{fitted['findingsOmitted']:,} more findings did not fit in one SNS message" in text


@pytest.mark.parametrize(
    "partition, host",
    [
        ("aws", "console.aws.amazon.com"),
        ("aws-cn", "console.amazonaws.cn"),
        ("aws-us-gov", "console.amazonaws-us-gov.com"),
    ],
)
def test_console_link_follows_the_partition(partition, host):
    finding = {"certificateArn": f"arn:{partition}:iot:r-1:1:cert/abc", "certificateId": "abc"}
    assert console_url(finding, "r-1") == f"https://r-1.{host}/iot/home?region=r-1#/certificate/abc"


def described_ca(letter: str, status: str, not_after: datetime, created: int) -> dict:
    """A DescribeCACertificate certificateDescription."""
    return {
        "certificateId": letter * 64,
        "certificateArn": f"arn:aws:iot:eu-west-1:123456789012:cacert/{letter * 64}",
        "status": status,
        "certificateMode": "DEFAULT",
        "creationDate": datetime(created, 1, 1, tzinfo=UTC),
        "validity": {"notAfter": not_after},
    }


def test_email_lists_ca_level_findings_by_type_worst_type_first():
    # Given a disabled CA whose devices are still active (CRITICAL), an expired CA (HIGH), a CA
    # about to expire (MEDIUM), and device certificates INACTIVE (HIGH) and REVOKED (LOW)
    disabled = ca_findings(described_ca("d", "INACTIVE", datetime(2030, 1, 1, tzinfo=UTC), 2019), 8, NOW, 30)
    expired = ca_findings(described_ca("e", "ACTIVE", datetime(2025, 6, 1, tzinfo=UTC), 2020), 0, NOW, 30)
    expiring = ca_findings(described_ca("f", "ACTIVE", datetime(2026, 1, 11, tzinfo=UTC), 2021), 0, NOW, 30)
    whole = report(statuses=["REVOKED", "INACTIVE"], ca_level=disabled + expired + expiring)

    # When the email is written
    text = email_text(fit_report(whole))

    # Then each type has a heading with its count, the type of the worst finding first (a type
    # is placed by its worst finding: CERTIFICATE_STATUS, HIGH and LOW, comes before the MEDIUM one)
    headings = [
        "CA_NOT_ACTIVE_WITH_ACTIVE_DEVICE_CERTIFICATES (1)",
        "CA_CERTIFICATE_EXPIRED (1)",
        "CERTIFICATE_STATUS (2)",
        "CA_CERTIFICATE_EXPIRING (1)",
    ]
    positions = [text.index(f"\n{heading}\n\n") for heading in headings]
    assert positions == sorted(positions)
    assert text.index("[HIGH] INACTIVE certificate") < text.index("[LOW] REVOKED certificate")
    # A CA-level finding is one header line naming the CA and its status, its reason, and the
    # link to the CA's page in the console (the certificate page would not exist)
    assert (
        "CA_CERTIFICATE_EXPIRED (1)\n\n"
        f"[HIGH] CA {'e' * 64} (ACTIVE)\n"
        "  CA certificate expired on 2025-06-01T00:00:00Z: register its successor and move devices to it.\n"
        "  https://eu-west-1.console.aws.amazon.com/iot/home?region=eu-west-1#/cacertificate/" + "e" * 64 + "\n"
    ) in text
    assert f"\n[CRITICAL] CA {'d' * 64} (INACTIVE)\n  CA is INACTIVE but 8 device certificates" in text
    assert f"#/cacertificate/{'f' * 64}\n" in text


@pytest.mark.parametrize(
    "whole, notify_on, expected",
    [
        (report(findings=0, cas=2), "findings", False),
        (report(findings=1, cas=2), "findings", True),
        (report(findings=0, cas=2, failed=1), "findings", True),
        (report(findings=0, cas=2, errors=[SUPPRESSIONS_ERROR]), "findings", True),
        (report(findings=0, cas=2), "always", True),
    ],
    ids=["clean", "a finding", "a failed CA", "unreadable suppressions", "always"],
)
def test_notifies_on_findings_failures_and_run_errors(whole, notify_on, expected):
    # A run that could not audit everything must reach people even when it found nothing
    assert should_notify(fit_report(whole), notify_on) is expected


@pytest.mark.parametrize(
    "statuses, ca_level, worst",
    [
        (["REVOKED", "REGISTER_INACTIVE"], [], "MEDIUM"),  # by severity, not alphabetically (LOW < MEDIUM)
        (["REVOKED", "INACTIVE"], [], "HIGH"),
        (["INACTIVE"], ca_findings(described_ca("d", "INACTIVE", NOW, 2019), 1, NOW, 30), "CRITICAL"),
        ([], [], "NONE"),
    ],
)
def test_message_attributes_carry_the_worst_severity_for_filter_policies(statuses, ca_level, worst):
    # Given a report with findings of these severities (and one failed CA)
    whole = report(statuses=statuses, ca_level=ca_level, cas=2, failed=1)

    # When its message is built, then subscription filter policies can match on these values
    attributes = build_message(fit_report(whole))["MessageAttributes"]
    assert attributes == {
        "findings": {"DataType": "Number", "StringValue": str(len(statuses) + len(ca_level))},
        "worstSeverity": {"DataType": "String", "StringValue": worst},
        "casFailed": {"DataType": "Number", "StringValue": "1"},
    }
