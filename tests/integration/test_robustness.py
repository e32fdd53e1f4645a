"""Trying to break the audit (issue 9): odd answers, paging loops, the deadline, throttling,
publish faults, bad configuration and the run lock, each through the real handler on moto.

Faults and crafted answers go in through botocore's `before-send` hook, so botocore's own
parsing (and the engine's fast page reader) run on them.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from cert_audit import calls, handler
from cert_audit.calls import RETRY_ATTEMPTS, Stopped
from cert_audit.config import ConfigError
from cert_audit.emulator import _Body, error_response, inject_faults, seed_ca, seed_certificates
from cert_audit.findings import CA_NOT_ACTIVE, CERTIFICATE_STATUS, DEVICE_CERTIFICATE_AGE
from tests.integration.conftest import ACCOUNT, REGION, create_table, metric_points

FLEET = ["ACTIVE"] * 20 + ["REVOKED"] * 5 + ["INACTIVE"] * 5  # 3 pages of 10, 10 findings
SERVICE = (("service", "iot-cert-audit"),)
OLD = datetime(2020, 1, 1, tzinfo=UTC).timestamp()


# --- How requests are seen and answered -------------------------------------------------


def ca_of(request) -> str:
    return urlparse(request.url).path.rsplit("/", 1)[-1]


def marker_of(request) -> str | None:
    return parse_qs(urlparse(request.url).query).get("marker", [None])[0]


def answer(body: object) -> AWSResponse:
    """A 200 answer with this JSON body, as IoT sends it."""
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": "crafted"}
    return AWSResponse(f"https://iot.{REGION}.amazonaws.com", 200, headers, _Body(json.dumps(body).encode()))


def serve(client, operation: str, rule) -> None:
    """Answer `operation` with `rule(request)`: a crafted AWSResponse, or None to let it through."""
    event = f"before-send.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    client.meta.events.register_first(event, lambda request, **_: rule(request))


def record_requests(client) -> list:
    """Every request the client sends (retries included), as (operation, request)."""
    sent = []
    client.meta.events.register_first(
        "before-send", lambda request, event_name, **_: sent.append((event_name.rsplit(".", 1)[-1], request))
    )
    return sent


def paging_server(pages: dict[str | None, tuple[list, str | None]]):
    """ListCertificatesByCA / ListCACertificates answers: {marker: (items, nextMarker)}."""

    def page(request):
        items, next_marker = pages[marker_of(request)]
        return answer({"certificates": items, **({"nextMarker": next_marker} if next_marker else {})})

    return page


def certificate(certificate_id: str, status: str = "ACTIVE", created: object = OLD, **more) -> dict:
    return {
        "certificateArn": f"arn:aws:iot:{REGION}:{ACCOUNT}:cert/{certificate_id}",
        "certificateId": certificate_id,
        "status": status,
        "certificateMode": "DEFAULT",
        "creationDate": created,
        **more,
    }


def crafted_fleet(prefix: str) -> list[dict]:
    """FLEET as certificates of a crafted CA: 3 pages of 10, 10 findings."""
    return [certificate(f"{prefix}{n:03}", status) for n, status in enumerate(FLEET)]


def by_ca(result: dict) -> dict[str, dict]:
    return {ca["caCertificateId"]: ca for ca in result["cas"]}


def published_report(alerts) -> dict:
    [published] = alerts.published()
    return json.loads(published["Message"]["default"])


@pytest.fixture
def pair(backend, alerts, monkeypatch):
    """Two CAs on moto with FLEET each, PAGE_SIZE=10: (healthy, odd); the tests tamper with odd's answers."""
    healthy, odd = seed_ca(backend, "healthy"), seed_ca(backend, "odd")
    seed_certificates(backend, healthy, FLEET)
    seed_certificates(backend, odd, FLEET)
    monkeypatch.setenv("CA_CERTIFICATE_IDS", f"{healthy},{odd}")
    monkeypatch.setenv("PAGE_SIZE", "10")
    return healthy, odd


def assert_healthy(ca: dict) -> None:
    assert ca["error"] is None
    assert ca["certificatesScanned"] == len(FLEET)
    assert ca["findings"] == 10


# --- 1. A bad DescribeCACertificate answer is that CA's error, and no false finding ----------


def description(ca_id: str, **override) -> dict:
    described = {
        "certificateArn": f"arn:aws:iot:{REGION}:{ACCOUNT}:cacert/{ca_id}",
        "certificateId": ca_id,
        "status": "INACTIVE",  # with ACTIVE device certificates: CRITICAL, if the answer were believed
        "certificateMode": "DEFAULT",
        "autoRegistrationStatus": "DISABLE",
        "creationDate": OLD,
        "validity": {"notBefore": OLD, "notAfter": OLD + 20 * 365 * 86400},
        **override,
    }
    return {"certificateDescription": {k: v for k, v in described.items() if v is not None}}


