"""Memory across runs (issue 10) on moto: the state table, the S3 archive, EventBridge events
(a rule sends them to an SQS queue, as a user's routing would) and change-only notifications."""

from __future__ import annotations

import csv
import gzip
import io
import json
import uuid
from dataclasses import dataclass

import boto3
import pytest

from cert_audit import emulator, handler
from cert_audit.emulator import inject_faults, seed_ca, seed_certificates
from tests.integration.conftest import REGION, create_table, metric_points

FLEET = ["ACTIVE"] * 20 + ["REVOKED"] * 3 + ["INACTIVE"] * 2


@dataclass
class Memory:
    table: str
    bucket: str
    queue_url: str

    def events(self) -> list[dict]:
        """Every event the rule delivered to the queue so far (and removed from it)."""
        sqs = boto3.client("sqs", region_name=REGION)
        received = []
        while messages := sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages"):
            received += [json.loads(message["Body"]) for message in messages]
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)],
            )
        return received

    def open_ids(self) -> set[str]:
        items = boto3.client("dynamodb", region_name=REGION).scan(TableName=self.table)["Items"]
        return {item["findingId"]["S"] for item in items}

    def archived(self, uri: str) -> bytes:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        got = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)
        assert got["ContentEncoding"] == "gzip"
        return gzip.decompress(got["Body"].read())


@pytest.fixture
def memory(aws, alerts, monkeypatch) -> Memory:
    create_table("state", "findingId")
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="reports")
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="finding-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="audit-findings", EventPattern=json.dumps({"source": ["iot-cert-audit"]}))
    events.put_targets(Rule="audit-findings", Targets=[{"Id": "queue", "Arn": queue_arn}])
    for name, value in {
        "STATE_TABLE_NAME": "state",
        "REPORT_BUCKET_NAME": "reports",
        "EVENT_BUS_NAME": "default",
        "NOTIFY_ON": "changes",
    }.items():
        monkeypatch.setenv(name, value)
    return Memory("state", "reports", queue_url)


@pytest.fixture
def fleet(backend, memory, monkeypatch):
    """Two CAs of FLEET, the only ones configured (after the alert fixtures, which clear
    CA_CERTIFICATE_IDS); the device certificate IDs of each."""
    cas = [seed_ca(backend, name) for name in ("first", "second")]
    certificates = {ca: seed_certificates(backend, ca, FLEET) for ca in cas}
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ",".join(cas))
    return certificates


def run(virtual_time, event: dict | None = None) -> dict:
    """One invocation with a request ID of its own, as Lambda gives each run."""
    context = emulator.LambdaContext(aws_request_id=str(uuid.uuid4()), clock=virtual_time.monotonic)
    return handler.lambda_handler(event or {}, context)


def published_reports(alerts) -> list[dict]:
    return [json.loads(message["Message"]["default"]) for message in alerts.published()]


def test_first_run_marks_every_finding_new_records_archives_and_announces_it(fleet, memory, alerts, virtual_time):
    # When the audit runs for the first time
    result = run(virtual_time)

    # Then every finding is new, recorded, announced once and in the published report
    [report] = published_reports(alerts)
    assert report["changes"] == {"new": 10, "resolved": 0, "ongoing": 0}
    assert all(finding["isNew"] for finding in report["findings"])
    assert memory.open_ids() == {finding["findingId"] for finding in report["findings"]}
    events = memory.events()
    assert sorted(e["detail"]["finding"]["findingId"] for e in events) == sorted(memory.open_ids())
    assert {(e["source"], e["detail-type"], e["detail"]["change"]) for e in events} == {
        ("iot-cert-audit", "IoT Certificate Audit Finding", "NEW")
    }
    assert {e["detail"]["auditId"] for e in events} == {report["auditId"]}
    # And the archive holds the same report, and the findings as CSV beside it
    assert result["reportUri"] == report["reportUri"]
    archived = json.loads(memory.archived(report["reportUri"]))
    assert archived["findings"] == report["findings"]
    rows = list(
        csv.DictReader(io.StringIO(memory.archived(report["reportUri"].replace(".json.gz", ".csv.gz")).decode()))
    )
    assert sorted(row["findingId"] for row in rows) == sorted(memory.open_ids())
    assert report["reportUri"] in alerts.published()[0]["Message"]["email"]
    assert "10 new, 0 resolved, 0 still open" in alerts.published()[0]["Message"]["email"]


def test_an_unchanged_second_run_publishes_nothing_and_sends_no_events(fleet, memory, alerts, virtual_time, capsys):
    # Given a first run
    run(virtual_time)
    memory.events()
    capsys.readouterr()

    # When nothing changed by the second run
    result = run(virtual_time)

    # Then nothing is published or announced; the findings are ongoing, with their firstSeen
    assert len(alerts.published()) == 1
    assert memory.events() == []
    assert result["changes"] == {"new": 0, "resolved": 0, "ongoing": 10}
    archived = json.loads(memory.archived(result["reportUri"]))
    first = published_reports(alerts)[0]
    assert {f["findingId"]: f["firstSeen"] for f in archived["findings"]} == {
        f["findingId"]: f["firstSeen"] for f in first["findings"]
    }
    assert not any(f["isNew"] for f in archived["findings"])
    points = metric_points(capsys.readouterr().out)
    service = (("service", "iot-cert-audit"),)
    assert (points[("NewFindings", service)], points[("OpenFindings", service)]) == (0, 10)


