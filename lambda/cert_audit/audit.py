"""One audit run, shared by the Lambda handler and the CLI: find the CAs, scan them, report."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from cert_audit.aws import Iot, error_of
from cert_audit.calls import NO_DEADLINE, Deadline, RateLimiter, Stopped
from cert_audit.config import ALL_CAS, AuditConfig
from cert_audit.findings import finding_id, iso_utc
from cert_audit.inventory import open_inventory
from cert_audit.observability import logger
from cert_audit.report import build_report
from cert_audit.scan import CaScan, OnPage
from cert_audit.suppressions import Suppression, apply_suppressions, expired_suppressions


def discover(iot: Iot, config: AuditConfig) -> tuple[list[str], CaScan | None]:
    """The account's CAs, and a failed pseudo-CA '*' that carries the discovery error, if any:
    the CAs listed before an error are still audited."""
    stats = CaScan(ALL_CAS)
    ca_ids, failure = iot.ca_certificate_ids(config.page_size, stats)
    if failure is None:
        return ca_ids, None
    # Stopped by the deadline: ScanIncomplete, as a CA's scan is (Stopped is no AWS error code).
    stats.error = (
        {"code": "ScanIncomplete", "message": str(failure)} if isinstance(failure, Stopped) else error_of(failure)
    )
    stats.error["message"] = f"Could not list every CA of the account ({len(ca_ids)} listed): {stats.error['message']}"
    return ca_ids, stats


def log_scan(scan: CaScan) -> None:
    logger.info(
        "CA scanned",
        extra={
            "caCertificateId": scan.ca_certificate_id,
            "caStatus": (scan.ca or {}).get("status"),
            "certificatesScanned": scan.certificates_scanned,
            "byStatus": dict(scan.by_status),
            "findings": len(scan.findings),
            "suppressedFindings": len(scan.suppressed),
            "malformedCertificates": scan.malformed,
            "pages": scan.pages,
            "retries": scan.retries,
            "throttles": scan.throttles,
            "durationMs": scan.duration_ms,
            "error": scan.error,
        },
    )


def identified(findings: list[dict], account_id: str | None, region: str | None) -> list[dict]:
    """Each finding with its findingId, each once (a registry that changes while it is listed
    may list a certificate twice)."""
    unique = {}
    for finding in findings:
        finding["findingId"] = finding_id(account_id, region, finding)
        unique.setdefault(finding["findingId"], finding)
    return list(unique.values())


def judge(scan: CaScan, account_id: str | None, region: str | None, suppressions: list[Suppression], now) -> None:
    """Give the scan's findings their IDs (each once) and set the suppressed ones apart."""
    scan.findings = identified(scan.findings, account_id, region)
    scan.findings, scan.suppressed = apply_suppressions(scan.findings, suppressions, now)


def run_audit(
    client,
    config: AuditConfig,
    *,
    ca_certificate_ids: tuple[str, ...] | None = None,
    audit_id: str | None = None,
    account_id: str | None = None,
    deadline: Deadline = NO_DEADLINE,
    on_page: OnPage | None = None,
    suppressions: list[Suppression] = (),
    errors: list[dict] = (),
) -> dict:
    """Audit the given CAs (default: the configured ones; none configured = every CA) with the
    IoT `client`, and return the full report, findings worst first. `errors` are run-level
    problems found before the scan (such as unreadable suppressions) that the report must carry.
    No IoT call starts once `deadline` has passed, and all of them share the rate limit."""
    now = datetime.now(UTC)
    iot = Iot(client, RateLimiter(config.iot_rate_limit), deadline)
    suppressions = list(suppressions)
    ca_ids = list(ca_certificate_ids or config.ca_certificate_ids)
    failed_discovery = None
    if not ca_ids:
        ca_ids, failed_discovery = discover(iot, config)
    # The certificate inventory (issue 13) watches the listed pages and describes after the scan.
    inventory = open_inventory(client, config, now, deadline)
    scans = inventory.scan(iot, ca_ids, config, now, on_page)  # AUDIT_SCOPE=account: every certificate
    inventory.complete(scans)
    if failed_discovery:
        scans.insert(0, failed_discovery)
    region = client.meta.region_name
    for scan in scans:
        judge(scan, account_id, region, suppressions, now)
        log_scan(scan)
    return inventory.annotate(report_of(scans, config, audit_id, account_id, region, now, suppressions, errors))


def report_of(
    scans: list[CaScan],
    config: AuditConfig,
    audit_id: str | None,
    account_id: str | None,
    region: str | None,
    now: datetime,
    suppressions: list[Suppression],
    errors: list[dict],
) -> dict:
    """The report of judged scans, for a run that started at `now`."""
    return build_report(
        scans,
        flagged=config.flagged_statuses,
        audit_id=audit_id or str(uuid.uuid4()),
        account_id=account_id,
        region=region,
        started_at=iso_utc(now),
        finished_at=iso_utc(datetime.now(UTC)),
        now=now,
        expired=expired_suppressions(suppressions, now),
        errors=list(errors),
    )