@pytest.mark.parametrize(
    "craft",
    [
        pytest.param(lambda ca: description(ca, certificateId=None), id="no certificateId"),
        pytest.param(lambda ca: description(ca, status=None), id="no status"),
        pytest.param(lambda ca: description(ca, status=0), id="status a number"),
        pytest.param(lambda ca: description(ca, status=["INACTIVE"]), id="status a list"),
        pytest.param(lambda ca: {"registrationConfig": {}}, id="no certificateDescription"),
        pytest.param(lambda ca: description(ca, validity="soon"), id="validity a string"),
    ],
)
def test_malformed_ca_description_is_that_cas_error_only(pair, alerts, context, craft):
    # Given DescribeCACertificate answers for one CA without a field the audit needs
    healthy, odd = pair
    iot, _ = handler.clients()
    serve(iot, "DescribeCACertificate", lambda request: answer(craft(odd)) if ca_of(request) == odd else None)

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then that CA's error is MalformedResponse, its certificates are still audited, no CA
    # finding is made from the bad answer, and the other CA is untouched
    cas = by_ca(result)
    assert cas[odd]["error"]["code"] == "MalformedResponse"
    assert "DescribeCACertificate" in cas[odd]["error"]["message"]
    assert cas[odd]["certificatesScanned"] == len(FLEET)
    assert cas[odd]["findings"] == 10
    assert result["summary"]["byType"][CA_NOT_ACTIVE] == 0
    assert_healthy(cas[healthy])
    report = published_report(alerts)
    assert Counter(f["caCertificateId"] for f in report["findings"]) == {odd: 10, healthy: 10}
    assert {f["type"] for f in report["findings"]} == {CERTIFICATE_STATUS}


# --- 2. Malformed certificates are counted, the scan goes on ---------------------------------


def test_malformed_certificates_are_counted_and_the_scan_goes_on(pair, alerts, context, monkeypatch):
    # Given the age check on, and one CA whose pages hold certificates with missing or
    # unparseable fields on the first two of three pages
    healthy, odd = pair
    monkeypatch.setenv("MAX_CERTIFICATE_AGE_DAYS", "365")
    no_date = {k: v for k, v in certificate("no-date").items() if k != "creationDate"}
    no_status = {k: v for k, v in certificate("no-status").items() if k != "status"}
    no_id = {k: v for k, v in certificate("x", "REVOKED").items() if k != "certificateId"}
    pages = {
        None: ([certificate("old-1"), no_date, certificate("millis", created=OLD * 1000)], "p2"),
        "p2": (
            [
                certificate("text", created="2020-01-01T00:00:00Z"),
                no_status,
                no_id,
                "not a certificate",
                None,
                certificate("revoked-bad-date", "REVOKED", created="yesterday"),
            ],
            "p3",
        ),
        "p3": ([certificate("revoked", "REVOKED"), certificate("old-2"), certificate("inactive", "INACTIVE")], None),
    }
    iot, _ = handler.clients()
    serve(iot, "ListCertificatesByCA", lambda r: paging_server(pages)(r) if ca_of(r) == odd else None)

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then the CA is complete, every malformed certificate is counted with the first as example,
    cas = by_ca(result)
    assert cas[odd]["error"] is None
    assert cas[odd]["pages"] == 3
    assert cas[odd]["certificatesScanned"] == 12
    assert cas[odd]["malformedCertificates"] == 8
    assert result["summary"]["malformedCertificates"] == 8
    example = cas[odd]["malformedExample"]
    assert example["certificate"]["certificateId"] == "no-date"
    assert "creationDate" in example["problem"]
    assert cas[odd]["byStatus"]["ACTIVE"] == 5  # the undated ones are still classified by status
    # ... the last page's findings are found, and a REVOKED certificate without a usable date
    # is still a finding, with no date
    findings = {f["certificateId"]: f for f in published_report(alerts)["findings"] if f["caCertificateId"] == odd}
    assert {key: f["type"] for key, f in findings.items()} == {
        "old-1": DEVICE_CERTIFICATE_AGE,
        "old-2": DEVICE_CERTIFICATE_AGE,
        "revoked-bad-date": CERTIFICATE_STATUS,
        "revoked": CERTIFICATE_STATUS,
        "inactive": CERTIFICATE_STATUS,
    }
    assert findings["revoked-bad-date"]["creationDate"] is None
    assert findings["revoked"]["creationDate"] == "2020-01-01T00:00:00Z"
    # ... the other CA is untouched, and the report is JSON as it stands
    assert cas[healthy]["error"] is None
    assert cas[healthy]["malformedCertificates"] == 0
    assert json.loads(json.dumps(result)) == result


