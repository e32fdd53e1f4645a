"""A CA's scan that the deadline stopped, and its continuation in the next invocation (issue 9,
mutation run, of issue 12's resume): where it stopped, what it carries over, and a marker IoT
refuses on resumption.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from cert_audit.aws import Iot
from cert_audit.calls import Deadline
from cert_audit.scan import CaScan, scan_ca, scan_cas
from tests.unit.test_pins_scan import CA, NOW, FakeIot, cert, config, denied, run

REFUSED = ClientError({"Error": {"Code": "InvalidRequestException", "Message": "bad marker"}}, "ListCertificatesByCA")


def stopped_after_first_page() -> tuple[CaScan, FakeIot]:
    """A CA of three pages (a REVOKED certificate on the first) whose deadline passes once the first is read."""
    passed = threading.Event()
    deadline = Deadline(seconds_left=lambda: 0 if passed.is_set() else 100, reason="time is up")
    client = FakeIot([[cert(1), cert(2, "REVOKED")], [cert(3)], [cert(4)]], after_page=lambda i: passed.set())
    return run(client, deadline=deadline), client


def test_a_ca_stopped_by_the_deadline_says_where_to_go_on():
    # When the deadline stops a CA after its first page
    scan, client = stopped_after_first_page()

    # Then it is stopped, ScanIncomplete, with the first page counted and the marker of the next
    assert scan.stopped is True
    assert scan.error["code"] == "ScanIncomplete"
    assert (scan.pages, scan.certificates_scanned, scan.next_marker) == (1, 2, "m1")
    assert len(client.requests) == 1


def test_a_ca_that_fails_otherwise_is_not_stopped_for_a_continuation():
    # Given a CA whose second page is refused
    scan = run(FakeIot([[cert(1)], denied("ListCertificatesByCA")]))

    # Then it failed, and is not a scan to go on with
    assert scan.error["code"] == "AccessDeniedException"
    assert scan.stopped is False


def test_a_resumed_ca_goes_on_from_its_marker_with_its_counts():
    # Given a CA stopped after its first page 1.5 s into its scan
    earlier, _ = stopped_after_first_page()
    earlier.duration_ms = 1500
    client = FakeIot([[cert(3)], [cert(4, "REVOKED")]], markers=["m2", None])

    # When the next invocation resumes it
    scan = run(client, resume=earlier)

    # Then it asks for the page at its marker, adds the rest to what it had, and ends without error
    assert client.requests[0]["marker"] == "m1"
    assert (scan.pages, scan.certificates_scanned, dict(scan.by_status)) == (3, 4, {"ACTIVE": 2, "REVOKED": 2})
    assert [f["certificateId"] for f in scan.findings] == [f"{2:064x}", f"{4:064x}"]
    assert (scan.error, scan.stopped, scan.restarts) == (None, False, 0)
    assert scan.duration_ms >= 1500  # the time of both invocations


def test_a_resumed_marker_that_iot_refuses_restarts_the_ca_from_page_one():
    # Given a CA stopped after its first page, whose marker IoT no longer accepts, and whose
    # calls had 1 retry and 1 throttle before
    earlier, _ = stopped_after_first_page()
    earlier.retries, earlier.throttles = 1, 1
    client = FakeIot([REFUSED, [cert(1), cert(2, "REVOKED")], [cert(3)], [cert(4)]], markers=[None, "m1", "m2", None])

    # When the next invocation resumes it
    scan = run(client, resume=earlier)

    # Then it starts again from page one, its earlier counts forgotten (nothing counted twice), and says so
    assert [r.get("marker") for r in client.requests] == ["m1", None, "m1", "m2"]
    assert (scan.pages, scan.certificates_scanned, dict(scan.by_status)) == (3, 4, {"ACTIVE": 3, "REVOKED": 1})
    assert [f["certificateId"] for f in scan.findings] == [f"{2:064x}"]
    assert (scan.restarts, scan.error) == (1, None)
    # And the calls made before stay counted
    assert (scan.retries, scan.throttles) == (1, 1)


def test_a_restart_forgets_the_malformed_certificates_counted_before():
    # Given a CA stopped after a first page with a malformed certificate, whose marker is then refused
    earlier = CaScan(CA, pages=1, certificates_scanned=1, malformed=1, next_marker="m1", stopped=True)
    earlier.malformed_example = {"certificate": "x", "problem": "not an object"}
    earlier.suppressed = [{"certificateId": "x"}]
    client = FakeIot([REFUSED, [cert(1)]], markers=[None, None])

    # When it is resumed and restarted
    scan = run(client, resume=earlier)

    # Then nothing of the earlier pages is left
    assert (scan.malformed, scan.malformed_example, scan.suppressed) == (0, None, [])
    assert (scan.pages, scan.certificates_scanned) == (1, 1)


def test_a_refused_marker_after_the_resumed_pages_is_the_cas_error():
    # Given a resumed CA whose marker is accepted, but whose next marker is then refused
    earlier, _ = stopped_after_first_page()
    client = FakeIot([[cert(3)], REFUSED], markers=["m2", None])

    # When it is resumed
    scan = run(client, resume=earlier)

    # Then it does not start again (what it read is kept): the refusal is its error
    assert scan.error == {"code": "InvalidRequestException", "message": "bad marker"}
    assert (scan.restarts, scan.pages, scan.certificates_scanned) == (0, 2, 3)


def test_another_error_on_the_resumed_marker_is_the_cas_error():
    # Given a resumed CA whose marker is answered with AccessDenied
    earlier, _ = stopped_after_first_page()
    client = FakeIot([denied("ListCertificatesByCA"), [cert(1)]])

    # When it is resumed, Then it is not restarted: the denial is its error
    scan = run(client, resume=earlier)
    assert scan.error["code"] == "AccessDeniedException"
    assert (scan.restarts, len(client.requests)) == (0, 1)


def test_scan_cas_resumes_each_ca_by_its_id():
    # Given two CAs, the second stopped in an earlier invocation after a page of 2 certificates
    b = "b" * 64
    earlier = CaScan(b, pages=1, certificates_scanned=2, next_marker="m1", stopped=True)
    asked = []

    class Listing(FakeIot):
        def list_certificates_by_ca(self, **request):
            asked.append((request["caCertificateId"], request.get("marker")))
            return {"certificates": [cert(len(asked))]}

    # When both are scanned with the earlier state
    scans = scan_cas(Iot(Listing([[]])), [CA, b], config(scan_concurrency=1), NOW, resume={b: earlier})

    # Then the first starts from page one and the second goes on from its marker, with its counts
    assert sorted(asked) == [(CA, None), (b, "m1")]
    assert [(s.ca_certificate_id, s.pages, s.certificates_scanned) for s in scans] == [(CA, 1, 1), (b, 2, 3)]


def test_a_resumed_scan_is_described_and_checked_again():
    # Given a CA stopped after its first page, now described as INACTIVE
    earlier, _ = stopped_after_first_page()
    client = FakeIot([[cert(3)], [cert(4)]], ca={**FakeIot([]).ca, "status": "INACTIVE"}, markers=["m2", None])

    # When it is resumed, Then the CA check sees every ACTIVE certificate of both invocations
    scan = scan_ca(Iot(client), CA, config(), NOW, resume=earlier)
    [ca_finding] = [f for f in scan.findings if f["type"] != "CERTIFICATE_STATUS"]
    assert ca_finding["activeDeviceCertificates"] == 3


def test_a_resumed_ca_is_checked_for_age_and_reports_its_progress_as_before():
    # Given a CA stopped after its first page, whose next page has an ACTIVE certificate from 2000
    earlier, _ = stopped_after_first_page()
    client = FakeIot([[cert(3, created=datetime(2000, 1, 1, tzinfo=UTC))]], markers=[None])
    seen = []

    # When it is resumed with a one-year age limit and a progress callback
    scan = run(
        client,
        config(max_certificate_age_days=365),
        resume=earlier,
        on_page=lambda s: seen.append((s.pages, s.certificates_scanned)),
    )

    # Then the old certificate of the resumed page is a finding, and the callback saw that page
    assert [(f["type"], f["certificateId"]) for f in scan.findings if f["type"] != "CERTIFICATE_STATUS"] == [
        ("DEVICE_CERTIFICATE_AGE", f"{3:064x}")
    ]
    assert seen == [(2, 3)]


def test_each_restart_of_a_ca_is_counted():
    # Given a CA already restarted once in an earlier invocation, stopped again, whose marker is refused again
    earlier = CaScan(CA, pages=1, certificates_scanned=1, next_marker="m1", stopped=True, restarts=1)
    client = FakeIot([REFUSED, [cert(1)]], markers=[None, None])

    # When it is resumed, Then it has been restarted twice
    assert run(client, resume=earlier).restarts == 2
