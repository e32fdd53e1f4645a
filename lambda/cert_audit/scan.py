"""Scanning: describe each CA, page through its device certificates, count statuses, keep only findings.

CAs are scanned concurrently (bounded), each CA's pages in order. A CA that fails is
reported with its error code and message; it never stops the other CAs.

A CA's scan can also go on where an earlier invocation stopped (continuation.py): `resume`
hands over its counts so far and the nextMarker of the page it did not read. Markers are
opaque and how long they stay valid is not documented, so a resumed CA whose marker IoT
refuses starts again from its first page with its counts reset (`restarts` counts it).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime

from cert_audit.aws import Iot, PageGuard, certificate_problem, error_of
from cert_audit.calls import Stopped, error_code
from cert_audit.config import AuditConfig
from cert_audit.findings import age_cutoff, age_finding, ca_findings, finding_for, iso_utc
from cert_audit.observability import tracer

# Called after every page with the CA's progress so far.
OnPage = Callable[["CaScan"], None]


@dataclass
class CaScan:
    """What one CA's scan found: its description, counts by status, findings, and its error if it failed."""

    ca_certificate_id: str
    ca: dict | None = None  # DescribeCACertificate's certificateDescription
    certificates_scanned: int = 0  # every certificate listed, the malformed ones included
    by_status: Counter = field(default_factory=Counter)
    findings: list[dict] = field(default_factory=list)
    suppressed: list[dict] = field(default_factory=list)  # findings a suppression accepts
    error: dict | None = None
    pages: int = 0
    retries: int = 0
    throttles: int = 0
    malformed: int = 0  # certificates with a missing or unparseable field
    malformed_example: dict | None = None
    duration_ms: int = 0
    # Continuation (issue 12): whether the deadline stopped the listing, the marker of the first
    # page not read (None: the first page), and how often a refused marker restarted the CA.
    stopped: bool = False
    next_marker: str | None = None
    restarts: int = 0

    def restart(self) -> None:
        """Forget what the earlier pages counted, for a listing that starts again from page one
        (the calls' retries and throttles stay: they were made)."""
        self.certificates_scanned = self.pages = self.malformed = 0
        self.by_status = Counter()
        self.findings, self.suppressed = [], []
        self.malformed_example = None
        self.restarts += 1


# What IoT answers for a marker it does not accept (an unknown or, presumably, an expired one).
REFUSED_MARKER = "InvalidRequestException"


def _usable(scan: CaScan, certificates: list) -> list[dict]:
    """The page's certificates that can be classified. A malformed one is counted (with the
    first as an example); one without an ID or status is left out, one without a usable
    creationDate is still classified by its status, with no date."""
    usable = []
    for certificate in certificates:
        problem = certificate_problem(certificate)
        if problem is None:
            usable.append(certificate)
            continue
        scan.malformed += 1
        if scan.malformed_example is None:
            scan.malformed_example = {"certificate": _as_received(certificate), "problem": problem}
        if problem.startswith("creationDate"):
            usable.append({**certificate, "creationDate": None})
    return usable


def _as_received(certificate: object) -> object:
    if not isinstance(certificate, dict):
        return repr(certificate)[:200]
    return {key: iso_utc(value) if isinstance(value, datetime) else value for key, value in certificate.items()}


def _classify(scan: CaScan, certificates: list[dict], config: AuditConfig, now: datetime) -> None:
    flagged = config.flagged_statuses
    # Counted per page in C (Counter), findings built only when the page has something to find.
    page_counts = Counter(c["status"] for c in certificates)
    scan.by_status.update(page_counts)
    if not flagged.isdisjoint(page_counts):
        for certificate in certificates:
            finding = finding_for(certificate, scan.ca_certificate_id, flagged)
            if finding:
                scan.findings.append(finding)
    too_old = age_cutoff(now, config.max_certificate_age_days)
    if too_old and "ACTIVE" in page_counts:
        scan.findings.extend(
            age_finding(c, scan.ca_certificate_id, now, config.max_certificate_age_days)
            for c in certificates
            if c["status"] == "ACTIVE" and c["creationDate"] and c["creationDate"] <= too_old
        )


