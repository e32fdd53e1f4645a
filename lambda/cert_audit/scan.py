"""Scanning: describe each CA, page through its device certificates, count statuses, keep only findings.

CAs are scanned concurrently (bounded), each CA's pages in order. A CA that fails is
reported with its error code and message; it never stops the other CAs.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime

from botocore.exceptions import ClientError

from cert_audit.aws import certificate_page, describe_ca, error_of, retries_of
from cert_audit.config import AuditConfig
from cert_audit.findings import age_cutoff, age_finding, ca_findings, finding_for
from cert_audit.observability import logger, tracer

# Returns why the scan must stop now (a sentence), or None to go on.
StopReason = Callable[[], str | None]
# Called after every page with the CA's progress so far.
OnPage = Callable[["CaScan"], None]


@dataclass
class CaScan:
    """What one CA's scan found: its description, counts by status, findings, and its error if it failed."""

    ca_certificate_id: str
    ca: dict | None = None  # DescribeCACertificate's certificateDescription
    certificates_scanned: int = 0
    by_status: Counter = field(default_factory=Counter)
    findings: list[dict] = field(default_factory=list)
    suppressed: list[dict] = field(default_factory=list)  # findings a suppression accepts
    error: dict | None = None
    pages: int = 0
    retries: int = 0
    duration_ms: int = 0


def never_stop() -> str | None:
    return None


def _read_pages(iot, scan: CaScan, config: AuditConfig, now: datetime, stop_reason: StopReason, on_page) -> None:
    flagged = config.flagged_statuses
    too_old = age_cutoff(now, config.max_certificate_age_days)
    marker = None
    while True:
        reason = stop_reason()
        if reason:
            scan.error = {
                "code": "ScanIncomplete",
                "message": f"Stopped after {scan.certificates_scanned} certificates: {reason}",
            }
            return
        certificates, marker, retries = certificate_page(iot, scan.ca_certificate_id, config.page_size, marker)
        scan.pages += 1
        scan.retries += retries
        scan.certificates_scanned += len(certificates)
        # Counted per page in C (Counter), findings built only when the page has something to find.
        page_counts = Counter(c.get("status") or "UNKNOWN" for c in certificates)
        scan.by_status.update(page_counts)
        if not flagged.isdisjoint(page_counts):
            for certificate in certificates:
                finding = finding_for(certificate, scan.ca_certificate_id, flagged)
                if finding:
                    scan.findings.append(finding)
        if too_old and "ACTIVE" in page_counts:
            scan.findings.extend(
                age_finding(c, scan.ca_certificate_id, now, config.max_certificate_age_days)
                for c in certificates
                if c.get("status") == "ACTIVE" and c["creationDate"] <= too_old
            )
        if on_page:
            on_page(scan)
        if not marker:
            return


def scan_ca(
    iot,
    ca_certificate_id: str,
    config: AuditConfig,
    now: datetime,
    stop_reason: StopReason = never_stop,
    on_page: OnPage | None = None,
) -> CaScan:
    scan = CaScan(ca_certificate_id)
    started = time.monotonic()
    with tracer.provider.in_subsegment(f"## scan CA {ca_certificate_id[:12]}") as subsegment:
        subsegment.put_annotation("caCertificateId", ca_certificate_id)
        describe_error = None
        try:
            scan.ca = describe_ca(iot, ca_certificate_id)
        except Exception as error:  # noqa: BLE001 - the status audit still runs without the CA checks
            describe_error = error_of(error)
            describe_error["message"] = f"DescribeCACertificate: {describe_error['message']}"
        try:
            _read_pages(iot, scan, config, now, stop_reason, on_page)
        except Exception as error:  # noqa: BLE001 - any failure of one CA must not hide the others
            scan.error = error_of(error)
            if isinstance(error, ClientError):
                scan.retries += retries_of(error.response)
        if scan.ca:
            scan.findings += ca_findings(scan.ca, scan.by_status["ACTIVE"], now, config.ca_expiry_warning_days)
        scan.error = scan.error or describe_error
        scan.duration_ms = round((time.monotonic() - started) * 1000)
        subsegment.put_metadata("result", {"certificatesScanned": scan.certificates_scanned, "error": scan.error})
    logger.info(
        "CA scanned",
        extra={
            "caCertificateId": ca_certificate_id,
            "caStatus": (scan.ca or {}).get("status"),
            "certificatesScanned": scan.certificates_scanned,
            "byStatus": dict(scan.by_status),
            "findings": len(scan.findings),
            "pages": scan.pages,
            "retries": scan.retries,
            "durationMs": scan.duration_ms,
            "error": scan.error,
        },
    )
    return scan


def scan_cas(
    iot,
    ca_certificate_ids: tuple[str, ...] | list[str],
    config: AuditConfig,
    now: datetime,
    stop_reason: StopReason = never_stop,
    on_page: OnPage | None = None,
) -> list[CaScan]:
    """Scan the CAs, at most `config.scan_concurrency` at a time; results in the order given.

    Ctrl-C (KeyboardInterrupt) lets every running CA finish its current page, then returns
    what was scanned so far, the unfinished CAs marked ScanIncomplete.
    """
    if not ca_certificate_ids:
        return []
    interrupted = threading.Event()

    def why_stop() -> str | None:
        if interrupted.is_set():
            return "interrupted by the user"
        return stop_reason()

    with ThreadPoolExecutor(max_workers=min(config.scan_concurrency, len(ca_certificate_ids))) as pool:
        futures = [pool.submit(scan_ca, iot, ca_id, config, now, why_stop, on_page) for ca_id in ca_certificate_ids]
        try:
            wait(futures)
        except KeyboardInterrupt:
            interrupted.set()
            wait(futures)
    return [future.result() for future in futures]
