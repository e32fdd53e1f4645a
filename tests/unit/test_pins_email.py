"""The e-mail an operator reads, line for line (issue 9, mutation run): each section, its heading
and its counts, with a memory of the last run and without, whole and cut to fit one SNS message.

The expected texts are written out here, never rendered by the module under test.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from cert_audit.changes import Changes
from cert_audit.findings import finding_for
from cert_audit.message import email_text, should_notify, subject
from cert_audit.report import build_report, with_changes
from cert_audit.scan import CaScan

A, B = "a" * 64, "b" * 64
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
FLAGGED = frozenset({"INACTIVE", "REVOKED"})
CONSOLE = "https://eu-west-1.console.aws.amazon.com/iot/home?region=eu-west-1#/certificate/"
EXPIRED = {"certificateId": "e" * 64, "expires": "2026-06-01T00:00:00Z", "reason": "Lab devices (CHG-1234)"}
RUN_ERROR = {"source": "suppressions", "code": "InvalidSuppressions", "message": "line 3: no reason"}
INACTIVE_REASON = "Certificate is INACTIVE: a dormant credential that one UpdateCertificate call re-activates. "


def certificate(letter: str, status: str, mode: str | None = "DEFAULT") -> dict:
    return {
        "certificateId": letter * 64,
        "certificateArn": f"arn:aws:iot:eu-west-1:123456789012:cert/{letter * 64}",
        "status": status,
        "certificateMode": mode,
        "creationDate": datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    }


def fleet(region: str = "eu-west-1") -> dict:
    """CA A scanned (10 ACTIVE, 1 INACTIVE, 2 REVOKED, 2 of them malformed), two findings and one
    suppressed; CA B refused; one expired suppression and one run error."""
    scanned = CaScan(
        A,
        certificates_scanned=13,
        by_status=Counter(ACTIVE=10, INACTIVE=1, REVOKED=2),
        findings=[
            finding_for(certificate("c", "INACTIVE"), A, FLAGGED),
            finding_for(certificate("d", "REVOKED", mode=None), A, FLAGGED),
        ],
        suppressed=[finding_for(certificate("f", "REVOKED"), A, FLAGGED)],
        malformed=2,
    )
    refused = CaScan(B, error={"code": "AccessDeniedException", "message": "not allowed"})
    return build_report(
        [scanned, refused],
        flagged=FLAGGED,
        audit_id="audit-1",
        account_id="123456789012",
        region=region,
        started_at="2026-06-15T12:00:00Z",
        finished_at="2026-06-15T12:01:00Z",
        now=NOW,
        expired=[EXPIRED],
        errors=[RUN_ERROR],
    )


def test_the_email_of_a_run_with_a_memory_and_an_archive_line_for_line():
    # Given a run that remembers the last one: the INACTIVE finding is new, the REVOKED one still
    # open, one finding resolved; the report is archived, and one finding was left out of it
    report = fleet()
    report["findings"][0]["isNew"] = True
    report["findings"][1]["isNew"] = False
    resolved = {
        **finding_for(certificate("9", "REVOKED"), A, FLAGGED),
        "firstSeen": "2026-01-02T03:04:05Z",
        "resolvedAt": "2026-06-15T12:01:00Z",
    }
    report = with_changes(
        report, Changes(new=[report["findings"][0]], resolved=[resolved], ongoing=1, oldest="2026-01-02T03:04:05Z")
    )
    report.update(
        findingsOmitted=1,
        reportUri="s3://audit-bucket/reports/audit-1.json.gz",
        reportConsoleUrl="https://s3.console.aws.amazon.com/s3/object/audit-bucket?prefix=reports/audit-1.json.gz",
        reportHtmlConsoleUrl="https://s3.console.aws.amazon.com/s3/object/audit-bucket?prefix=reports/audit-1.html",
    )

    # When its email is written
    text = email_text(report)

    # Then it reads, line for line:
    assert text == (
        "IoT certificate audit: 2 findings in 1 of 2 CAs, 1 failed (eu-west-1).\n"
        "\n"
        "1 new, 1 resolved, 1 still open (oldest since 2026-01-02).\n"
        "\n"
        "Account 123456789012, region eu-west-1, audit audit-1.\n"
        "Scanned 13 device certificates of 2 CAs from 2026-06-15T12:00:00Z to 2026-06-15T12:01:00Z.\n"
        "2 malformed certificates (a missing or unparseable field) counted but not fully checked: see each CA's "
        "malformedCertificates and malformedExample in the JSON report.\n"
        "\n"
        "Certificates by CA and status\n"
        f"CA {A}: scanned, 2 findings\n"
        "  ACTIVE                       10\n"
        "  INACTIVE                      1\n"
        "  REVOKED                       2\n"
        f"CA {B}: FAILED (AccessDeniedException), 0 findings\n"
        "  INACTIVE                      0\n"
        "  REVOKED                       0\n"
        "All CAs\n"
        "  ACTIVE                       10\n"
        "  INACTIVE                      1\n"
        "  REVOKED                       2\n"
        "\n"
        "Scan errors (not everything was audited as configured)\n"
        f"- CA {B}: AccessDeniedException: not allowed\n"
        "- suppressions: InvalidSuppressions: line 3: no reason\n"
        "\n"
        "New since the last run (worst first)\n"
        "\n"
        "CERTIFICATE_STATUS (1)\n"
        "\n"
        f"[HIGH] INACTIVE certificate {'c' * 64}\n"
        f"  CA {A}, created 2024-05-01T12:00:00Z, mode DEFAULT\n"
        f"  {report['findings'][0]['reason']}\n"
        f"  {CONSOLE}{'c' * 64}\n"
        "\n"
        "Still open (worst first)\n"
        "\n"
        "CERTIFICATE_STATUS (1)\n"
        "\n"
        f"[LOW] REVOKED certificate {'d' * 64}\n"
        f"  CA {A}, created 2024-05-01T12:00:00Z, mode unknown\n"
        "  Certificate is REVOKED and can no longer connect; delete it to keep the registry clean.\n"
        f"  {CONSOLE}{'d' * 64}\n"
        "\n"
        "1 more finding did not fit in one SNS message (256 KiB): every finding is in the archived report below.\n"
        "\n"
        "Resolved since the last run\n"
        f"- [LOW] REVOKED {'9' * 64} (CA aaaaaaaaaaaa...): open since 2026-01-02, gone at 2026-06-15T12:01:00Z\n"
        "1 finding suppressed by your suppressions (listed in the JSON report under suppressedFindings).\n"
        "\n"
        "Expired suppressions (no longer applied: renew or remove them)\n"
        '- {"certificateId": "' + "e" * 64 + '", "expires": "2026-06-01T00:00:00Z", '
        '"reason": "Lab devices (CHG-1234)"}\n'
        "\n"
        "Report page (HTML, open it from the S3 console): "
        "https://s3.console.aws.amazon.com/s3/object/audit-bucket?prefix=reports/audit-1.html\n"
        "\n"
        "Full report (every finding, as JSON and CSV): s3://audit-bucket/reports/audit-1.json.gz\n"
        "https://s3.console.aws.amazon.com/s3/object/audit-bucket?prefix=reports/audit-1.json.gz\n"
    )
    assert report["findings"][0]["reason"].startswith(INACTIVE_REASON)


def test_the_email_of_a_run_cut_to_fit_says_how_many_of_each_list_it_left_out():
    # Given the same run without a memory or an archive, cut to fit one SNS message: of 12 CAs
    # (3 failed) 10 were left out, and some of every other list
    report = fleet()
    report["summary"].update(casScanned=12, casFailed=3, suppressedFindings=8)
    report.update(
        findings=report["findings"][:1],
        findingsOmitted=1,
        findingsTruncated=True,
        casOmitted=10,
        errorsOmitted=1,
        resolvedFindingsOmitted=5,
        expiredSuppressions=[],
        expiredSuppressionsOmitted=6,
        suppressedFindingsOmitted=7,
    )

    # When its email is written
    text = email_text(report)

    # Then each list the cut shortened says how many it left out, the CAs' failures among them,
    # and where the whole report is; sections whose items were all left out are still there
    assert text.startswith("IoT certificate audit: 2 findings in 12 CAs, 3 failed (eu-west-1).\n\nAccount ")
    assert (
        "  REVOKED                       0\n"
        "... and 10 more CAs not shown: run `cert-audit scan --format json` for the full report.\n"
        "All CAs\n"
    ) in text
    assert (
        "Scan errors (not everything was audited as configured)\n"
        f"- CA {B}: AccessDeniedException: not allowed\n"
        "- suppressions: InvalidSuppressions: line 3: no reason\n"
        "... and 3 more scan errors not shown: run `cert-audit scan --format json` for the full report.\n"
        "\n"
        "Findings by type (worst first)\n"
        "\n"
        "CERTIFICATE_STATUS (1)\n"
        "\n"
        f"[HIGH] INACTIVE certificate {'c' * 64}\n"
    ) in text
    assert text.endswith(
        f"  {CONSOLE}{'c' * 64}\n"
        "\n"
        "1 more finding did not fit in one SNS message (256 KiB): "
        "run `cert-audit scan --format json` for the full report.\n"
        "\n"
        "Resolved since the last run\n"
        "... and 5 more resolved findings not shown: run `cert-audit scan --format json` for the full report.\n"
        "8 findings suppressed by your suppressions (listed in the JSON report under suppressedFindings; "
        "7 left out to fit one SNS message).\n"
        "\n"
        "Expired suppressions (no longer applied: renew or remove them)\n"
        "... and 6 more expired suppressions not shown: run `cert-audit scan --format json` for the full report.\n"
    )


def clean(failed: int = 0, errors: list[dict] = ()) -> dict:
    """One CA with 4 ACTIVE certificates and no finding, `failed` more CAs that failed."""
    scans = [CaScan(A, certificates_scanned=4, by_status=Counter(ACTIVE=4))]
    scans += [CaScan(f"{n:064x}", error={"code": "Throttling", "message": "slow down"}) for n in range(failed)]
    return build_report(
        scans,
        flagged=FLAGGED,
        audit_id="audit-2",
        account_id=None,
        region="eu-west-1",
        started_at="s",
        finished_at="f",
        now=NOW,
        errors=list(errors),
    )


def test_the_email_of_a_clean_run_says_nothing_needs_attention():
    # Given a run that found nothing and had no problem, When its email is written, Then:
    assert email_text(clean()) == (
        "IoT certificate audit: 0 findings in 1 CA (eu-west-1).\n"
        "\n"
        "Account None, region eu-west-1, audit audit-2.\n"
        "Scanned 4 device certificates of 1 CA from s to f.\n"
        "\n"
        "Certificates by CA and status\n"
        f"CA {A}: scanned, 0 findings\n"
        "  ACTIVE                        4\n"
        "  INACTIVE                      0\n"
        "  REVOKED                       0\n"
        "All CAs\n"
        "  ACTIVE                        4\n"
        "  INACTIVE                      0\n"
        "  REVOKED                       0\n"
        "\n"
        "No findings: nothing the audit checks needs attention.\n"
    )


def test_a_run_error_is_in_the_subject_and_nothing_found_is_still_said():
    # Given a clean scan whose suppressions could not be read
    text = email_text(clean(errors=[RUN_ERROR]))

    # Then the subject says there were errors, the error is listed, and no finding is said
    assert text.startswith("IoT certificate audit: 0 findings in 1 CA, with errors (eu-west-1).\n")
    assert (
        "Scan errors (not everything was audited as configured)\n"
        "- suppressions: InvalidSuppressions: line 3: no reason\n"
        "\n"
        "No findings: nothing the audit checks needs attention.\n"
    ) in text


def test_a_failed_ca_is_never_told_as_nothing_found():
    # Given a run with no finding but one CA that failed
    text = email_text(clean(failed=1))

    # Then the subject names the failure and the email never says that nothing needs attention
    assert text.startswith("IoT certificate audit: 0 findings in 2 CAs, 1 failed (eu-west-1).\n")
    assert "No findings" not in text
    assert text.endswith(f"- CA {0:064x}: Throttling: slow down\n\n")


def test_the_subject_is_ascii_whatever_the_region_is_called():
    # Given a region name with a character outside ASCII (SNS accepts only ASCII subjects)
    # When the subject is written, Then that character is replaced, not an error
    assert subject(fleet(region="eu-wést-1")) == "IoT certificate audit: 2 findings in 1 of 2 CAs, 1 failed (eu-w?st-1)"


def test_a_findings_remediation_follows_its_reason_and_the_inventorys_coverage_is_told():
    # Given a certificate-check finding with its remediation, and a run whose inventory has described
    # 1,500 of 2,000 device certificates, the rest in about 2 more runs
    report = clean()
    report["findings"] = [
        {
            **finding_for(certificate("c", "INACTIVE"), A, FLAGGED),
            "reason": "Device certificate expires in 3 days.",
            "remediation": "Rotate it now.",
        }
    ]
    report["summary"].update(findings=1, inventory={"described": 1_500, "total": 2_000, "runsToComplete": 2})

    # When the email is written
    text = email_text(report)

    # Then the coverage line follows the scan's line, and the remediation ends the reason's line
    assert (
        "Scanned 4 device certificates of 1 CA from s to f.\n"
        "Inventory: 1,500 of 2,000 device certificates described (expiry, key and signature checked); "
        "complete in about 2 more runs.\n"
        "\n"
        "Certificates by CA and status\n"
    ) in text
    assert f"\n  Device certificate expires in 3 days. Rotate it now.\n  {CONSOLE}{'c' * 64}\n" in text


@pytest.mark.parametrize(
    "notify_on, changes, findings, expected",
    [
        ("changes", {"new": 1, "resolved": 0, "ongoing": 0}, 1, True),
        ("changes", {"new": 0, "resolved": 2, "ongoing": 0}, 0, True),
        ("changes", {"new": 0, "resolved": 0, "ongoing": 3}, 3, False),
        ("changes", None, 3, False),  # the last run's state unreadable: nothing known to have changed
        ("findings", {"new": 0, "resolved": 0, "ongoing": 3}, 3, True),
        ("findings", {"new": 0, "resolved": 1, "ongoing": 0}, 0, False),
        ("always", {"new": 0, "resolved": 0, "ongoing": 0}, 0, True),
    ],
    ids=["a new finding", "resolved ones", "nothing changed", "changes unknown", "findings", "no finding", "always"],
)
def test_who_hears_of_a_run_depends_on_the_setting(notify_on, changes, findings, expected):
    # Given a clean scan with these findings and changes since the last run
    report = clean()
    report["summary"]["findings"] = findings
    report["changes"] = changes

    # Then NOTIFY_ON decides whether the run is told
    assert should_notify(report, notify_on) is expected


@pytest.mark.parametrize("notify_on", ["changes", "findings"])
def test_a_failure_is_told_whatever_the_setting(notify_on):
    # A failed CA or a run error reaches people even when nothing changed or nothing was found
    for report in (clean(failed=1), clean(errors=[RUN_ERROR])):
        report["changes"] = {"new": 0, "resolved": 0, "ongoing": 0}
        assert should_notify(report, notify_on) is True