# --- 3. Paging always ends -------------------------------------------------------------------


def distinct_findings(alerts, ca_id: str) -> tuple[int, int]:
    ids = [f["certificateId"] for f in published_report(alerts)["findings"] if f["caCertificateId"] == ca_id]
    return len(ids), len(set(ids))


@pytest.mark.parametrize(
    "make_pages, listed",
    [
        # the third page sends back to the second
        pytest.param(
            lambda fleet: {None: (fleet[:10], "m1"), "m1": (fleet[10:20], "m2"), "m2": (fleet[20:], "m1")},
            30,
            id="nextMarker repeats",
        ),
        pytest.param(lambda fleet: {None: (fleet[:10], "m1"), "m1": (fleet[10:20], "m1")}, 20, id="marker to itself"),
    ],
)
def test_a_repeating_marker_ends_the_cas_scan(pair, alerts, context, make_pages, listed):
    # Given a CA whose listing sends back to a marker it has already followed
    healthy, odd = pair
    iot, _ = handler.clients()
    sent = record_requests(iot)
    serve(
        iot,
        "ListCertificatesByCA",
        lambda r: paging_server(make_pages(crafted_fleet("c")))(r) if ca_of(r) == odd else None,
    )

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then the CA ends with PagingLoop, no certificate counted twice, the other CA complete
    cas = by_ca(result)
    assert cas[odd]["error"]["code"] == "PagingLoop"
    assert cas[odd]["certificatesScanned"] == listed
    count, distinct = distinct_findings(alerts, odd)
    assert count == distinct
    assert len([r for op, r in sent if op == "ListCertificatesByCA" and ca_of(r) == odd]) == listed // 10
    assert_healthy(cas[healthy])


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(crafted_fleet("c")[20:], id="same page"),
        pytest.param(["junk", *crafted_fleet("c")[20:]], id="same page starting with a malformed item"),
        pytest.param([{"status": "REVOKED"}] * 3, id="same page of certificates without ID"),
    ],
)
def test_the_same_page_under_ever_new_markers_ends_the_cas_scan(pair, alerts, context, page):
    # Given a CA whose listing answers the same page again and again, each time with a new marker
    healthy, odd = pair
    iot, _ = handler.clients()
    sent = record_requests(iot)
    markers = iter(range(10**6))

    def same_page(request):
        if ca_of(request) != odd:
            return None
        return answer({"certificates": page, "nextMarker": f"m{next(markers)}"})

    serve(iot, "ListCertificatesByCA", same_page)

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then the CA ends with PagingLoop after the second page, having counted the page once
    cas = by_ca(result)
    assert cas[odd]["error"]["code"] == "PagingLoop"
    assert cas[odd]["certificatesScanned"] == len(page)
    assert len([r for op, r in sent if op == "ListCertificatesByCA" and ca_of(r) == odd]) == 2
    assert_healthy(cas[healthy])


def test_empty_pages_without_end_end_the_cas_scan(pair, context):
    # Given a CA whose listing answers empty pages, each promising more
    healthy, odd = pair
    iot, _ = handler.clients()
    markers = iter(range(10**6))
    serve(
        iot,
        "ListCertificatesByCA",
        lambda r: answer({"certificates": [], "nextMarker": f"m{next(markers)}"}) if ca_of(r) == odd else None,
    )

    # When the audit runs, then that CA ends with PagingLoop and the other is complete
    cas = by_ca(handler.lambda_handler({}, context))
    assert cas[odd]["error"]["code"] == "PagingLoop"
    assert_healthy(cas[healthy])


def discovery_page(*ca_ids: str) -> list[dict]:
    return [
        {"certificateArn": f"arn:aws:iot:{REGION}:{ACCOUNT}:cacert/{i}", "certificateId": i, "status": "ACTIVE"}
        for i in ca_ids
    ]


@pytest.fixture
def three_cas(backend, alerts):
    cas = [seed_ca(backend, f"ca{n}") for n in range(3)]
    for ca in cas:
        seed_certificates(backend, ca, FLEET[20:])
    return cas


def test_a_looping_ca_discovery_audits_the_cas_listed_once_each(three_cas, alerts, context):
    # Given a ListCACertificates listing whose second page sends back to itself
    a, b, c = three_cas
    iot, _ = handler.clients()
    sent = record_requests(iot)
    serve(
        iot, "ListCACertificates", paging_server({None: (discovery_page(a, b), "m1"), "m1": (discovery_page(c), "m1")})
    )

    # When every CA is audited
    result = handler.lambda_handler({}, context)

    # Then the '*' entry carries PagingLoop and each CA listed was audited, once
    cas = by_ca(result)
    assert list(cas) == ["*", a, b, c]
    assert cas["*"]["error"]["code"] == "PagingLoop"
    for ca in (a, b, c):
        assert cas[ca]["error"] is None
        assert cas[ca]["certificatesScanned"] == 10
    asked = Counter((op, ca_of(r)) for op, r in sent if op != "ListCACertificates")
    assert asked == {(op, ca): 1 for op in ("DescribeCACertificate", "ListCertificatesByCA") for ca in (a, b, c)}
    assert result["summary"]["findings"] == 30


