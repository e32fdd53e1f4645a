"""The account scope (issue 13, AUDIT_SCOPE=account): every device certificate of the account and region.

ListCertificatesByCA lists only the certificates of registered CAs; certificates that AWS IoT made
itself (CreateKeysAndCertificate, fleet provisioning) or that were registered without a CA are
never listed by CA. ListCertificates lists them all, without their CA. Each certificate is put
under its CA as the inventory knows it (DescribeCertificate's caCertificateId, cached), else under
NO_REGISTERED_CA: AWS-issued, registered without a CA, or not described yet (it moves to its CA
once the inventory has described it, and its findings then get that CA's findingIds).

The registered CAs (the configured ones, or every one discovered) are still described for the CA
checks, with the ACTIVE count of the certificates attributed to them.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import defaultdict
from datetime import datetime

from cert_audit.aws import Iot, PageGuard, _items, _next_marker, error_of
from cert_audit.calls import Stopped
from cert_audit.config import AuditConfig
from cert_audit.findings import ca_findings
from cert_audit.scan import CaScan, OnPage, _classify, _usable

NO_REGISTERED_CA = "NO_REGISTERED_CA"
LISTING = "ListCertificates"


def scan_account(
    iot: Iot, ca_ids: list[str], config: AuditConfig, now: datetime, inventory, on_page: OnPage | None = None
) -> list[CaScan]:
    """One CaScan per CA the certificates belong to (the registered ones first, in order), and
    NO_REGISTERED_CA; a listing that fails is the error of a pseudo-CA '*' (what was listed is kept)."""
    iot = dataclasses.replace(iot, deadline=dataclasses.replace(iot.deadline, interrupted=threading.Event()))
    started = time.monotonic()
    scans: dict[str, CaScan] = {ca_id: CaScan(ca_id) for ca_id in ca_ids}
    listing = CaScan("*")  # the listing's own pages, retries and throttles
    guard = PageGuard(LISTING)
    request: dict = {"pageSize": config.page_size}
    try:
        while True:
            response = iot._call("list_certificates", listing, **request)
            certificates, marker = _items(response, LISTING), _next_marker(response)
            guard.admit(certificates, "certificateId")
            listing.pages += 1
            by_ca: dict[str, list] = defaultdict(list)
            for certificate in certificates:
                by_ca[inventory.ca_of(certificate) or NO_REGISTERED_CA].append(certificate)
            for ca_id, share in by_ca.items():
                scan = scans.setdefault(ca_id, CaScan(ca_id))
                scan.pages += 1
                scan.certificates_scanned += len(share)
                _classify(scan, _usable(scan, share), config, now)
                inventory.observe(ca_id, share, iot.deadline.interrupted)
                if on_page:
                    on_page(scan)
            if not marker:
                break
            guard.follow(marker)
            request["marker"] = marker
    except KeyboardInterrupt:
        iot.deadline.interrupted.set()
        listing.error = {"code": "ScanIncomplete", "message": f"{LISTING} interrupted after {listing.pages} pages"}
    except Exception as error:  # noqa: BLE001 - what was listed is still reported
        listing.error = (
            {"code": "ScanIncomplete", "message": str(error)} if isinstance(error, Stopped) else error_of(error)
        )
        listing.error["message"] = f"{LISTING} stopped after {listing.pages} pages: {listing.error['message']}"
    _check_cas(iot, scans, config, now)
    duration = round((time.monotonic() - started) * 1000)
    result = list(scans.values())
    for scan in result:
        scan.duration_ms = duration
    if listing.error:
        result.insert(0, listing)
    else:
        for scan in result[:1]:  # the listing's calls are counted once, on the first CA
            scan.retries += listing.retries
            scan.throttles += listing.throttles
    return result


def _check_cas(iot: Iot, scans: dict[str, CaScan], config: AuditConfig, now: datetime) -> None:
    """Describe each registered CA once and apply the CA checks to what was attributed to it."""
    for ca_id, scan in scans.items():
        if ca_id == NO_REGISTERED_CA:
            continue
        try:
            scan.ca = iot.describe_ca(ca_id, scan)
        except Exception as error:  # noqa: BLE001 - this CA's checks only
            scan.error = error_of(error)
            scan.error["message"] = f"DescribeCACertificate: {scan.error['message']}"
            continue
        scan.findings += ca_findings(scan.ca, scan.by_status["ACTIVE"], now, config.ca_expiry_warning_days)
