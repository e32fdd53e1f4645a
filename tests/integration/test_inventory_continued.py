"""The inventory (issue 13) in a run the state machine continues over several invocations (issue 12):
each invocation checks its own pages against the cache, the run's coverage adds up its invocations',
and no certificate is described twice."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from cert_audit import handler
from cert_audit.emulator import inject_faults, seed_ca, seed_certificates
from cert_audit.inventory import PROGRESS_PREFIX
from tests.integration.conftest import REGION
from tests.integration.state_machine import install
from tests.integration.test_inventory import (  # noqa: F401 - fresh_inventory_client is an autouse fixture
    TABLE,
    Describes,
    fresh_inventory_client,
    make_inventory_table,
)

PAGE_S = 100  # virtual seconds a ListCertificatesByCA page takes: an invocation reads about 7
SIZE = 4_000  # 16 pages: three invocations (one CA, so the pages' virtual time does not add up across CAs)
UNCACHED = 40  # the newest certificates (the first page: IoT lists newest first), not in the cache yet


@pytest.fixture
def fleet(backend, alerts, monkeypatch, virtual_time):
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="reports")
    monkeypatch.setenv("REPORT_BUCKET_NAME", "reports")
    monkeypatch.setenv("NOTIFY_ON", "always")
    monkeypatch.setenv("IOT_RATE_LIMIT", "100")
    make_inventory_table(monkeypatch)
    # Describes as fast as the emulator answers, for the whole invocation: the test's virtual clock
    # adds up every thread's waits, so a slower rate would race the pages' 100 s for its turns.
    monkeypatch.setenv("INVENTORY_RATE_LIMIT", "100")
    monkeypatch.setenv("INVENTORY_TIME_BUDGET_SECONDS", "840")
    ca = seed_ca(backend, "fleet")
    ids = seed_certificates(backend, ca, ["ACTIVE"] * SIZE)
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ca)
    # Every certificate but the last UNCACHED already described: an EC-256 key expiring in 200 days
    not_after = str(int((datetime.now(UTC) + timedelta(days=200)).timestamp()))
    expires = str(int((datetime.now(UTC) + timedelta(days=80)).timestamp()))
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    items = [
        {
            "PutRequest": {
                "Item": {
                    "certificateId": {"S": certificate},
                    "keyType": {"S": "EC"},
                    "keySize": {"N": "256"},
                    "signatureHash": {"S": "SHA256"},
                    "notBefore": {"N": "0"},
                    "notAfter": {"N": not_after},
                    "expiresAt": {"N": expires},
                }
            }
        }
        for certificate in ids[: len(ids) - UNCACHED]
    ]
    for start in range(0, len(items), 25):
        dynamodb.batch_write_item(RequestItems={TABLE: items[start : start + 25]})
    inject_faults(handler.clients()[0], "ListCertificatesByCA", lambda r: virtual_time.advance(PAGE_S, None))
    return ids


def report_of(execution: dict) -> dict:
    uri = execution["output"]["outcome"]["reportUri"]
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)["Body"].read()
    return json.loads(gzip.decompress(body))


def test_a_continued_run_adds_up_its_invocations_coverage(fleet, aws, monkeypatch, virtual_time):
    # Given a fleet one invocation cannot list, nearly all of it in the cache
    machine = install(monkeypatch, virtual_time, max_continuations=10)
    describes = Describes()

    # When the state machine runs
    execution = machine.run({})

    # Then it took several invocations, and the report's coverage is the whole run's, not the last invocation's
    assert execution["status"] == "SUCCEEDED", execution
    assert machine.tasks >= 3
    report = report_of(execution)
    coverage = report["summary"]["inventory"]
    assert coverage["total"] == SIZE == report["summary"]["certificatesScanned"]
    assert coverage["described"] + coverage["remaining"] == SIZE
    assert coverage["describedThisRun"] == len(describes.calls) >= 1
    assert coverage["activeByKey"]["EC-256"] == SIZE - UNCACHED
    # ... and the run's counts were kept in the table between invocations
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    keys = {item["certificateId"]["S"] for item in dynamodb.scan(TableName=TABLE)["Items"]}
    assert PROGRESS_PREFIX + report["auditId"] in keys

    # When runs go on until the cache is full, Then each uncached certificate was described exactly once
    for _ in range(4):
        if coverage["remaining"] == 0:
            break
        coverage = report_of(machine.run({}))["summary"]["inventory"]
    assert coverage["remaining"] == 0 and coverage["described"] == SIZE
    assert sorted(describes.calls) == sorted(fleet[-UNCACHED:])
