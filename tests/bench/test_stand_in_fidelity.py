"""The benchmark's stand-in IoT server speaks the real wire format: checked through botocore, with
moto as the oracle where moto implements the operation (ListCertificatesByCA, unpaginated)."""

from __future__ import annotations

import json
import math
import re
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from bench.fleet import Fleet, render
from bench.server import StandInIoT, TokenBucket, serving

NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})  # max_attempts counts retries
MARKER_PATTERN = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")  # botocore model: shape Marker
CA_PEM = "-----BEGIN CERTIFICATE-----\nbench-ca\n-----END CERTIFICATE-----"


def iot_client(endpoint: str, config: Config = NO_RETRIES):
    return boto3.client("iot", region_name="us-east-1", endpoint_url=endpoint, config=config)


def list_all(iot, ca_id: str, page_size: int) -> tuple[list[dict], list[dict]]:
    """Every certificate of the CA by following nextMarker; also the raw responses."""
    certificates, responses, request = [], [], {"caCertificateId": ca_id, "pageSize": page_size}
    while True:
        response = iot.list_certificates_by_ca(**request)
        responses.append(response)
        certificates += response["certificates"]
        if not response.get("nextMarker"):
            return certificates, responses
        request["marker"] = response["nextMarker"]


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return Fleet.build(ca_count=3, certificates_per_ca=1003, flagged_share=0.1)


@pytest.fixture(scope="module")
def endpoint(fleet):
    with serving(StandInIoT(fleet)) as url:
        yield url


def moto_fleet(statuses: list[str]) -> tuple[str, list[dict], bytes]:
    """Register a CA and its device certificates in moto; its parsed listing and raw response body."""
    bodies = []
    with mock_aws():
        iot = boto3.client("iot", region_name="us-east-1")
        ca_id = iot.register_ca_certificate(caCertificate=CA_PEM, verificationCertificate="v", setAsActive=True)[
            "certificateId"
        ]
        for index, status in enumerate(statuses):
            iot.register_certificate(
                certificatePem=f"-----BEGIN CERTIFICATE-----\ndevice-{index}\n-----END CERTIFICATE-----",
                caCertificatePem=CA_PEM,
                setAsActive=False,
                status=status,
            )
        iot.meta.events.register(
            "before-parse.iot.ListCertificatesByCA", lambda response_dict, **_: bodies.append(response_dict["body"])
        )
        certificates = iot.list_certificates_by_ca(caCertificateId=ca_id)["certificates"]
    return ca_id, certificates, bodies[0]