def test_a_ca_listed_twice_by_discovery_is_scanned_once(three_cas, alerts, context):
    # Given a ListCACertificates listing that lists two CAs twice (once on the same page)
    a, b, c = three_cas
    iot, _ = handler.clients()
    sent = record_requests(iot)
    serve(
        iot,
        "ListCACertificates",
        paging_server({None: (discovery_page(a, b, a), "m1"), "m1": (discovery_page(b, c), None)}),
    )

    # When every CA is audited
    result = handler.lambda_handler({}, context)

    # Then each CA is scanned once and its findings reported once
    assert [ca["caCertificateId"] for ca in result["cas"]] == [a, b, c]
    asked = Counter((op, ca_of(r)) for op, r in sent if op == "ListCertificatesByCA")
    assert asked == {("ListCertificatesByCA", ca): 1 for ca in (a, b, c)}
    assert result["summary"]["findings"] == 30
    assert len(published_report(alerts)["findings"]) == 30


def test_discovery_of_a_thousand_cas_lists_each_once(backend, alerts, context, monkeypatch):
    # Given 1,000 CAs (100x the usual fleet of CAs), none with device certificates
    seeded = {seed_ca(backend, f"ca{n}") for n in range(1000)}
    monkeypatch.setenv("SCAN_CONCURRENCY", "16")
    monkeypatch.setenv("IOT_RATE_LIMIT", "100")
    iot, _ = handler.clients()
    sent = record_requests(iot)

    # When every CA is audited
    result = handler.lambda_handler({}, context)

    # Then discovery paged to the end, and each CA was described and scanned once
    assert result["summary"]["casScanned"] == 1000
    assert result["summary"]["casFailed"] == 0
    assert len([r for op, r in sent if op == "ListCACertificates"]) == 4  # 250 a page
    asked = Counter((op, ca_of(r)) for op, r in sent if op != "ListCACertificates")
    assert asked == {(op, ca): 1 for op in ("DescribeCACertificate", "ListCertificatesByCA") for ca in seeded}


# --- 4. The deadline is a bound --------------------------------------------------------------


def test_no_call_starts_once_the_time_reserve_begins(backend, alerts, context, virtual_time, monkeypatch):
    # Given three CAs scanned one at a time, the first with five pages that take 25 s each,
    # and an invocation with 150 s left (the reserve, 60 s, begins after 90 s)
    cas = [seed_ca(backend, f"ca{n}") for n in range(3)]
    seed_certificates(backend, cas[0], ["REVOKED"] * 50)
    for ca in cas[1:]:
        seed_certificates(backend, ca, FLEET)
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ",".join(cas))
    monkeypatch.setenv("PAGE_SIZE", "10")
    monkeypatch.setenv("SCAN_CONCURRENCY", "1")
    context.timeout_ms = 150_000
    iot, _ = handler.clients()
    started = []  # (operation, CA, time left when the request went out)

    def slow_first_ca(request, event_name, **_):
        started.append((event_name.rsplit(".", 1)[-1], ca_of(request), context.get_remaining_time_in_millis()))
        if ca_of(request) == cas[0] and "certificates-by-ca" in request.url:
            virtual_time.advance(25, None)

    iot.meta.events.register_first("before-send.iot", slow_first_ca)

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then every request started before the reserve, the queued CAs made none and are
    # ScanIncomplete, and the findings of the pages read were published in time
    assert started
    assert min(left for _, _, left in started) > handler.TIME_RESERVE_MS
    assert {ca for _, ca, _ in started} == {cas[0]}
    results = by_ca(result)
    assert results[cas[0]]["error"]["code"] == "ScanIncomplete"
    assert results[cas[0]]["certificatesScanned"] == 40
    for ca in cas[1:]:
        assert results[ca]["error"]["code"] == "ScanIncomplete"
        assert results[ca]["certificatesScanned"] == 0
    assert len(published_report(alerts)["findings"]) == 40
    assert context.get_remaining_time_in_millis() > 0


