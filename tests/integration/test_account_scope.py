"""The account scope (issue 13, AUDIT_SCOPE=account): every certificate of the account with
ListCertificates, attributed to its CA from the inventory, the rest under NO_REGISTERED_CA."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from botocore.awsrequest import AWSResponse

from cert_audit import emulator, handler
from cert_audit.account_scan import NO_REGISTERED_CA
from cert_audit.emulator import (
    device_certificate_pem,
    inject_faults,
    seed_ca,
    seed_certificates,
    seed_device_certificates,
)
from cert_audit.findings import DEVICE_EXPIRED
from tests.integration.test_inventory import (  # noqa: F401 - fresh_inventory_client is an autouse fixture
    fresh_inventory_client,
    make_inventory_table,
)

NOW = datetime.now(UTC)


@pytest.fixture
def account(backend, alerts, monkeypatch) -> dict[str, str]:
    """A registered CA with three certificates (one REVOKED), and two certificates without a CA (as
    CreateKeysAndCertificate makes them): one INACTIVE, one ACTIVE and expired. Every CA audited."""
    monkeypatch.setenv("AUDIT_SCOPE", "account")
    ca = seed_ca(backend, "registered")
    pem = lambda days: device_certificate_pem(NOW + timedelta(days=days))  # noqa: E731
    ids = {"ca": ca}
    ids["ca-active"], ids["ca-active-2"] = seed_device_certificates(backend, ca, [pem(300), pem(301)])
    [ids["ca-revoked"]] = seed_device_certificates(backend, ca, [pem(302)], "REVOKED")
    [ids["aws-inactive"]] = seed_device_certificates(backend, None, [pem(303)], "INACTIVE")
    [ids["aws-expired"]] = seed_device_certificates(backend, None, [pem(-1)], "ACTIVE")
    return ids


def by_ca(result: dict) -> dict[str, dict]:
    return {ca["caCertificateId"]: ca for ca in result["cas"]}


def findings(alerts) -> list[dict]:
    return json.loads(alerts.published()[-1]["Message"]["default"])["findings"]


def test_every_certificate_is_audited_and_attributed_once_the_inventory_knows_it(account, alerts, context, monkeypatch):
    # Given the inventory, When the audit runs twice in the account scope
    make_inventory_table(monkeypatch)
    first = handler.lambda_handler({}, context)
    second = handler.lambda_handler({}, context)

    # Then the first run sees all five certificates, none attributed yet, and describes them
    assert first["summary"]["certificatesScanned"] == 5
    assert by_ca(first)[NO_REGISTERED_CA]["certificatesScanned"] == 5
    assert first["summary"]["inventory"]["describedThisRun"] == 5
    # ... the second puts the CA's three under it and the two made without a CA under NO_REGISTERED_CA
    cas = by_ca(second)
    assert cas[account["ca"]]["certificatesScanned"] == 3
    assert cas[account["ca"]]["byStatus"]["REVOKED"] == 1 and cas[account["ca"]]["status"] == "ACTIVE"
    assert cas[NO_REGISTERED_CA]["certificatesScanned"] == 2
    assert second["summary"]["certificatesScanned"] == 5 and second["summary"]["casFailed"] == 0
    # ... and the certificates outside any CA get their findings, under NO_REGISTERED_CA
    found = {(f["certificateId"], f["type"]): f["caCertificateId"] for f in findings(alerts)}
    assert found[(account["aws-inactive"], "CERTIFICATE_STATUS")] == NO_REGISTERED_CA
    assert found[(account["aws-expired"], DEVICE_EXPIRED)] == NO_REGISTERED_CA
    assert found[(account["ca-revoked"], "CERTIFICATE_STATUS")] == account["ca"]


def test_without_the_inventory_every_certificate_is_under_no_registered_ca(account, alerts, context):
    result = handler.lambda_handler({}, context)
    cas = by_ca(result)
    assert cas[NO_REGISTERED_CA]["certificatesScanned"] == 5
    assert cas[account["ca"]]["certificatesScanned"] == 0  # still described: the CA checks ran
    assert cas[account["ca"]]["status"] == "ACTIVE"
    assert result["summary"]["inventory"] is None
    assert result["summary"]["byType"]["CERTIFICATE_STATUS"] == 2


def marker_of(request) -> str | None:
    return parse_qs(urlparse(request.url).query).get("marker", [None])[0]


@pytest.fixture
def big(backend, alerts, monkeypatch) -> int:
    """3,000 certificates without a CA, 12 pages of 250 (60 times the other tests' fleets)."""
    monkeypatch.setenv("AUDIT_SCOPE", "account")
    statuses = ["ACTIVE"] * 2_900 + ["REVOKED"] * 100
    seed_certificates(backend, None, statuses)
    return len(statuses)


def test_three_thousand_certificates_are_listed_in_pages(big, context):
    pages = []
    inject_faults(handler.clients()[0], "ListCertificates", lambda r: pages.append(marker_of(r)))
    result = handler.lambda_handler({}, context)
    assert len(pages) == 12 and len(set(pages)) == 12
    assert result["summary"]["certificatesScanned"] == big
    assert result["summary"]["byStatus"]["REVOKED"] == 100


def test_a_throttled_listing_is_ridden_out(big, context):
    tries = []
    inject_faults(
        handler.clients()[0],
        "ListCertificates",
        lambda r: (tries.append(1), "ThrottlingException")[1] if marker_of(r) and len(tries) < 3 else None,
    )
    result = handler.lambda_handler({}, context)
    assert result["summary"]["certificatesScanned"] == big and result["summary"]["throttles"] == 3


def crafted(body: dict) -> AWSResponse:
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": "crafted"}
    return AWSResponse(handler.clients()[0].meta.endpoint_url, 200, headers, emulator._Body(json.dumps(body).encode()))


@pytest.mark.parametrize(
    "fault, code",
    [
        ("AccessDeniedException", "AccessDeniedException"),
        ("InternalFailureException", "InternalFailureException"),
        ("not a list", "MalformedResponse"),
        ("marker again", "PagingLoop"),
    ],
)
def test_a_listing_that_fails_on_page_three_keeps_what_was_listed(big, alerts, context, fault, code):
    # Given the third ListCertificates page fails this way
    seen = []

    def third_page(request):
        seen.append(marker_of(request))
        if len(seen) < 3:
            return None
        if fault == "not a list":
            return crafted({"certificates": "many"})
        if fault == "marker again":
            return crafted({"certificates": [], "nextMarker": seen[1]})
        return fault

    inject_faults(handler.clients()[0], "ListCertificates", third_page)

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then the listing is a failed pseudo-CA naming the error, the two pages read are counted, the report goes out
    listing = by_ca(result)["*"]
    read = 3 if fault == "marker again" else 2  # the looping page was read (empty), its marker refused
    assert listing["error"]["code"] == code
    assert f"ListCertificates stopped after {read} pages" in listing["error"]["message"]
    assert result["summary"]["certificatesScanned"] == 500
    assert result["summary"]["casFailed"] == 1
    assert alerts.published()
