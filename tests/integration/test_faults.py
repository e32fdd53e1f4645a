"""Faults injected through botocore's before-send hook: botocore's real parsing and retries run."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from cert_audit import handler
from cert_audit.calls import RETRY_ATTEMPTS
from cert_audit.emulator import inject_faults
from tests.integration.conftest import PAGED_FLEET, metric_points

FLEET = PAGED_FLEET


@pytest.fixture
def cas(paged_pair):
    """Two CAs of five pages each, configured for a scan with PAGE_SIZE=10: (healthy, faulty)."""
    return paged_pair


def ca_of(request) -> str:
    return urlparse(request.url).path.rsplit("/", 1)[-1]


def page_of(request) -> str | None:
    return parse_qs(urlparse(request.url).query).get("marker", [None])[0]


def test_throttling_is_ridden_out_by_retries(cas, context):
    # Given IoT throttles the first three attempts at the faulty CA's second page
    healthy, faulty = cas
    iot, _ = handler.clients()
    attempts = []

    def throttle_three_times(request):
        if ca_of(request) == faulty and page_of(request):
            attempts.append(page_of(request))
            if len(attempts) <= 3:
                return "ThrottlingException"
        return None

    inject_faults(iot, "ListCertificatesByCA", throttle_three_times)

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then botocore retried, the CA completed, and the retries are counted
    by_ca = {ca["caCertificateId"]: ca for ca in result["cas"]}
    assert by_ca[faulty]["error"] is None
    assert by_ca[faulty]["certificatesScanned"] == len(FLEET)
    assert by_ca[faulty]["retries"] == 3
    assert by_ca[healthy]["retries"] == 0
    assert result["summary"]["retries"] == 3
    assert result["summary"]["findings"] == 20


RETRIED = RETRY_ATTEMPTS  # botocore's retry conditions treat these as transient
NOT_RETRIED = 1


@pytest.mark.parametrize(
    "fault, code, attempts",
    [
        ("UnauthorizedException", "UnauthorizedException", NOT_RETRIED),
        ("InvalidRequestException", "InvalidRequestException", NOT_RETRIED),
        ("ServiceUnavailableException", "ServiceUnavailableException", RETRIED),
        ("InternalFailureException", "InternalFailureException", RETRIED),
        ("ThrottlingException", "ThrottlingException", RETRIED),
        (
            EndpointConnectionError(endpoint_url="https://iot.us-east-1.amazonaws.com"),
            "EndpointConnectionError",
            RETRIED,
        ),
    ],
)
def test_a_failing_ca_never_hides_the_others(cas, alerts, context, capsys, fault, code, attempts):
    # Given every request for one CA fails with the same error
    healthy, faulty = cas
    iot, _ = handler.clients()
    tries = []
    inject_faults(iot, "ListCertificatesByCA", lambda r: (tries.append(1), fault)[1] if ca_of(r) == faulty else None)

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then the failed CA is reported with the error, after botocore's retries where it retries ...
    by_ca = {ca["caCertificateId"]: ca for ca in result["cas"]}
    assert by_ca[faulty]["error"]["code"] == code
    assert by_ca[faulty]["error"]["message"]
    assert len(tries) == attempts
    # ... the other CA is complete, ...
    assert by_ca[healthy]["error"] is None
    assert by_ca[healthy]["certificatesScanned"] == len(FLEET)
    assert result["summary"]["casFailed"] == 1
    # ... the metrics say which CA failed, ...
    points = metric_points(capsys.readouterr().out)
    assert points[("ScanErrors", (("CaCertificateId", faulty),))] == 1
    assert points[("ScanErrors", (("CaCertificateId", healthy),))] == 0
    assert points[("ScanErrors", (("service", "iot-cert-audit"),))] == 1
    assert ("Certificates", (("CaCertificateId", faulty), ("Status", "ACTIVE"))) not in points
    # ... and the alert carries the healthy CA's findings and the error.
    [published] = alerts.published()
    assert "1 failed" in published["Subject"]
    report = json.loads(published["Message"]["default"])
    assert len(report["findings"]) == 10
    assert f"CA {faulty}: {code}" in published["Message"]["email"]


def test_failure_on_page_three_of_five_keeps_the_first_two_pages(cas, context):
    # Given the faulty CA's third page request keeps failing
    healthy, faulty = cas
    iot, _ = handler.clients()
    seen_markers: list[str | None] = []

    def fail_from_page_three(request):
        if ca_of(request) != faulty:
            return None
        if page_of(request) not in seen_markers:
            seen_markers.append(page_of(request))
        return "InternalFailureException" if seen_markers.index(page_of(request)) == 2 else None

    inject_faults(iot, "ListCertificatesByCA", fail_from_page_three)

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then the two pages already read are counted, the CA is failed, the other CA complete
    by_ca = {ca["caCertificateId"]: ca for ca in result["cas"]}
    assert by_ca[faulty]["certificatesScanned"] == 20
    assert by_ca[faulty]["pages"] == 2
    assert by_ca[faulty]["error"]["code"] == "InternalFailureException"
    assert by_ca[faulty]["retries"] == RETRY_ATTEMPTS - 1
    assert by_ca[healthy]["certificatesScanned"] == len(FLEET)


def test_publish_failure_fails_the_invocation(cas, context, capsys):
    # Given SNS refuses the publish
    _, sns = handler.clients()
    inject_faults(sns, "Publish", lambda request: "AuthorizationError")

    # When the audit runs, then the invocation fails so that it is retried or dead-lettered
    with pytest.raises(ClientError, match="AuthorizationError"):
        handler.lambda_handler({}, context)

    # and the scan's metrics are still flushed, but no heartbeat says the run completed
    points = metric_points(capsys.readouterr().out)
    assert points[("Findings", (("service", "iot-cert-audit"),))] == 20
    assert ("AuditRuns", (("service", "iot-cert-audit"),)) not in points