def test_a_hanging_page_does_not_push_the_return_past_the_timeout(backend, alerts, context, virtual_time, monkeypatch):
    # Given a CA whose second page never answers: each attempt times out after 10 s,
    # and an invocation with 100 s left
    ca = seed_ca(backend, "hanging")
    seed_certificates(backend, ca, FLEET)  # the first page (newest first) is the 10 flagged ones
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ca)
    monkeypatch.setenv("PAGE_SIZE", "10")
    context.timeout_ms = 100_000
    iot, _ = handler.clients()
    attempts = []

    def hang(request):
        if not marker_of(request):
            return None
        attempts.append(context.get_remaining_time_in_millis())
        virtual_time.advance(10, None)
        return ReadTimeoutError(endpoint_url=request.url)

    inject_faults(iot, "ListCertificatesByCA", hang)

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then the retries stopped in time, the CA is ScanIncomplete, the first page's findings
    # were published, and the function returned before its timeout
    [scanned] = result["cas"]
    assert scanned["error"]["code"] == "ScanIncomplete"
    assert scanned["certificatesScanned"] == 10
    assert 1 < len(attempts) < RETRY_ATTEMPTS
    assert len(published_report(alerts)["findings"]) == 10
    assert context.get_remaining_time_in_millis() > 0


def test_publish_that_keeps_throttling_stops_before_the_timeout(pair, alerts, context, virtual_time):
    # Given SNS throttles every publish, each attempt taking 15 s, and 100 s left
    context.timeout_ms = 100_000
    _, sns = handler.clients()
    attempts = []

    def throttle(request):
        attempts.append(1)
        virtual_time.advance(15, None)
        return "Throttled"

    inject_faults(sns, "Publish", throttle)

    # When the audit runs, then it fails loudly, having stopped retrying before the timeout
    with pytest.raises((Stopped, ClientError)):
        handler.lambda_handler({}, context)
    assert 1 < len(attempts) < RETRY_ATTEMPTS
    assert context.get_remaining_time_in_millis() > 0


# --- 5. Throttling is shared with production ----------------------------------------------


def every_other_attempt_throttled(always: str | None = None):
    """Throttles the first attempt of every request, lets its retry through (50% of answers
    throttled in all); every attempt for the CA `always`. Returns the rule and its tally."""
    lock, tries = threading.Lock(), Counter()

    def rule(request):
        with lock:
            tries[request.method, request.url] += 1
            first = tries[request.method, request.url] % 2 == 1
        return "ThrottlingException" if first or (always and always in request.url) else None

    return rule, tries


@pytest.fixture
def ten_cas(backend, alerts, monkeypatch):
    cas = [seed_ca(backend, f"ca{n}") for n in range(10)]
    for ca in cas:
        seed_certificates(backend, ca, ["ACTIVE"] * 12 + ["REVOKED"] * 3)  # 2 pages
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ",".join(cas))
    monkeypatch.setenv("PAGE_SIZE", "10")
    return cas


def test_sustained_throttling_is_ridden_out_and_counted(ten_cas, alerts, context, capsys):
    # Given ten CAs scanned at once, and IoT throttling every other request (each request's first attempt)
    iot, _ = handler.clients()
    rule, tries = every_other_attempt_throttled()
    inject_faults(iot, "DescribeCACertificate", rule)
    inject_faults(iot, "ListCertificatesByCA", rule)

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then every CA completed, and the throttled answers (half of all) are counted per CA and in all
    assert sum(tries.values()) == 60
    for ca in result["cas"]:
        assert ca["error"] is None
        assert ca["certificatesScanned"] == 15
        assert (ca["throttles"], ca["retries"]) == (3, 3)  # describe and two pages, once each
    assert result["summary"]["throttles"] == 30
    assert result["summary"]["retries"] == 30
    assert result["summary"]["findings"] == 30
    assert metric_points(capsys.readouterr().out)[("Throttles", SERVICE)] == 30


def test_a_ca_fails_only_after_its_own_retries(ten_cas, alerts, context):
    # Given IoT throttling every other request, and every request for one CA
    doomed = ten_cas[0]
    iot, _ = handler.clients()
    rule, tries = every_other_attempt_throttled(always=doomed)
    inject_faults(iot, "DescribeCACertificate", rule)
    inject_faults(iot, "ListCertificatesByCA", rule)

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then that CA failed with ThrottlingException after its own 10 attempts of each call,
    # and every other CA completed
    cas = by_ca(result)
    assert cas[doomed]["error"]["code"] == "ThrottlingException"
    doomed_tries = {url.split("?")[0].rsplit("/", 2)[-2]: n for (_, url), n in tries.items() if doomed in url}
    assert doomed_tries == {"cacertificate": RETRY_ATTEMPTS, "certificates-by-ca": RETRY_ATTEMPTS}
    assert cas[doomed]["throttles"] == 2 * RETRY_ATTEMPTS
    for ca in ten_cas[1:]:
        assert cas[ca]["error"] is None
        assert cas[ca]["certificatesScanned"] == 15
    assert result["summary"]["casFailed"] == 1


