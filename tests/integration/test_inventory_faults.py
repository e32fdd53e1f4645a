"""The inventory (issue 13) under fault: every call it adds (DescribeCertificate, the cache's Scan and
BatchWriteItem) throttled, refused, hanging or answered malformed, through botocore's before-send
hook, so botocore's parsing and the engine's retries run; and its lists at 100x."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

from cert_audit import emulator, handler, inventory
from cert_audit.calls import ATTEMPT_MAX_S, RETRY_ATTEMPTS
from cert_audit.emulator import (
    device_certificate_pem,
    inject_faults,
    seed_ca,
    seed_certificates,
    seed_device_certificates,
)
from cert_audit.findings import DEVICE_EXPIRED, WEAK_KEY
from tests.integration.conftest import REGION
from tests.integration.test_inventory import (  # noqa: F401 - fresh_inventory_client is an autouse fixture
    TABLE,
    Describes,
    certificate_id_of,
    fresh_inventory_client,
    make_inventory_table,
    seed_mixed,
)
from tests.integration.test_memory_faults import inject_faults as refuse_writes
from tests.integration.test_memory_faults import json_error

NOW = datetime.now(UTC)


@pytest.fixture
def inventory_table(aws, alerts, monkeypatch):
    return make_inventory_table(monkeypatch)


@pytest.fixture
def mixed(backend, inventory_table, monkeypatch) -> dict[str, str]:
    return seed_mixed(backend, monkeypatch)


def iot():
    return handler.clients()[0]


def cache_client():
    return inventory.dynamodb_client(REGION)


def errors_of(result: dict) -> list[dict]:
    return [error for error in result["errors"] if error["source"] == "inventory"]


def types_of(result_report: dict, certificate_id: str) -> set[str]:
    return {f["type"] for f in result_report["findings"] if f["certificateId"] == certificate_id}


def published(alerts) -> dict:
    return json.loads(alerts.published()[-1]["Message"]["default"])


def rest_json(body: bytes, status: int = 200) -> AWSResponse:
    """A crafted IoT (rest-json) answer."""
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": "crafted"}
    return AWSResponse(iot().meta.endpoint_url, status, headers, emulator._Body(body))


# --- DescribeCertificate ------------------------------------------------------------------------


def test_a_throttled_describe_is_ridden_out(mixed, alerts, context):
    # Given IoT throttles the first three DescribeCertificate attempts of the RSA-1024 certificate
    tries = []

    def throttle(request):
        if certificate_id_of(request) == mixed["rsa1024"]:
            tries.append(1)
            return "ThrottlingException" if len(tries) <= 3 else None
        return None

    inject_faults(iot(), "DescribeCertificate", throttle)

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then it was described on the fourth attempt, the throttles counted, nothing failed
    coverage = result["summary"]["inventory"]
    assert (coverage["described"], coverage["failed"], coverage["throttles"]) == (6, 0, 3)
    assert types_of(published(alerts), mixed["rsa1024"]) == {WEAK_KEY}
    assert errors_of(result) == []


def hang(virtual_time):
    def rule(request):
        virtual_time.advance(ATTEMPT_MAX_S, None)
        return ReadTimeoutError(endpoint_url=request.url)

    return rule


MALFORMED = {
    "not JSON": b"<html>gateway</html>",
    "no description": b"{}",
    "description not an object": b'{"certificateDescription": "yes"}',
    "no PEM, no validity": b'{"certificateDescription": {"certificateId": "x", "certificatePem": "garbage"}}',
}


@pytest.mark.parametrize(
    "fault, code, attempts",
    [
        ("AccessDeniedException", "AccessDeniedException", 1),
        ("InternalFailureException", "InternalFailureException", RETRY_ATTEMPTS),
        ("hang", "ReadTimeoutError", RETRY_ATTEMPTS),
        *[(name, "MalformedResponse", 1) for name in MALFORMED],
    ],
)
def test_a_failing_describe_costs_no_other_certificate_and_is_described_again_next_run(
    mixed, inventory_table, alerts, context, virtual_time, fault, code, attempts
):
    # Given every DescribeCertificate of the expired certificate fails this way
    tries = []
    answers = {
        "hang": hang(virtual_time),
        **{name: (lambda r, b=body: rest_json(b)) for name, body in MALFORMED.items()},
    }

    def fail(request):
        if certificate_id_of(request) != mixed["expired"]:
            return None
        tries.append(1)
        return answers[fault](request) if fault in answers else fault

    remove = inject_faults(iot(), "DescribeCertificate", fail)

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then that certificate failed (after the retries its error deserves), every other one was
    # described and checked, the run error names the code, and the report went out
    assert len(tries) == attempts
    coverage = result["summary"]["inventory"]
    assert (coverage["described"], coverage["failed"], coverage["remaining"]) == (5, 1, 1)
    [error] = errors_of(result)
    assert error["code"] == code and "described again by the next run" in error["message"]
    report = published(alerts)
    assert types_of(report, mixed["rsa1024"]) == {WEAK_KEY}
    assert types_of(report, mixed["expired"]) == set()
    # ... and the next run, the fault gone, describes it alone
    remove()
    describes = Describes()
    handler.lambda_handler({}, context)
    assert describes.calls == [mixed["expired"]]
    assert types_of(published(alerts), mixed["expired"]) == {DEVICE_EXPIRED}


def test_a_certificate_deleted_between_listing_and_describe_is_no_error(mixed, alerts, context):
    # Given one certificate is gone when it is described
    inject_faults(
        iot(),
        "DescribeCertificate",
        lambda r: "ResourceNotFoundException" if certificate_id_of(r) == mixed["healthy"] else None,
    )
    # When the audit runs
    result = handler.lambda_handler({}, context)
    # Then it is neither a failure nor an error; the rest is described
    coverage = result["summary"]["inventory"]
    assert (coverage["described"], coverage["failed"]) == (5, 0)
    assert errors_of(result) == []


def test_an_unreadable_pem_with_a_validity_is_still_checked_for_expiry(mixed, inventory_table, alerts, context):
    # Given IoT answers the expired certificate with a PEM nobody can read but a validity
    not_after = (NOW - timedelta(days=1)).timestamp()
    body = {
        "certificateDescription": {
            "certificateId": mixed["expired"],
            "certificatePem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "validity": {"notBefore": not_after - 86400, "notAfter": not_after},
        }
    }
    inject_faults(
        iot(),
        "DescribeCertificate",
        lambda r: rest_json(json.dumps(body).encode()) if certificate_id_of(r) == mixed["expired"] else None,
    )
    # When the audit runs
    result = handler.lambda_handler({}, context)
    # Then it is counted as an unreadable PEM, cached with an unknown key, and its expiry is a finding
    assert result["summary"]["inventory"]["unreadablePems"] == 1
    assert types_of(published(alerts), mixed["expired"]) == {DEVICE_EXPIRED}
    item = inventory_table.get_item(TableName=TABLE, Key={"certificateId": {"S": mixed["expired"]}})["Item"]
    assert item["keyType"]["S"] == "UNKNOWN"


# --- the cache: Scan and BatchWriteItem -----------------------------------------------------------


def test_a_cache_that_cannot_be_read_describes_nothing_and_the_audit_goes_on(mixed, alerts, context):
    # Given the cache's Scan is refused
    inject_faults(cache_client(), "Scan", lambda r: json_error(cache_client(), "AccessDeniedException"))
    describes = Describes()
    # When the audit runs
    result = handler.lambda_handler({}, context)
    # Then nothing is described (it could describe certificates a second time), the run error says
    # so, and the status audit and its report are whole
    assert describes.calls == []
    assert result["summary"]["inventory"] is None
    [error] = errors_of(result)
    assert error["code"] == "AccessDeniedException" and "nothing was described" in error["message"]
    assert result["summary"]["byType"]["CERTIFICATE_STATUS"] == 1
    assert alerts.published()


def test_a_throttled_cache_read_is_ridden_out(mixed, alerts, context):
    tries = []
    inject_faults(
        cache_client(),
        "Scan",
        lambda r: (
            (tries.append(1), json_error(cache_client(), "ProvisionedThroughputExceededException"))[1]
            if len(tries) < 2
            else None
        ),
    )
    result = handler.lambda_handler({}, context)
    assert result["summary"]["inventory"]["described"] == 6 and errors_of(result) == []


def test_a_cache_scan_whose_key_repeats_is_an_error_not_a_loop(mixed, alerts, context):
    # Given the cache answers every Scan with a page and the same LastEvaluatedKey
    page = {"Items": [], "Count": 0, "ScannedCount": 0, "LastEvaluatedKey": {"certificateId": {"S": "a"}}}
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "crafted"}
    client = cache_client()
    inject_faults(
        client,
        "Scan",
        lambda r: AWSResponse(client.meta.endpoint_url, 200, headers, emulator._Body(json.dumps(page).encode())),
    )
    # When the audit runs, Then the loop is a PagingLoop error and the audit ends
    result = handler.lambda_handler({}, context)
    assert [error["code"] for error in errors_of(result)] == ["PagingLoop"]


def test_a_malformed_cache_entry_is_described_again_and_written_over(mixed, inventory_table, alerts, context):
    # Given a cache entry of the RSA-1024 certificate without its key type
    item = {"certificateId": {"S": mixed["rsa1024"]}, "keySize": {"N": "1024"}, "notAfter": {"N": "1"}}
    inventory_table.put_item(TableName=TABLE, Item=item)
    describes = Describes()
    # When the audit runs
    handler.lambda_handler({}, context)
    # Then it is described (with the others) and its entry is whole again
    assert mixed["rsa1024"] in describes.calls
    fixed = inventory_table.get_item(TableName=TABLE, Key={"certificateId": {"S": mixed["rsa1024"]}})["Item"]
    assert fixed["keyType"]["S"] == "RSA"


def test_entries_that_cannot_be_written_are_an_error_and_described_once_more(mixed, inventory_table, alerts, context):
    # Given the cache refuses every write
    remove = refuse_writes(
        cache_client(), "BatchWriteItem", lambda r: json_error(cache_client(), "AccessDeniedException")
    )
    # When the audit runs
    result = handler.lambda_handler({}, context)
    # Then the findings are there, the error says the entries were not written
    [error] = errors_of(result)
    assert error["code"] == "AccessDeniedException" and "6 of 6 inventory entries were not written" in error["message"]
    assert result["summary"]["byType"][WEAK_KEY] == 1
    # ... and the next run describes them again (the only way to fill the cache)
    remove()
    describes = Describes()
    handler.lambda_handler({}, context)
    assert len(describes.calls) == 6
    assert len(inventory_table.scan(TableName=TABLE)["Items"]) == 6


def test_throttled_writes_are_ridden_out(mixed, inventory_table, alerts, context):
    tries = []
    refuse_writes(
        cache_client(),
        "BatchWriteItem",
        lambda r: (
            (tries.append(1), json_error(cache_client(), "ProvisionedThroughputExceededException"))[1]
            if len(tries) < 3
            else None
        ),
    )
    result = handler.lambda_handler({}, context)
    assert errors_of(result) == [] and len(inventory_table.scan(TableName=TABLE)["Items"]) == 6


def test_a_hanging_inventory_ends_before_the_deadline_and_the_report_goes_out(mixed, alerts, virtual_time):
    # Given every DescribeCertificate hangs, and a function timeout that leaves little time
    inject_faults(iot(), "DescribeCertificate", hang(virtual_time))
    context = emulator.LambdaContext(timeout_ms=handler.TIME_RESERVE_MS + 120_000, clock=virtual_time.monotonic)
    # When the audit runs
    result = handler.lambda_handler({}, context)
    # Then it returns with time to spare, the report published, nothing described
    assert context.get_remaining_time_in_millis() > 0
    assert result["summary"]["inventory"]["described"] == 0
    assert alerts.published()


# --- 100x -------------------------------------------------------------------------------------


def test_a_cache_of_thousands_answers_in_pages_without_a_describe(
    backend, inventory_table, alerts, context, monkeypatch
):
    # Given 3,000 listed certificates (500 times the other tests'), all in the cache: 1.2 MB, two Scan pages
    ca = seed_ca(backend, "big")
    ids = seed_certificates(backend, ca, ["ACTIVE"] * 2_990 + ["REVOKED"] * 10)
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ca)
    expires = str(int((NOW + timedelta(days=80)).timestamp()))
    weak = set(ids[:7])
    requests = [
        {
            "PutRequest": {
                "Item": {
                    "certificateId": {"S": certificate_id},
                    "keyType": {"S": "RSA"},
                    "keySize": {"N": "1024" if certificate_id in weak else "2048"},
                    "signatureHash": {"S": "SHA256"},
                    "notBefore": {"N": "0"},
                    "notAfter": {"N": str(int((NOW + timedelta(days=700)).timestamp()))},
                    "issuer": {"S": "CN=" + "Fleet CA " * 40},  # ~400 bytes an entry
                    "expiresAt": {"N": expires},
                }
            }
        }
        for certificate_id in ids
    ]
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for start in range(0, len(requests), 25):
        dynamodb.batch_write_item(RequestItems={TABLE: requests[start : start + 25]})
    pages = []
    inject_faults(cache_client(), "Scan", lambda r: pages.append(1))
    describes = Describes()

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then the whole cache was read in pages, nothing described, the 7 weak keys found
    assert len(pages) > 1
    assert describes.calls == []
    coverage = result["summary"]["inventory"]
    assert (coverage["described"], coverage["total"], coverage["remaining"]) == (3_000, 3_000, 0)
    assert result["summary"]["byType"][WEAK_KEY] == 7
    assert coverage["activeByKey"] == {"RSA-1024": 7, "RSA-2048": 2_983}


def test_a_hundred_times_the_budget_waits_its_turn(backend, inventory_table, alerts, context, monkeypatch):
    # Given 2,000 certificates not yet described and a budget of 20 a run
    ca = seed_ca(backend, "many")
    pem = [device_certificate_pem(NOW + timedelta(days=300)) for _ in range(2_000)]
    seed_device_certificates(backend, ca, pem)
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ca)
    monkeypatch.setenv("INVENTORY_RATE_LIMIT", "2")
    monkeypatch.setenv("INVENTORY_TIME_BUDGET_SECONDS", "10")
    describes = Describes()
    # When the audit runs
    coverage = handler.lambda_handler({}, context)["summary"]["inventory"]
    # Then 20 were described, the rest are told in runs to go
    assert len(describes.calls) == len(set(describes.calls)) == 20
    assert (coverage["described"], coverage["remaining"], coverage["runsToComplete"]) == (20, 1_980, 99)