def test_same_fleet_parses_the_same_through_botocore_as_moto():
    # Given a CA with certificates of every status in moto, and the stand-in serving moto's certificates
    statuses = ["ACTIVE", "REVOKED", "INACTIVE", "REGISTER_INACTIVE", "PENDING_TRANSFER", "PENDING_ACTIVATION"] * 3
    ca_id, from_moto, moto_body = moto_fleet(statuses)
    wire_certificates = json.loads(moto_body)["certificates"]
    api = StandInIoT(Fleet([render(ca_id, wire_certificates)]))

    # When the stand-in's pages (3 at a time) are listed through botocore
    with serving(api) as url:
        from_stand_in, responses = list_all(iot_client(url), ca_id, page_size=3)

    # Then botocore parses exactly what it parsed from moto, types and all, over 6 pages
    assert from_stand_in == from_moto
    assert [type(c["creationDate"]) for c in from_stand_in] == [type(c["creationDate"]) for c in from_moto]
    assert len(responses) == 6
    assert all(r["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/json" for r in responses)


def test_generated_certificates_have_exactly_the_models_fields(endpoint, fleet):
    # Given the fields of the Certificate shape in botocore's service model
    model = boto3.client("iot", region_name="us-east-1").meta.service_model
    members = set(model.shape_for("Certificate").members)
    # When a generated page is listed
    page = iot_client(endpoint).list_certificates_by_ca(caCertificateId=fleet.cas[0].ca_certificate_id, pageSize=5)
    # Then every certificate carries every field of the shape and no other, with model-valid values
    assert [set(c) for c in page["certificates"]] == [members] * 5
    statuses = set(model.shape_for("CertificateStatus").enum)
    assert {c["status"] for c in page["certificates"]} <= statuses
    assert all(c["certificateArn"].endswith("/" + c["certificateId"]) for c in page["certificates"])


@pytest.mark.parametrize("page_size", [1, 7, 250])
def test_marker_walk_returns_every_certificate_exactly_once_in_order(endpoint, fleet, page_size):
    # Given a CA of 1003 certificates
    ca = fleet.cas[1]
    expected_ids = [c["certificateId"] for c in json.loads(b"[" + ca.slice(0, ca.count) + b"]")]
    # When its pages are walked by following nextMarker
    certificates, responses = list_all(iot_client(endpoint), ca.ca_certificate_id, page_size)
    # Then each certificate comes once, in order, in ceil(N / pageSize) pages; the last has no marker
    assert [c["certificateId"] for c in certificates] == expected_ids
    assert len(responses) == math.ceil(1003 / page_size)
    assert "nextMarker" not in responses[-1]
    assert all(MARKER_PATTERN.match(r["nextMarker"]) for r in responses[:-1])


def test_botocore_paginator_walks_the_stand_in(endpoint, fleet):
    # Given the paginator botocore defines for the operation (input marker, output nextMarker)
    paginator = iot_client(endpoint).get_paginator("list_certificates_by_ca")
    # When it lists a CA
    pages = list(paginator.paginate(caCertificateId=fleet.cas[2].ca_certificate_id, PaginationConfig={"PageSize": 250}))
    # Then it stops after the exact number of pages with every certificate
    assert len(pages) == 5
    assert sum(len(p["certificates"]) for p in pages) == 1003


def test_ca_certificates_are_listed_across_pages(endpoint, fleet):
    # Given three CAs; When ListCACertificates is walked one CA per page
    iot = iot_client(endpoint)
    ids, request = [], {"pageSize": 1}
    while True:
        response = iot.list_ca_certificates(**request)
        ids += [ca["certificateId"] for ca in response["certificates"]]
        if "nextMarker" not in response:
            break
        request["marker"] = response["nextMarker"]
    # Then every CA comes once, in order
    assert ids == [ca.ca_certificate_id for ca in fleet.cas]


def test_page_size_above_250_is_an_invalid_request(endpoint, fleet):
    # Given the model's bound pageSize <= 250 (botocore checks only the lower bound itself)
    # When a client asks for 251
    with pytest.raises(ClientError) as raised:
        iot_client(endpoint).list_certificates_by_ca(caCertificateId=fleet.cas[0].ca_certificate_id, pageSize=251)
    # Then the server answers InvalidRequestException, status 400, naming pageSize and the bound
    error = raised.value.response
    assert error["Error"]["Code"] == "InvalidRequestException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "pageSize" in error["Error"]["Message"] and "250" in error["Error"]["Message"]


@pytest.mark.parametrize("page_size", ["0", "-1", "ten"])
def test_page_size_below_1_or_not_a_number_is_an_invalid_request_on_the_wire(endpoint, fleet, page_size):
    # Given a raw request that botocore would refuse to send
    url = f"{endpoint}/certificates-by-ca/{fleet.cas[0].ca_certificate_id}?pageSize={page_size}"
    # When it reaches the server
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(url)
    # Then the error has the model's status, the x-amzn-ErrorType header and a JSON message
    assert raised.value.code == 400
    assert raised.value.headers["x-amzn-ErrorType"] == "InvalidRequestException"
    assert "pageSize" in json.loads(raised.value.read())["message"]


def test_marker_of_another_ca_or_garbage_is_an_invalid_request(endpoint, fleet):
    # Given a valid marker of CA 0
    iot = iot_client(endpoint)
    first = iot.list_certificates_by_ca(caCertificateId=fleet.cas[0].ca_certificate_id, pageSize=10)
    replays = [(fleet.cas[1].ca_certificate_id, first["nextMarker"]), (fleet.cas[0].ca_certificate_id, "AAAA")]
    for ca_id, marker in replays:
        # When it is replayed against CA 1, or a marker that the server never issued is sent
        with pytest.raises(ClientError) as raised:
            iot.list_certificates_by_ca(caCertificateId=ca_id, pageSize=10, marker=marker)
        # Then the server refuses it
        assert raised.value.response["Error"]["Code"] == "InvalidRequestException"


def test_unknown_ca_has_no_certificates(endpoint):
    # Given a well-formed CA ID that is not registered; When it is listed; Then the page is empty
    response = iot_client(endpoint).list_certificates_by_ca(caCertificateId="ab" * 32)
    assert response["certificates"] == [] and "nextMarker" not in response


class DenyFirst:
    """A quota that refuses the first `times` requests, then lets everything through."""

    def __init__(self, times: int):
        self.left = times

    def take(self) -> bool:
        self.left -= 1
        return self.left < 0


def test_throttling_parses_to_the_models_throttling_exception(fleet):
    # Given a server whose quota refuses the next request
    api = StandInIoT(fleet)
    api.quota = DenyFirst(1)
    with serving(api) as url:
        iot = iot_client(url)
        # When a client without retries calls it
        with pytest.raises(iot.exceptions.ThrottlingException) as raised:
            iot.list_certificates_by_ca(caCertificateId=fleet.cas[0].ca_certificate_id)
    # Then botocore raises the modeled ThrottlingException (status 400) with the service's message
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert raised.value.response["Error"]["Message"] == "Rate exceeded"


def test_botocore_retries_a_throttled_request_until_it_succeeds(fleet):
    # Given a server that throttles the next two requests, and botocore's standard retries
    api = StandInIoT(fleet)
    api.quota = DenyFirst(2)
    with serving(api) as url:
        iot = iot_client(url, Config(retries={"mode": "standard", "max_attempts": 5}))
        # When a page is requested
        response = iot.list_certificates_by_ca(caCertificateId=fleet.cas[0].ca_certificate_id, pageSize=250)
    # Then botocore retried twice (it recognised the throttling) and got the page
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(response["certificates"]) == 250
    assert api.traffic.rejected("ThrottlingException") == 2
    assert api.traffic.pages("ListCertificatesByCA") == 1


def test_token_bucket_allows_one_request_at_a_time_by_default():
    # Given 10 requests/s with the default burst, on a clock the test moves
    now = [0.0]
    bucket = TokenBucket(10, clock=lambda: now[0])
    # When 2 requests come at once, then 2 more 0.1 s later
    first = [bucket.take(), bucket.take()]
    now[0] = 0.1
    later = [bucket.take(), bucket.take()]
    # Then one passes each time: no burst beyond the rate
    assert first == later == [True, False]


def test_token_bucket_allows_the_burst_then_the_rate():
    # Given 10 requests/s with a burst of 10, on a clock the test moves
    now = [0.0]
    bucket = TokenBucket(10, burst=10, clock=lambda: now[0])
    # When 11 requests come at once, then 0.25 s later 3 more
    first = [bucket.take() for _ in range(11)]
    now[0] = 0.25
    later = [bucket.take() for _ in range(3)]
    # Then the burst passes, the 11th is refused, and 0.25 s earns 2 more requests
    assert first == [True] * 10 + [False]
    assert later == [True, True, False]