class ThreadClocks:
    """A virtual clock per thread, counting only the waits that thread made: a request's time
    is then exactly the rate-limit slot its thread waited for, whatever the interleaving."""

    def __init__(self):
        self.local = threading.local()

    def clock(self) -> float:
        return getattr(self.local, "now", 0.0)

    def sleep(self, seconds: float, interrupted: threading.Event) -> None:
        self.local.now = self.clock() + seconds


@pytest.mark.parametrize("rate", [5, 10])
def test_the_rate_limit_spaces_every_iot_request(ten_cas, alerts, context, monkeypatch, rate):
    # Given IOT_RATE_LIMIT and CAs scanned four at a time, each thread on its own virtual clock
    monkeypatch.setenv("IOT_RATE_LIMIT", str(rate))
    monkeypatch.setenv("SCAN_CONCURRENCY", "4")
    clocks = ThreadClocks()
    monkeypatch.setattr(calls, "clock", clocks.clock)
    monkeypatch.setattr(calls, "sleep", clocks.sleep)
    iot, _ = handler.clients()
    lock, times = threading.Lock(), []

    def stamp(**_):
        with lock:
            times.append(calls.clock())

    iot.meta.events.register_first("before-send.iot", stamp)

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then the requests, all CAs' together, are at least 1/rate apart, and no further
    assert result["summary"]["casFailed"] == 0
    assert len(times) == 30
    gaps = [later - earlier for earlier, later in zip(sorted(times), sorted(times)[1:], strict=False)]
    assert min(gaps) == pytest.approx(1 / rate)
    assert max(gaps) == pytest.approx(1 / rate)


# --- 6. Publish -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, status",
    [
        ("KMSThrottling", 400),
        ("KMSThrottlingException", 400),
        ("Throttled", 429),
        ("Throttling", 400),
        ("InternalError", 500),
        ("ServiceUnavailable", 503),
    ],
)
def test_publish_is_retried_on_throttling_and_server_errors(pair, alerts, context, code, status):
    # Given SNS (or KMS for the encrypted topic) answers the first three publishes with the error
    _, sns = handler.clients()
    attempts = []

    def fail_three_times(request):
        attempts.append(1)
        if len(attempts) > 3:
            return None
        response = error_response(sns, code, f"Injected {code}")
        response.status_code = status
        return response

    serve(sns, "Publish", fail_three_times)

    # When the audit runs, then the report got out on the fourth attempt (moto sees the
    # failed attempts too: the last message is the one that went through)
    result = handler.lambda_handler({}, context)
    assert len(attempts) == 4
    assert result["summary"]["findings"] == 20
    assert len(json.loads(alerts.published()[-1]["Message"]["default"])["findings"]) == 20


def test_publish_denied_is_not_retried_and_fails_after_the_metrics(pair, alerts, context, capsys):
    # Given SNS denies the publish
    _, sns = handler.clients()
    attempts = []
    inject_faults(sns, "Publish", lambda request: (attempts.append(1), "AuthorizationError")[1])

    # When the audit runs, then the invocation fails at once, without retrying,
    with pytest.raises(ClientError, match="AuthorizationError"):
        handler.lambda_handler({}, context)
    assert len(attempts) == 1
    # after the run's metrics were written, without the heartbeat of a completed run
    points = metric_points(capsys.readouterr().out)
    assert points[("Findings", SERVICE)] == 20
    assert points[("CertificatesScanned", SERVICE)] == 60
    assert ("AuditRuns", SERVICE) not in points


# --- 7. Bad configuration fails before the scan ----------------------------------------------


@pytest.mark.parametrize(
    "topic",
    [
        f"arn:aws:sns:eu-west-1:{ACCOUNT}:iot-cert-audit-alerts",
        f"arn:aws-us-gov:sns:{REGION}:{ACCOUNT}:iot-cert-audit-alerts",
        f"arn:aws-cn:sns:cn-north-1:{ACCOUNT}:iot-cert-audit-alerts",
        f"arn:aws:sns:{REGION}:{ACCOUNT}:iot-cert-audit-alerts.fifo",
    ],
)
def test_an_unusable_topic_fails_before_any_iot_request(pair, alerts, context, monkeypatch, topic):
    # Given the function in us-east-1 and a topic it cannot publish to
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("ALERT_TOPIC_ARN", topic)
    iot, _ = handler.clients()
    sent = record_requests(iot)

    # When it is invoked, then it fails naming the variable, before any IoT request
    with pytest.raises(ConfigError, match="ALERT_TOPIC_ARN"):
        handler.lambda_handler({}, context)
    assert sent == []
    assert alerts.published() == []


