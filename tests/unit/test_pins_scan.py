"""How one CA is scanned, page by page, as the report reads it (issue 9, mutation run): counts,
findings, malformed certificates, paging, the deadline, the CA's own checks and its errors.

The IoT client is a stand-in that answers from a list of pages, as botocore would have parsed
them (creationDate a datetime); everything between it and the CaScan is the engine's own code.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from cert_audit import calls
from cert_audit.aws import Iot
from cert_audit.calls import Deadline
from cert_audit.config import AuditConfig
from cert_audit.scan import CaScan, scan_ca, scan_cas

CA = "a" * 64
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
CREATED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def cert(n: int, status: str = "ACTIVE", created: object = CREATED) -> dict:
    return {"certificateId": f"{n:064x}", "certificateArn": f"arn:cert/{n}", "status": status, "creationDate": created}


def config(**changes) -> AuditConfig:
    return AuditConfig(
        **{"ca_certificate_ids": (), "alert_topic_arn": None, "flagged_statuses": frozenset({"REVOKED"}), **changes}
    )


def active_ca(**changes) -> dict:
    return {"certificateId": CA, "status": "ACTIVE", "validity": {"notAfter": NOW + timedelta(days=400)}, **changes}


def denied(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, operation)


class FakeIot:
    """Answers DescribeCACertificate with `ca` (or raises it) and ListCertificatesByCA with
    `pages` in order, each with nextMarker "m<i>" except the last (or a given marker list)."""

    def __init__(self, pages, ca=None, markers=None, after_page=None):
        self.pages = pages
        self.ca = ca if ca is not None else active_ca()
        self.markers = markers or [f"m{i + 1}" for i in range(len(pages) - 1)] + [None]
        self.after_page = after_page or (lambda i: None)
        self.requests: list[dict] = []

    def describe_ca_certificate(self, certificateId):
        if isinstance(self.ca, Exception):
            raise self.ca
        return {"certificateDescription": self.ca}

    def list_certificates_by_ca(self, **request):
        self.requests.append(request)
        i = len(self.requests) - 1
        if isinstance(self.pages[i], Exception):
            raise self.pages[i]
        self.after_page(i)
        answer = {"certificates": self.pages[i]}
        if self.markers[i]:
            answer["nextMarker"] = self.markers[i]
        return answer


def run(client: FakeIot, cfg: AuditConfig | None = None, deadline: Deadline | None = None, **kw) -> CaScan:
    iot = Iot(client) if deadline is None else Iot(client, deadline=deadline)
    return scan_ca(iot, CA, cfg or config(), NOW, **kw)


def test_every_page_is_read_in_order_and_counted_by_status():
    # Given a CA with two pages: 2 ACTIVE and 1 REVOKED, then 1 ACTIVE and 1 INACTIVE
    client = FakeIot([[cert(1), cert(2), cert(3, "REVOKED")], [cert(4), cert(5, "INACTIVE")]])

    # When it is scanned with pages of 50
    scan = run(client, config(page_size=50))

    # Then the first page is asked for without a marker, the second with the first's nextMarker
    assert client.requests == [
        {"caCertificateId": CA, "pageSize": 50},
        {"caCertificateId": CA, "pageSize": 50, "marker": "m1"},
    ]
    # And every certificate is counted by status, with the pages, and only the REVOKED one is a finding
    assert dict(scan.by_status) == {"ACTIVE": 3, "REVOKED": 1, "INACTIVE": 1}
    assert (scan.pages, scan.certificates_scanned) == (2, 5)
    assert [(f["type"], f["caCertificateId"], f["certificateId"]) for f in scan.findings] == [
        ("CERTIFICATE_STATUS", CA, f"{3:064x}")
    ]
    assert scan.error is None


def test_the_progress_callback_sees_each_page_as_it_is_counted():
    # Given a CA with two pages
    client = FakeIot([[cert(1), cert(2, "REVOKED")], [cert(3)]])
    seen = []

    # When it is scanned with a progress callback
    run(client, on_page=lambda s: seen.append((s.pages, s.certificates_scanned, len(s.findings))))

    # Then the callback is called after each page with the counts so far
    assert seen == [(1, 2, 1), (2, 3, 1)]


def test_a_malformed_certificate_is_counted_with_the_first_as_the_example():
    # Given a page with a certificate without an ID, one whose creationDate is a string,
    # one that is not an object, and a well-formed REVOKED one
    no_id = {"status": "REVOKED", "creationDate": CREATED, "certificateArn": "arn:x"}
    bad_date = cert(2, "REVOKED", created="yesterday")
    client = FakeIot([[no_id, bad_date, "x" * 300, cert(4, "REVOKED")]])

    # When the CA is scanned
    scan = run(client)

    # Then all three malformed ones are counted and the first is the example, its date as ISO text
    assert scan.malformed == 3
    assert scan.certificates_scanned == 4
    assert scan.malformed_example == {
        "certificate": {"status": "REVOKED", "creationDate": "2024-05-01T12:00:00Z", "certificateArn": "arn:x"},
        "problem": "certificateId missing or not a string",
    }
    # And the one without an ID is left out, the one with a bad date is still a finding, with no date
    assert dict(scan.by_status) == {"REVOKED": 2}
    assert [(f["certificateId"], f["creationDate"]) for f in scan.findings] == [
        (f"{2:064x}", None),
        (f"{4:064x}", "2024-05-01T12:00:00Z"),
    ]


def test_a_certificate_that_is_not_an_object_is_shown_as_its_first_200_characters():
    # Given a page whose only item is a long string, then a later malformed certificate
    client = FakeIot([["x" * 300, {"certificateId": "c"}]])

    # When the CA is scanned
    scan = run(client)

    # Then the example is the string's repr, cut at 200 characters
    assert scan.malformed_example == {"certificate": "'" + "x" * 199, "problem": "not an object"}
    assert scan.malformed == 2


def test_old_active_certificates_are_findings_from_the_age_limit_on():
    # Given certificates created exactly 365 days ago, a second later, long ago but REVOKED,
    # and ACTIVE with no usable creationDate
    limit = NOW - timedelta(days=365)
    client = FakeIot(
        [
            [
                cert(1, created=limit),
                cert(2, created=limit + timedelta(seconds=1)),
                cert(3, "INACTIVE", created=limit - timedelta(days=9)),
                cert(4, created="?"),
            ]
        ]
    )

    # When the CA is scanned with a 365-day limit
    scan = run(client, config(max_certificate_age_days=365, flagged_statuses=frozenset()))

    # Then only the ACTIVE certificate exactly at the limit is a finding
    assert [(f["type"], f["certificateId"], f["ageDays"]) for f in scan.findings] == [
        ("DEVICE_CERTIFICATE_AGE", f"{1:064x}", 365)
    ]


def test_without_an_age_limit_no_certificate_is_too_old():
    # Given an ACTIVE certificate from 2000
    client = FakeIot([[cert(1, created=datetime(2000, 1, 1, tzinfo=UTC))]])

    # When the CA is scanned with the age check off
    scan = run(client, config(flagged_statuses=frozenset()))

    # Then there is no finding
    assert scan.findings == []


def test_a_ca_that_is_not_active_is_a_finding_with_its_active_certificates():
    # Given an INACTIVE CA with 2 ACTIVE device certificates over two pages and one REVOKED
    client = FakeIot([[cert(1), cert(2, "REVOKED")], [cert(3)]], ca=active_ca(status="INACTIVE"))

    # When it is scanned
    scan = run(client)

    # Then the CA finding counts the ACTIVE ones and comes after the certificate findings
    assert [f["type"] for f in scan.findings] == ["CERTIFICATE_STATUS", "CA_NOT_ACTIVE_WITH_ACTIVE_DEVICE_CERTIFICATES"]
    assert scan.findings[1]["activeDeviceCertificates"] == 2


def test_a_ca_expiring_within_the_warning_is_a_finding():
    # Given an ACTIVE CA that expires in 30 days
    client = FakeIot([[cert(1)]], ca=active_ca(validity={"notAfter": NOW + timedelta(days=30)}))

    # When it is scanned with a 45-day warning
    scan = run(client, config(ca_expiry_warning_days=45))

    # Then it is a CA_CERTIFICATE_EXPIRING finding
    assert [(f["type"], f["daysToExpiry"]) for f in scan.findings] == [("CA_CERTIFICATE_EXPIRING", 30)]


def test_a_ca_that_cannot_be_described_is_still_audited_and_reports_why():
    # Given a CA whose DescribeCACertificate is denied but whose listing works
    client = FakeIot([[cert(1, "REVOKED")]], ca=denied("DescribeCACertificate"))

    # When it is scanned
    scan = run(client)

    # Then the certificates are audited and the error names the describe call
    assert scan.ca is None
    assert len(scan.findings) == 1
    assert scan.error == {"code": "AccessDeniedException", "message": "DescribeCACertificate: no"}


def test_a_listing_that_fails_is_the_error_even_when_the_describe_failed_too():
    # Given a CA whose describe and second page are both denied
    client = FakeIot(
        [[cert(1, "REVOKED")], ClientError({"Error": {"Code": "Throttled?", "Message": "page"}}, "List")],
        ca=denied("DescribeCACertificate"),
    )

    # When it is scanned
    scan = run(client)

    # Then the listing's error is reported, and the first page's finding is kept
    assert scan.error == {"code": "Throttled?", "message": "page"}
    assert len(scan.findings) == 1


def test_a_listing_that_fails_keeps_no_ca_findings():
    # Given an INACTIVE CA with an ACTIVE certificate on page 1 and a denied page 2
    client = FakeIot([[cert(1)], denied("List")], ca=active_ca(status="INACTIVE"))

    # When it is scanned
    scan = run(client)

    # Then the CA check, which needs every certificate counted, is not made
    assert scan.findings == []
    assert scan.error["code"] == "AccessDeniedException"


def test_a_nextmarker_seen_twice_ends_the_scan_as_a_paging_loop():
    # Given a listing whose second page repeats the first page's nextMarker
    client = FakeIot([[cert(1)], [cert(2)], [cert(3)]], markers=["m", "m", None])

    # When it is scanned
    scan = run(client)

    # Then it stops after the second page with a PagingLoop error that names the call
    assert scan.error == {
        "code": "PagingLoop",
        "message": "ListCertificatesByCA returned nextMarker 'm' a second time",
    }
    assert (scan.pages, len(client.requests)) == (2, 2)


def test_a_page_returned_twice_ends_the_scan_before_it_is_counted_twice():
    # Given a listing whose second page (under a new marker) is the first page again
    page = [cert(1, "REVOKED"), cert(2)]
    client = FakeIot([page, list(page), [cert(3)]])

    # When it is scanned
    scan = run(client)

    # Then the repeated page is not counted and the error names the call and the first certificate
    assert scan.error == {
        "code": "PagingLoop",
        "message": f"ListCertificatesByCA returned a page it had returned before (from certificateId {1:064x})",
    }
    assert (scan.certificates_scanned, len(scan.findings)) == (2, 1)


def test_throttled_calls_are_retried_and_counted_for_the_ca(monkeypatch):
    # Given a CA whose describe and first page are each throttled once (the retry waits take no time)
    monkeypatch.setattr(calls, "sleep", lambda seconds, interrupted: None)
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "x")
    answers = {"describe": [throttled], "list": [throttled]}

    class Throttling(FakeIot):
        def describe_ca_certificate(self, certificateId):
            if answers["describe"]:
                raise answers["describe"].pop()
            return super().describe_ca_certificate(certificateId)

        def list_certificates_by_ca(self, **request):
            if answers["list"]:
                raise answers["list"].pop()
            return super().list_certificates_by_ca(**request)

    # When it is scanned
    scan = run(Throttling([[cert(1)]]))

    # Then both throttles and both retries are counted for the CA, and the scan succeeded
    assert (scan.throttles, scan.retries, scan.error) == (2, 2, None)
    assert scan.ca["certificateId"] == CA


def test_the_deadline_during_the_listing_reports_how_far_the_scan_got():
    # Given a deadline that passes once the first page of 2 certificates is read
    passed = threading.Event()
    deadline = Deadline(seconds_left=lambda: 0 if passed.is_set() else 100, reason="time is up")
    client = FakeIot([[cert(1), cert(2)], [cert(3)]], after_page=lambda i: passed.set())

    # When the CA is scanned
    scan = run(client, deadline=deadline)

    # Then it is ScanIncomplete, saying how many certificates were read and why it stopped
    assert scan.error == {"code": "ScanIncomplete", "message": "Stopped after 2 certificates: time is up"}


def test_the_deadline_before_the_describe_is_reported_for_it():
    # Given a deadline already passed
    deadline = Deadline(seconds_left=lambda: 0, reason="late")

    # When a CA is scanned
    scan = run(FakeIot([[cert(1)]]), deadline=deadline)

    # Then no call is made and the listing's ScanIncomplete is the error
    assert scan.error == {"code": "ScanIncomplete", "message": "Stopped after 0 certificates: late"}


def test_the_scan_duration_is_measured_in_milliseconds(monkeypatch):
    # Given a clock that advances 1.5 s while the CA's one page is read
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    client = FakeIot([[cert(1)]], after_page=lambda i: clock.__setitem__(0, clock[0] + 1.5))

    # When the CA is scanned
    scan = run(client)

    # Then its duration is 1500 ms
    assert scan.duration_ms == 1500


def test_cas_are_scanned_at_most_the_concurrency_at_a_time_and_returned_in_order():
    # Given three CAs whose listing takes a moment, and a concurrency of 2
    busy, most = [0], [0]
    lock = threading.Lock()

    class Slow(FakeIot):
        def list_certificates_by_ca(self, **request):
            with lock:
                busy[0] += 1
                most[0] = max(most[0], busy[0])
            time.sleep(0.2)
            with lock:
                busy[0] -= 1
            return {"certificates": [cert(int(request["caCertificateId"][0], 16))]}

    ids = ["c" * 64, "a" * 64, "b" * 64]

    # When they are scanned, with a progress callback
    pages = []
    scans = scan_cas(Iot(Slow([[]])), ids, config(scan_concurrency=2), NOW, on_page=lambda s: pages.append(s.pages))

    # Then at most two ran at once, each reported its page, and the results are in the order given
    assert most[0] == 2
    assert pages == [1, 1, 1]
    assert [s.error for s in scans] == [None, None, None]
    assert [s.ca_certificate_id for s in scans] == ids
    assert [s.certificates_scanned for s in scans] == [1, 1, 1]


def test_no_cas_no_scans():
    # Given no CA IDs, When they are scanned, Then there is nothing, and nothing is called
    assert scan_cas(Iot(None), [], config(), NOW) == []
