"""The SNS message: subject, email text, the 256 KiB budget. Pure, no AWS."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest

from cert_audit.config import DEFAULT_FLAGGED_STATUSES
from cert_audit.findings import finding_for
from cert_audit.message import SNS_MAX_BYTES, build_message, console_url, email_text, fit_report, subject
from cert_audit.report import build_report
from cert_audit.scan import CaScan

CA = "a" * 64


def report(findings: int = 0, cas: int = 1, failed: int = 0, region: str = "eu-west-1") -> dict:
    """A report built by the engine's own builder: `findings` findings under the first CA."""
    certificates = [
        {
            "certificateId": f"{n:064x}",
            "certificateArn": f"arn:aws:iot:{region}:123456789012:cert/{n:064x}",
            "status": "INACTIVE" if n % 2 else "REVOKED",
            "certificateMode": "DEFAULT",
            "creationDate": datetime(2024, 1, 1, tzinfo=UTC),
        }
        for n in range(findings)
    ]
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
    scans[0].findings = [finding_for(c, scans[0].ca_certificate_id, flagged) for c in certificates]
    return build_report(
        scans,
        flagged=flagged,
        audit_id="id",
        account_id="123456789012",
        region=region,
        started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T00:01:00Z",
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_subject_is_short_even_for_huge_numbers():
    text = subject(report(findings=3, cas=12345, failed=9999, region="ap-southeast-5"))
    assert len(text) <= 100
    assert text.startswith("IoT certificate audit: 3 findings in 1 of 12,345 CAs, 9999 failed")


def test_subject_singular_and_plural():
    assert subject(report(findings=1)) == "IoT certificate audit: 1 finding in 1 of 1 CA (eu-west-1)"
    assert subject(report(findings=0, cas=3)) == "IoT certificate audit: 0 findings in 3 CAs (eu-west-1)"


def test_small_report_is_sent_whole():
    whole = report(findings=5)
    assert fit_report(whole) == whole


@pytest.mark.parametrize("count", [2_000, 20_000])
def test_large_report_is_cut_to_fit_the_sns_limit(count):
    fitted = fit_report(report(findings=count))
    message = build_message(fitted)
    size = len(message["Message"].encode()) + len(message["Subject"]) + len(json.dumps(message["MessageAttributes"]))
    assert size <= SNS_MAX_BYTES
    kept = len(fitted["findings"])
    assert fitted["findingsTruncated"] and fitted["findingsOmitted"] == count - kept
    # The budget is used: one more finding would not have fitted in the space left.
    assert size > SNS_MAX_BYTES - 2 * len(json.dumps(fitted["findings"][0])) - 4096
    # Worst first is kept: the report is in that order, so the kept ones are its prefix.
    assert fitted["findings"] == report(findings=count)["findings"][:kept]
    assert {f["severity"] for f in fitted["findings"]} == {"HIGH"}


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
