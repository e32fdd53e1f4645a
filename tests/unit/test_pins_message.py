"""The memory's part of the report and its e-mail: what changed since the last run, each resolved
finding's line, and findings whose history is unknown (issue 9, mutation run)."""

from __future__ import annotations

from cert_audit.changes import Changes
from cert_audit.findings import finding_for
from cert_audit.message import email_text
from cert_audit.report import with_changes
from cert_audit.scan import CaScan
from tests.unit.test_pins_report import NOW, report_of

CA = "a" * 64
GONE = "2026-06-15T12:00:00Z"


def resolved(kind: str, status: str, severity: str, first_seen: str | None) -> dict:
    return {
        "type": kind,
        "status": status,
        "severity": severity,
        "certificateId": "c" * 64,
        "caCertificateId": CA,
        "firstSeen": first_seen,
        "resolvedAt": GONE,
    }


def test_what_changed_since_the_last_run_is_in_the_report_and_its_email():
    # Given a run with 2 resolved findings (one whose first sighting is unknown) and 3 still open
    gone = [
        resolved("CERTIFICATE_STATUS", "REVOKED", "HIGH", "2026-01-02T03:04:05Z"),
        resolved("CA_CERTIFICATE_EXPIRING", "ACTIVE", "MEDIUM", None),
    ]
    changes = Changes(resolved=gone, ongoing=3, oldest="2026-01-02T03:04:05Z")

    # When the report takes the changes and is written as e-mail
    report = with_changes(report_of([CaScan(CA)]), changes)
    text = email_text(report)

    # Then the report counts them, names the oldest open finding and lists the resolved ones
    assert report["changes"] == {"new": 0, "resolved": 2, "ongoing": 3}
    assert report["oldestOpenSince"] == "2026-01-02T03:04:05Z"
    assert report["resolvedFindings"] == gone
    # And the e-mail names a certificate status by its status, anything else by its type
    assert "0 new, 2 resolved, 3 still open (oldest since 2026-01-02)." in text
    assert (
        "Resolved since the last run\n"
        f"- [HIGH] REVOKED {'c' * 64} (CA aaaaaaaaaaaa...): open since 2026-01-02, gone at {GONE}\n"
        f"- [MEDIUM] CA_CERTIFICATE_EXPIRING {'c' * 64} (CA aaaaaaaaaaaa...): open since ?, gone at {GONE}\n"
    ) in text


def test_without_the_last_runs_state_every_finding_has_an_unknown_history():
    # Given a report with one finding and one suppressed finding
    revoked = {"certificateId": "c" * 64, "status": "REVOKED", "creationDate": NOW}
    scan = CaScan(CA, findings=[finding_for(revoked, CA, frozenset({"REVOKED"}))])
    scan.suppressed = [finding_for({**revoked, "certificateId": "d" * 64}, CA, frozenset({"REVOKED"}))]
    report = report_of([scan])

    # When the last run's state could not be read
    result = with_changes(report, None)

    # Then whether each is new, and since when it is open, are both unknown (null), and nothing changed
    assert [(f["isNew"], f["firstSeen"]) for f in result["findings"]] == [(None, None)]
    assert [(f["isNew"], f["firstSeen"]) for f in result["suppressedFindings"]] == [(None, None)]
    assert result["changes"] is None
