"""One audit run, shared by the Lambda handler and the CLI: find the CAs, scan them, report."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from cert_audit.aws import all_ca_certificate_ids, error_of
from cert_audit.config import ALL_CAS, AuditConfig
from cert_audit.findings import iso_utc
from cert_audit.report import build_report
from cert_audit.scan import CaScan, OnPage, StopReason, never_stop, scan_cas
from cert_audit.suppressions import Suppression, apply_suppressions, expired_suppressions


def _discover(iot, config: AuditConfig) -> tuple[list[str], CaScan | None]:
    """The account's CAs, or a failed pseudo-CA '*' that carries the discovery error."""
    try:
        return all_ca_certificate_ids(iot, config.page_size), None
    except (ClientError, BotoCoreError) as failure:
        error = error_of(failure)
    error["message"] = f"Could not list the account's CAs: {error['message']}"
    return [], CaScan(ALL_CAS, error=error)


def run_audit(
    iot,
    config: AuditConfig,
    *,
    ca_certificate_ids: tuple[str, ...] | None = None,
    audit_id: str | None = None,
    account_id: str | None = None,
    stop_reason: StopReason = never_stop,
    on_page: OnPage | None = None,
    suppressions: list[Suppression] = (),
    errors: list[dict] = (),
) -> dict:
    """Audit the given CAs (default: the configured ones; none configured = every CA) and
    return the full report, findings worst first. `errors` are run-level problems found
    before the scan (such as unreadable suppressions) that the report must carry."""
    now = datetime.now(UTC)
    suppressions = list(suppressions)
    ca_ids = list(ca_certificate_ids or config.ca_certificate_ids)
    failed_discovery = None
    if not ca_ids:
        ca_ids, failed_discovery = _discover(iot, config)
    scans = scan_cas(iot, ca_ids, config, now, stop_reason, on_page)
    if failed_discovery:
        scans.insert(0, failed_discovery)
    for scan in scans:
        scan.findings, scan.suppressed = apply_suppressions(scan.findings, suppressions, now)
    return build_report(
        scans,
        flagged=config.flagged_statuses,
        audit_id=audit_id or str(uuid.uuid4()),
        account_id=account_id,
        region=iot.meta.region_name,
        started_at=iso_utc(now),
        finished_at=iso_utc(datetime.now(UTC)),
        now=now,
        expired=expired_suppressions(suppressions, now),
        errors=list(errors),
    )