def test_a_revoked_certificate_is_new_and_a_deleted_one_resolved(fleet, memory, alerts, backend, virtual_time):
    # Given a first run, then a certificate revoked and a revoked one deleted
    run(virtual_time)
    memory.events()
    ca = next(iter(fleet))
    revoked_now, deleted = fleet[ca][0], fleet[ca][20]
    backend.certificates[revoked_now].status = "REVOKED"
    del backend.certificates[deleted]

    # When the audit runs again
    run(virtual_time)

    # Then it publishes just that change, leading with it, and announces exactly those two
    first, second = published_reports(alerts)
    assert second["changes"] == {"new": 1, "resolved": 1, "ongoing": 9}
    [new] = [f for f in second["findings"] if f["isNew"]]
    assert new["certificateId"] == revoked_now and second["findings"][0] == new  # new findings first
    [resolved] = second["resolvedFindings"]
    assert resolved["certificateId"] == deleted and resolved["resolvedAt"] >= first["startedAt"]
    kept = {f["findingId"]: f["firstSeen"] for f in first["findings"] if f["certificateId"] != deleted}
    assert {f["findingId"]: f["firstSeen"] for f in second["findings"] if not f["isNew"]} == kept
    assert {(e["detail"]["change"], e["detail"]["finding"]["certificateId"]) for e in memory.events()} == {
        ("NEW", revoked_now),
        ("RESOLVED", deleted),
    }
    email = alerts.published()[1]["Message"]["email"]
    assert "1 new, 1 resolved, 9 still open (oldest since" in email
    assert email.index("New since the last run") < email.index("Still open") < email.index("Resolved since")


def test_a_failed_ca_resolves_nothing_and_is_not_new_again(fleet, memory, alerts, virtual_time):
    # Given a first run, then one CA that cannot be read
    run(virtual_time)
    memory.events()
    failing = next(iter(fleet))
    iot, _ = handler.clients()
    inject_faults(
        iot, "ListCertificatesByCA", lambda request: "AccessDeniedException" if failing in request.url else None
    )

    # When the audit runs again, and then once more after the CA is readable
    second = run(virtual_time)
    iot.meta.events.unregister("before-send.iot.ListCertificatesByCA")
    handler.clients.cache_clear()
    third = run(virtual_time)

    # Then the failed CA's findings stayed open: nothing resolved, nothing new again
    assert second["changes"] == {"new": 0, "resolved": 0, "ongoing": 10}
    assert len(memory.open_ids()) == 10
    assert third["changes"] == {"new": 0, "resolved": 0, "ongoing": 10}
    assert memory.events() == []
    assert len(alerts.published()) == 2  # the first run, and the failed CA (always told)


def test_a_truncated_message_still_archives_every_finding(backend, memory, alerts, monkeypatch, virtual_time):
    # Given more findings than one SNS message holds (events off: 600 of them are moto's slowest part)
    ca = seed_ca(backend, "big")
    seed_certificates(backend, ca, ["REVOKED"] * 600)
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ca)
    monkeypatch.delenv("EVENT_BUS_NAME")

    # When the audit runs
    run(virtual_time)

    # Then the message is cut, and the archive has every finding
    [report] = published_reports(alerts)
    assert report["findingsTruncated"] and report["findingsOmitted"] > 0
    assert len(json.loads(memory.archived(report["reportUri"]))["findings"]) == 600
    assert "every finding is in the archived report" in alerts.published()[0]["Message"]["email"]


def test_a_failed_publish_still_leaves_the_archive(fleet, memory, alerts, virtual_time):
    # Given SNS refuses the publish
    _, sns = handler.clients()
    inject_faults(sns, "Publish", lambda request: "AuthorizationError")

    # When the audit runs, then it fails loudly, and the report was archived before
    with pytest.raises(Exception, match="AuthorizationError"):
        run(virtual_time)
    [key] = [
        o["Key"]
        for o in boto3.client("s3", region_name=REGION).list_objects_v2(Bucket="reports")["Contents"]
        if o["Key"].endswith(".json.gz") and not o["Key"].endswith(".ocsf.json.gz")
    ]
    assert len(json.loads(memory.archived(f"s3://reports/{key}"))["findings"]) == 10


def test_notify_in_the_event_overrides_the_setting(fleet, memory, alerts, virtual_time):
    # Given a first run; when the weekly digest runs with {"notify": "always"} and nothing changed
    run(virtual_time)
    run(virtual_time, {"notify": "always"})

    # Then it publishes the full picture anyway
    digest = published_reports(alerts)[1]
    assert digest["changes"] == {"new": 0, "resolved": 0, "ongoing": 10}
    assert len(digest["findings"]) == 10