def _read_pages(
    iot: Iot, scan: CaScan, config: AuditConfig, now: datetime, on_page: OnPage | None, marker: str | None = None
) -> None:
    guard = PageGuard("ListCertificatesByCA")
    while True:
        scan.next_marker = marker  # where a stopped scan goes on
        certificates, marker = iot.certificate_page(scan.ca_certificate_id, config.page_size, marker, scan)
        guard.admit(certificates, "certificateId")
        scan.pages += 1
        scan.certificates_scanned += len(certificates)
        _classify(scan, _usable(scan, certificates), config, now)
        if on_page:
            on_page(scan)
        if not marker:
            return
        guard.follow(marker)


def _read_from(
    iot: Iot, scan: CaScan, config: AuditConfig, now: datetime, on_page: OnPage | None, marker: str | None
) -> None:
    """Read the pages from `marker` on; a refused resumed marker restarts the CA from page one."""
    if marker:
        pages = scan.pages
        try:
            return _read_pages(iot, scan, config, now, on_page, marker)
        except Exception as error:
            if scan.pages != pages or error_code(error) != REFUSED_MARKER:
                raise
        scan.restart()
    _read_pages(iot, scan, config, now, on_page)


def _failure(scan: CaScan, error: Exception) -> dict:
    if isinstance(error, Stopped):
        return {"code": "ScanIncomplete", "message": f"Stopped after {scan.certificates_scanned} certificates: {error}"}
    return error_of(error)


def scan_ca(
    iot: Iot,
    ca_certificate_id: str,
    config: AuditConfig,
    now: datetime,
    on_page: OnPage | None = None,
    resume: CaScan | None = None,
) -> CaScan:
    """Describe the CA, read its pages (from `resume`'s nextMarker on, with its counts, when
    given), apply the CA checks. Whatever goes wrong becomes this CA's error; the describe's
    error is kept only if the listing itself went through."""
    scan = resume or CaScan(ca_certificate_id)
    scan.stopped, scan.error = False, None
    started = time.monotonic()
    with tracer.provider.in_subsegment(f"## scan CA {ca_certificate_id[:12]}") as subsegment:
        subsegment.put_annotation("caCertificateId", ca_certificate_id)
        describe_error = None
        try:
            scan.ca = iot.describe_ca(ca_certificate_id, scan)
        except Exception as error:  # noqa: BLE001 - the status audit still runs without the CA checks
            describe_error = _failure(scan, error)
            describe_error["message"] = f"DescribeCACertificate: {describe_error['message']}"
        try:
            _read_from(iot, scan, config, now, on_page, scan.next_marker)
            if scan.ca:
                scan.findings += ca_findings(scan.ca, scan.by_status["ACTIVE"], now, config.ca_expiry_warning_days)
        except Exception as error:  # noqa: BLE001 - any failure of one CA must not hide the others
            scan.error = _failure(scan, error)
            scan.stopped = isinstance(error, Stopped)
        scan.error = scan.error or describe_error
        scan.duration_ms += round((time.monotonic() - started) * 1000)
        subsegment.put_metadata("result", {"certificatesScanned": scan.certificates_scanned, "error": scan.error})
    return scan


def scan_cas(
    iot: Iot,
    ca_certificate_ids: tuple[str, ...] | list[str],
    config: AuditConfig,
    now: datetime,
    on_page: OnPage | None = None,
    resume: dict[str, CaScan] | None = None,
) -> list[CaScan]:
    """Scan the CAs, at most `config.scan_concurrency` at a time; results in the order given.
    `resume` holds the CAs an earlier invocation stopped in, by ID (see scan_ca).

    A CA still queued when the deadline passes makes no call: it is reported ScanIncomplete.
    Ctrl-C (KeyboardInterrupt) lets every running CA finish its current call, then returns
    what was scanned so far, the unfinished CAs marked ScanIncomplete.
    """
    if not ca_certificate_ids:
        return []
    iot = dataclasses.replace(iot, deadline=dataclasses.replace(iot.deadline, interrupted=threading.Event()))
    with ThreadPoolExecutor(max_workers=min(config.scan_concurrency, len(ca_certificate_ids))) as pool:
        futures = [
            pool.submit(scan_ca, iot, ca_id, config, now, on_page, (resume or {}).get(ca_id))
            for ca_id in ca_certificate_ids
        ]
        try:
            wait(futures)
        except KeyboardInterrupt:
            iot.deadline.interrupted.set()
            wait(futures)
    return [future.result() for future in futures]
