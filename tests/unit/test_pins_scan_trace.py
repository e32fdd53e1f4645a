"""What a CA's scan shows in X-Ray, and Ctrl-C during the scans (issue 9, mutation run).

X-Ray: an operator finds one CA's scan by its subsegment name or by the annotation
`caCertificateId` (annotations are what X-Ray's filter expressions search), and reads its outcome
in the subsegment's metadata. Outside Lambda the tracer does nothing, so these tests put a
stand-in tracer in its place that records the calls Powertools' provider would receive.

Ctrl-C: the scans running finish their current call, stop, and come back ScanIncomplete; the
caller's client is not left interrupted for what it does next.
"""

from __future__ import annotations

import contextlib
import threading

import pytest

from cert_audit import scan
from cert_audit.aws import Iot
from cert_audit.calls import Deadline
from cert_audit.scan import scan_cas
from tests.unit.test_pins_scan import CA, NOW, FakeIot, cert, config, denied, run

HUNG_S = 10  # a stand-in call never waits longer than this for the test's signal


class Subsegment:
    def __init__(self, name):
        self.name = name
        self.annotations: dict = {}
        self.metadata: dict = {}
        self.open = True

    def put_annotation(self, key, value):
        assert self.open, "annotated after the subsegment closed"
        self.annotations[key] = value

    def put_metadata(self, key, value, namespace="default"):
        assert self.open, "metadata put after the subsegment closed"
        self.metadata[(namespace, key)] = value


class Tracer:
    """Records each subsegment opened through `tracer.provider.in_subsegment`."""

    def __init__(self):
        self.subsegments: list[Subsegment] = []
        self.provider = self

    @contextlib.contextmanager
    def in_subsegment(self, name=None, **_):
        subsegment = Subsegment(name)
        self.subsegments.append(subsegment)
        try:
            yield subsegment
        finally:
            subsegment.open = False


@pytest.fixture
def tracer(monkeypatch) -> Tracer:
    recorder = Tracer()
    monkeypatch.setattr(scan, "tracer", recorder)
    return recorder


def test_a_ca_scan_is_one_subsegment_named_and_annotated_with_the_ca(tracer):
    # Given a CA with 3 certificates over two pages
    client = FakeIot([[cert(1), cert(2)], [cert(3, "REVOKED")]])

    # When it is scanned with tracing on
    run(client)

    # Then X-Ray shows one subsegment named after the CA's first 12 characters, searchable by the
    # CA's full ID, with the number of certificates read and no error
    [subsegment] = tracer.subsegments
    assert subsegment.name == "## scan CA aaaaaaaaaaaa"
    assert subsegment.annotations == {"caCertificateId": CA}
    assert subsegment.metadata == {("default", "result"): {"certificatesScanned": 3, "error": None}}


def test_a_failed_ca_scan_shows_its_error_in_the_trace(tracer):
    # Given a CA whose listing is refused after one page of 2 certificates
    client = FakeIot([[cert(1), cert(2)], denied("ListCertificatesByCA")])

    # When it is scanned with tracing on
    result = run(client)

    # Then the subsegment's result names what was read and the CA's error, as the report does
    [subsegment] = tracer.subsegments
    assert subsegment.metadata == {
        ("default", "result"): {
            "certificatesScanned": 2,
            "error": {"code": "AccessDeniedException", "message": "no"},
        }
    }
    assert result.error == {"code": "AccessDeniedException", "message": "no"}


def test_each_ca_of_a_run_has_its_own_subsegment(tracer):
    # Given two CAs
    ids = ["b" * 64, "c" * 64]

    # When both are scanned
    scan_cas(Iot(FakeIot([[cert(1)]] * 2)), ids, config(scan_concurrency=1), NOW)

    # Then each is found in X-Ray by its own ID
    assert sorted(s.name for s in tracer.subsegments) == ["## scan CA bbbbbbbbbbbb", "## scan CA cccccccccccc"]
    assert sorted(s.annotations["caCertificateId"] for s in tracer.subsegments) == ids


class PausedAfterFirstPage(FakeIot):
    """Every CA's first page (1 certificate, more to come) is held until `release` is set, so
    that Ctrl-C lands while each CA is inside its first call; later pages answer at once."""

    def __init__(self, cas: int):
        super().__init__([[cert(1)]])
        self.lock = threading.Lock()
        self.first_pages = 0
        self.all_waiting = threading.Event()
        self.release = threading.Event()
        self.cas = cas

    def list_certificates_by_ca(self, **request):
        self.requests.append(request)
        if "marker" in request:
            return {"certificates": [cert(2)]}
        with self.lock:
            self.first_pages += 1
            if self.first_pages == self.cas:
                self.all_waiting.set()
        if not self.release.wait(HUNG_S):
            raise AssertionError("Ctrl-C was never handled")
        return {"certificates": [cert(1)], "nextMarker": "m1"}


def test_ctrl_c_lets_running_cas_finish_their_call_then_reports_them_incomplete(monkeypatch):
    # Given two CAs scanned at once, each inside its first page's call
    client = PausedAfterFirstPage(cas=2)
    iot = Iot(client, deadline=Deadline())
    real_wait = scan.wait
    interrupts = [KeyboardInterrupt()]

    # And Ctrl-C landing in the main thread while it waits for the scans, as a real one does;
    # the held calls answer once the engine has taken it in (its next wait)
    def wait(futures, *args, **kwargs):
        if interrupts:
            assert client.all_waiting.wait(HUNG_S)
            raise interrupts.pop()
        client.release.set()
        return real_wait(futures, *args, **kwargs)

    monkeypatch.setattr(scan, "wait", wait)

    # When the CAs are scanned
    scans = scan_cas(iot, ["b" * 64, "c" * 64], config(scan_concurrency=2), NOW)

    # Then each CA counted the page it was reading, asked for no other, and is ScanIncomplete
    assert interrupts == []
    assert [s.ca_certificate_id for s in scans] == ["b" * 64, "c" * 64]
    for result in scans:
        assert (result.certificates_scanned, result.pages) == (1, 1)
        assert result.error == {
            "code": "ScanIncomplete",
            "message": "Stopped after 1 certificates: interrupted by the user",
        }
    assert [r for r in client.requests if "marker" in r] == []
    client.requests.clear()

    # And the caller's client is not left interrupted: a scan after it reads every page
    monkeypatch.setattr(scan, "wait", real_wait)
    [again] = scan_cas(iot, [CA], config(), NOW)
    assert (again.error, again.certificates_scanned, again.pages) == (None, 2, 2)
