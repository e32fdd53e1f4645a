"""The fast ListCertificatesByCA reader gives exactly what botocore's own parser gives."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from cert_audit import emulator
from cert_audit.aws import CLIENT_CONFIG, make_clients


@pytest.fixture
def fleet():
    emulator.install()
    with mock_aws():
        backend = emulator.iot_backend("us-east-1")
        ca = emulator.seed_ca(backend, "fast")
        emulator.seed_certificates(backend, ca, ["ACTIVE", "REVOKED", "INACTIVE"] * 4, mode="SNI_ONLY")
        yield ca


def test_fast_page_equals_botocores_parse(fleet):
    # Given the audit's client (fast reader) and a plain boto3 client (botocore's parser)
    fast, _ = make_clients()
    plain = boto3.client("iot", config=CLIENT_CONFIG)

    # When both read the same pages
    def pages(client):
        request, out = {"caCertificateId": fleet, "pageSize": 5}, []
        while True:
            response = client.list_certificates_by_ca(**request)
            out.append((response["certificates"], response.get("nextMarker")))
            if not response.get("nextMarker"):
                return out
            request["marker"] = response["nextMarker"]

    fast_pages, plain_pages = pages(fast), pages(plain)

    # Then certificates, markers and dates (aware UTC datetimes) are the same
    assert fast_pages == plain_pages
    assert len(fast_pages) == 3
    first = fast_pages[0][0][0]
    assert first["creationDate"].utcoffset().total_seconds() == 0
    assert first["certificateMode"] == "SNI_ONLY"


def test_errors_still_go_through_botocore(fleet):
    fast, _ = make_clients()
    with pytest.raises(fast.exceptions.InvalidRequestException):
        fast.list_certificates_by_ca(caCertificateId=fleet, pageSize=251)