def test_an_event_with_a_misspelt_key_is_rejected(pair, alerts, context):
    healthy, _ = pair
    iot, _ = handler.clients()
    sent = record_requests(iot)

    # When an on-demand event says caCertificateId for caCertificateIds, then it names both
    with pytest.raises(ConfigError, match="'caCertificateId'.*caCertificateIds"):
        handler.lambda_handler({"caCertificateId": [healthy]}, context)
    assert sent == []


def test_a_scheduled_eventbridge_event_audits_every_ca(three_cas, alerts, context):
    # Given the event EventBridge sends on schedule
    event = {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": "2026-11-30T06:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/iot-cert-audit-schedule"],
        "detail": {},
    }

    # When the function gets it, then every CA is audited
    result = handler.lambda_handler(event, context)
    assert sorted(ca["caCertificateId"] for ca in result["cas"]) == sorted(three_cas)
    assert result["summary"]["casFailed"] == 0


# --- 8. The run lock ---------------------------------------------------------------------------

LOCK_TABLE = "iot-cert-audit-lock"


@pytest.fixture
def lock(aws, monkeypatch):
    dynamodb = create_table(LOCK_TABLE, "lockId")
    monkeypatch.setenv("RUN_LOCK_TABLE_NAME", LOCK_TABLE)
    return dynamodb


def lock_item(dynamodb) -> dict | None:
    return dynamodb.get_item(TableName=LOCK_TABLE, Key={"lockId": {"S": "audit-run"}}).get("Item")


def hold_lock(dynamodb, owner: str, expires_in_s: int | None) -> None:
    item = {"lockId": {"S": "audit-run"}, "owner": {"S": owner}}
    if expires_in_s is not None:
        item["expiresAt"] = {"N": str(int(time.time()) + expires_in_s)}
    dynamodb.put_item(TableName=LOCK_TABLE, Item=item)


def test_a_run_holding_the_lock_keeps_another_from_starting(pair, alerts, lock, context, capsys):
    # Given another run holds the lock for ten more minutes
    hold_lock(lock, "another-request", 600)
    iot, _ = handler.clients()
    sent = record_requests(iot)

    # When the function is invoked
    result = handler.lambda_handler({}, context)

    # Then it skips, makes no IoT request, publishes nothing, says so in a metric, and leaves the lock
    assert result["skipped"] is True
    assert LOCK_TABLE in result["reason"]
    assert sent == []
    assert alerts.published() == []
    assert metric_points(capsys.readouterr().out)[("SkippedRuns", SERVICE)] == 1
    assert lock_item(lock)["owner"]["S"] == "another-request"


@pytest.mark.parametrize(
    "owner, expires_in_s",
    [("another-request", -10), (None, 600), ("written-by-hand", None)],
    ids=["an expired lock", "its own lock (Lambda's retry)", "a lock without an expiry"],
)
def test_the_lock_is_taken_over_and_given_back(pair, alerts, lock, context, owner, expires_in_s):
    # Given a lock left by a run that is over, or by this same invocation's earlier attempt
    hold_lock(lock, owner or context.aws_request_id, expires_in_s)
    iot, _ = handler.clients()
    owners = []
    iot.meta.events.register_first("before-send.iot", lambda **_: owners.append(lock_item(lock)["owner"]["S"]))

    # When the function is invoked
    result = handler.lambda_handler({}, context)

    # Then it ran holding the lock, and gave it back
    assert "skipped" not in result
    assert result["summary"]["casFailed"] == 0
    assert set(owners) == {context.aws_request_id}
    assert lock_item(lock) is None


def test_a_run_waits_for_the_run_under_way_and_then_starts(pair, alerts, lock, context, virtual_time, monkeypatch):
    # Given another run holds the lock and finishes 30 s later (virtual time)
    hold_lock(lock, "another-request", 600)
    waited = []

    def other_run_finishes(seconds, interrupted):
        waited.append(seconds)
        virtual_time.advance(seconds, interrupted)
        if sum(waited) >= 30:
            lock.delete_item(TableName=LOCK_TABLE, Key={"lockId": {"S": "audit-run"}})

    monkeypatch.setattr(calls, "sleep", other_run_finishes)

    # When the function is invoked, then it waited, polling, and ran once the lock was free
    result = handler.lambda_handler({}, context)
    assert "skipped" not in result and result["summary"]["casFailed"] == 0
    assert waited[:2] == [15, 15]
    assert lock_item(lock) is None


def test_the_lock_is_given_back_after_a_failed_publish(pair, alerts, lock, context):
    _, sns = handler.clients()
    inject_faults(sns, "Publish", lambda request: "AuthorizationError")
    with pytest.raises(ClientError):
        handler.lambda_handler({}, context)
    assert lock_item(lock) is None


