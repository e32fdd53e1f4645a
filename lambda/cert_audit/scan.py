"""Scanning: page through each CA's device certificates, count statuses, keep only findings.

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

from botocore.exceptions import ClientError

from cert_audit.aws import certificate_page, error_of, retries_of
from cert_audit.findings import finding_for
from cert_audit.observability import logger, tracer

# Returns why the scan must stop now (a sentence), or None to go on.
StopReason = Callable[[], str | None]
# Called after every page with the CA's progress so far.
OnPage = Callable[["CaScan"], None]


@dataclass
class CaScan:
    """What one CA's scan found: counts by status, findings, and its error if it failed."""

    ca_certificate_id: str
    certificates_scanned: int = 0
    by_status: Counter = field(default_factory=Counter)
    findings: list[dict] = field(default_factory=list)
    error: dict | None = None
    pages: int = 0
    retries: int = 0
    duration_ms: int = 0


def never_stop() -> str | None:
    return None


def scan_ca(
    iot,
    ca_certificate_id: str,
    flagged: frozenset[str],
    page_size: int,
    stop_reason: StopReason = never_stop,
    on_page: OnPage | None = None,
) -> CaScan:
    scan = CaScan(ca_certificate_id)
    started = time.monotonic()
    marker = None
    with tracer.provider.in_subsegment(f"## scan CA {ca_certificate_id[:12]}") as subsegment:
        subsegment.put_annotation("caCertificateId", ca_certificate_id)
        try:
            while True:
                reason = stop_reason()
                if reason:
                    scan.error = {
                        "code": "ScanIncomplete",
                        "message": f"Stopped after {scan.certificates_scanned} certificates: {reason}",
                    }
                    break
                certificates, marker, retries = certificate_page(iot, ca_certificate_id, page_size, marker)
                scan.pages += 1
                scan.retries += retries
                scan.certificates_scanned += len(certificates)
                # Counted per page in C (Counter.update), findings built only for flagged statuses.
                page_counts = Counter(c.get("status") or "UNKNOWN" for c in certificates)
                scan.by_status.update(page_counts)
                if not flagged.isdisjoint(page_counts):
                    for certificate in certificates:
                        finding = finding_for(certificate, ca_certificate_id, flagged)
                        if finding:
                            scan.findings.append(finding)
                if on_page:
                    on_page(scan)
                if not marker:
                    break
        except Exception as error:  # noqa: BLE001 - any failure of one CA must not hide the others
            scan.error = error_of(error)
            if isinstance(error, ClientError):
                scan.retries += retries_of(error.response)
        scan.duration_ms = round((time.monotonic() - started) * 1000)
        subsegment.put_metadata("result", {"certificatesScanned": scan.certificates_scanned, "error": scan.error})
    logger.info(
        "CA scanned",
        extra={
            "caCertificateId": ca_certificate_id,
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
    flagged: frozenset[str],
    page_size: int,
    concurrency: int,
    stop_reason: StopReason = never_stop,
    on_page: OnPage | None = None,
) -> list[CaScan]:
    """Scan the CAs, at most `concurrency` at a time; results in the order the CAs were given.

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

    with ThreadPoolExecutor(max_workers=min(concurrency, len(ca_certificate_ids))) as pool:
        futures = [
            pool.submit(scan_ca, iot, ca_id, flagged, page_size, why_stop, on_page) for ca_id in ca_certificate_ids
        ]
        try:
            wait(futures)
        except KeyboardInterrupt:
            interrupted.set()
            wait(futures)
    return [future.result() for future in futures]
