"""The audit report (schema version 1): the JSON that SNS subscribers, the CLI and callers read.

Pure: built from the CA scans, no AWS calls. Field names are the public contract.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import TextIO

from cert_audit.config import KNOWN_STATUSES
from cert_audit.findings import FINDING_TYPES, days_to_expiry, finding_for, iso_utc, severity_rank, worst_first
from cert_audit.scan import CaScan

SCHEMA_VERSION = 1
# The fields every finding has, in the engine's order.
FINDING_FIELDS = tuple(finding_for({"status": "ACTIVE"}, "", frozenset({"ACTIVE"})))


def status_counts(counts: Counter, flagged: Iterable[str]) -> dict[str, int]:
    """Counts by status: flagged statuses always present (0 included), known statuses in API
    order, then any status AWS may add, under its own name."""
    ordered = [s for s in KNOWN_STATUSES if s in counts or s in flagged]
    ordered += sorted(s for s in counts if s not in KNOWN_STATUSES)
    return {status: counts.get(status, 0) for status in ordered}


def build_report(
    scans: list[CaScan],
    *,
    flagged: frozenset[str],
    audit_id: str,
    account_id: str | None,
    region: str | None,
    started_at: str,
    finished_at: str,
    now: datetime,
    expired: list[dict] = (),
    errors: list[dict] = (),
) -> dict:
    total = Counter()
    findings: list[dict] = []
    suppressed: list[dict] = []
    cas = []
    for scan in scans:
        total.update(scan.by_status)
        findings.extend(scan.findings)
        suppressed.extend(scan.suppressed)
        ca = scan.ca or {}
        cas.append(
            {
                "caCertificateId": scan.ca_certificate_id,
                "status": ca.get("status"),
                "certificateMode": ca.get("certificateMode"),
                "autoRegistrationStatus": ca.get("autoRegistrationStatus"),
                "notAfter": iso_utc((ca.get("validity") or {}).get("notAfter")),
                "daysToExpiry": days_to_expiry(ca, now),
                "certificatesScanned": scan.certificates_scanned,
                "byStatus": status_counts(scan.by_status, flagged),
                "findings": len(scan.findings),
                "suppressedFindings": len(scan.suppressed),
                "error": scan.error,
                "pages": scan.pages,
                "retries": scan.retries,
                "throttles": scan.throttles,
                "malformedCertificates": scan.malformed,
                "malformedExample": scan.malformed_example,
                "durationMs": scan.duration_ms,
            }
        )
    by_type = Counter(finding["type"] for finding in findings)
    return {
        "schemaVersion": SCHEMA_VERSION,
        "auditId": audit_id,
        "accountId": account_id,
        "region": region,
        "startedAt": started_at,
        "finishedAt": finished_at,
        "summary": {
            "certificatesScanned": sum(ca["certificatesScanned"] for ca in cas),
            "findings": len(findings),
            "byStatus": status_counts(total, flagged),
            "casScanned": len(cas),
            "casFailed": sum(1 for ca in cas if ca["error"]),
            "worstSeverity": worst_severity(findings),
            "retries": sum(ca["retries"] for ca in cas),
            "throttles": sum(ca["throttles"] for ca in cas),
            "malformedCertificates": sum(ca["malformedCertificates"] for ca in cas),
            "byType": {kind: by_type[kind] for kind in FINDING_TYPES},
            "suppressedFindings": len(suppressed),
            "errors": len(errors),
            "eventsSent": 0,
            "eventsFailed": 0,
            "securityHubImported": 0,  # findings Security Hub took (securityhub.py)
            "securityHubFailed": 0,  # findings it refused, after retries
        },
        "cas": cas,
        "findings": worst_first(findings),
        "findingsTruncated": False,
        "findingsOmitted": 0,
        "suppressedFindings": worst_first(suppressed),
        "expiredSuppressions": list(expired),
        "errors": list(errors),
        # Filled in by with_changes (changes.py) and the archive.
        "changes": None,
        "oldestOpenSince": None,
        "resolvedFindings": [],
        "reportUri": None,
        "reportConsoleUrl": None,
        "reportHtmlUri": None,  # the archive's HTML page (html_report), the email links to it
        "reportHtmlConsoleUrl": None,
    }


def worst_severity(findings: list[dict]) -> str | None:
    return min((f["severity"] for f in findings), key=severity_rank, default=None)


def with_changes(report: dict, changes) -> dict:
    """The report with what changed since the last run (a changes.Changes), or with the changes
    unknown (None: the last run's state could not be read), each finding's isNew and firstSeen then null."""
    if changes is None:
        for finding in (*report["findings"], *report["suppressedFindings"]):
            finding.update(isNew=None, firstSeen=None)
        return report
    return {
        **report,
        "changes": changes.counts(),
        "oldestOpenSince": changes.oldest,
        "resolvedFindings": changes.resolved,
    }


def add_error(report: dict, source: str, code: str, message: str) -> None:
    """Record a run-level problem (one outside any CA) in the report and its summary count."""
    report["errors"].append({"source": source, "code": code, "message": message})
    report["summary"]["errors"] = len(report["errors"])


def write_csv(findings: list[dict], stream: TextIO) -> None:
    """The findings as CSV: the engine's finding fields first, in its order, whatever they
    become; then the fields some types add (a CA's notAfter, a certificate's age) and the
    run's own (findingId, firstSeen, isNew), in the order they first appear."""
    extra = {key: None for finding in findings for key in finding if key not in FINDING_FIELDS}
    writer = csv.DictWriter(stream, fieldnames=[*FINDING_FIELDS, *extra], lineterminator="\n")
    writer.writeheader()
    writer.writerows(findings)


def without_findings(report: dict) -> dict:
    """The report as an on-demand caller gets it back: everything but the findings list."""
    return {key: value for key, value in report.items() if key != "findings"}