@pytest.mark.parametrize(
    "fault",
    ["ResourceNotFoundException", EndpointConnectionError(endpoint_url=f"https://dynamodb.{REGION}.amazonaws.com")],
    ids=["table missing", "unreachable"],
)
def test_a_lock_table_out_of_reach_is_a_run_error_and_the_audit_runs(pair, alerts, lock, context, fault):
    # Given the lock table cannot be reached
    for operation in ("PutItem", "DeleteItem"):
        inject_faults(handler.dynamodb(), operation, lambda request: fault)

    # When the function is invoked
    result = handler.lambda_handler({}, context)

    # Then every CA is audited, and the report says the lock was not taken
    assert result["summary"]["casFailed"] == 0
    assert result["summary"]["certificatesScanned"] == 2 * len(FLEET)
    [error] = result["errors"]
    assert error["source"] == "runLock"
    assert LOCK_TABLE in error["message"]
    assert published_report(alerts)["errors"] == [error]


# --- 9. One failing CA never costs another's result -------------------------------------------


@pytest.mark.parametrize(
    "page, code",
    [
        ({"certificates": {"certificateId": "c1", "status": "REVOKED"}}, "MalformedResponse"),
        ({"certificates": crafted_fleet("c")[:10], "nextMarker": 42}, "MalformedResponse"),
        ("[1, 2, 3]", "MalformedResponse"),
        ("<html>Bad gateway</html>", "MalformedResponse"),
        ('{"certificates": [{"certificateId": "c1", "status": "REVOKED"', "MalformedResponse"),
    ],
    ids=["certificates an object", "nextMarker a number", "page an array", "page not JSON", "page cut short"],
)
def test_an_unexpected_answer_is_that_cas_error_only(pair, alerts, context, page, code):
    # Given one CA's first page is something no page should be
    healthy, odd = pair
    iot, _ = handler.clients()

    def odd_page(request):
        if ca_of(request) != odd:
            return None
        if isinstance(page, str):
            headers = {"Content-Type": "application/json", "x-amzn-RequestId": "crafted"}
            return AWSResponse(request.url, 200, headers, _Body(page.encode()))
        return answer(page)

    serve(iot, "ListCertificatesByCA", odd_page)

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then that CA failed with the code that says why (not read as an empty last page), the
    # other is complete, and its findings were published
    cas = by_ca(result)
    assert cas[odd]["error"]["code"] == code
    assert_healthy(cas[healthy])
    assert Counter(f["caCertificateId"] for f in published_report(alerts)["findings"])[healthy] == 10


@pytest.mark.parametrize("body", ["<html>Bad gateway</html>", '{"certificates": [{"certificateId": "'])
def test_an_unreadable_ca_listing_is_a_discovery_error_not_an_empty_account(three_cas, alerts, context, body):
    # Given ListCACertificates answers 200 with a body that is not a JSON object
    iot, _ = handler.clients()
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": "crafted"}
    serve(iot, "ListCACertificates", lambda request: AWSResponse(request.url, 200, headers, _Body(body.encode())))

    # When every CA is audited, then the report says discovery failed, not that there is no CA
    result = handler.lambda_handler({}, context)
    assert [ca["caCertificateId"] for ca in result["cas"]] == ["*"]
    assert result["cas"][0]["error"]["code"] == "MalformedResponse"
    assert result["summary"]["casFailed"] == 1


def test_ca_discovery_stops_at_the_time_reserve(backend, alerts, context, virtual_time, monkeypatch):
    # Given an account whose CAs take three pages to list, each page taking 25 s, and 100 s left
    cas = [seed_ca(backend, f"ca{n}") for n in range(3)]
    monkeypatch.setenv("PAGE_SIZE", "1")
    context.timeout_ms = 100_000
    iot, _ = handler.clients()
    sent = record_requests(iot)
    inject_faults(iot, "ListCACertificates", lambda request: virtual_time.advance(25, None))

    # When every CA is audited
    result = handler.lambda_handler({}, context)

    # Then discovery stopped at the reserve, saying the scan is incomplete, the CAs listed
    # in time are reported incomplete too, and no request started in the reserve
    assert len([r for op, r in sent if op == "ListCACertificates"]) == 2
    assert len(sent) == 2
    assert [ca["caCertificateId"] for ca in result["cas"]][0] == "*"
    assert {ca["error"]["code"] for ca in result["cas"]} == {"ScanIncomplete"}
    assert len(result["cas"]) == 3 and set(cas) > {ca["caCertificateId"] for ca in result["cas"][1:]}
    assert context.get_remaining_time_in_millis() > 0
