"""Issue 12: the state machine's real definition on moto's Step Functions, each task the real
handler on the emulator, IoT pages slow on the virtual clock so that a fleet outgrows one
invocation (see tests/integration/state_machine.py for what was added to moto)."""

from __future__ import annotations

import gzip
import io
import json
import math
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError

from cert_audit import continuation, handler
from cert_audit.emulator import inject_faults, seed_ca, seed_certificates
from tests.integration.conftest import REGION, create_table, metric_points
from tests.integration.state_machine import install

BUCKET = "reports"
# Each ListCertificatesByCA page takes this long (virtual time; a call takes at most 15 s, calls.ATTEMPT_MAX_S).
PAGE_S = 12


def fleet_of(size: int) -> list[str]:
    """A CA's certificates: 1% REVOKED, 1% INACTIVE and a few REGISTER_INACTIVE spread through
    its pages, the rest ACTIVE."""
    statuses = ["ACTIVE"] * size
    for number in range(0, size, 50):
        statuses[number] = "REVOKED" if number % 100 else "INACTIVE"
    for number in (7, size // 2 + 7, size - 7):
        statuses[number] = "REGISTER_INACTIVE"
    return statuses


SIZES = (25_000, 20_000, 15_000)


def ca_of(request) -> str:
    return urlparse(request.url).path.rsplit("/", 1)[-1]


def marker_of(request) -> str | None:
    return parse_qs(urlparse(request.url).query).get("marker", [None])[0]


@pytest.fixture
def bucket(aws, alerts, monkeypatch):
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("REPORT_BUCKET_NAME", BUCKET)
    monkeypatch.setenv("NOTIFY_ON", "always")
    monkeypatch.setenv("IOT_RATE_LIMIT", "100")  # the pages' own latency is what takes the time
    return BUCKET


@pytest.fixture
def cas(backend, bucket, monkeypatch) -> dict[str, int]:
    """Three CAs of SIZES, configured: {CA ID: number of certificates}."""
    sizes = {}
    for number, size in enumerate(SIZES):
        ca = seed_ca(backend, f"ca-{number}")
        seed_certificates(backend, ca, fleet_of(size))
        sizes[ca] = size
    monkeypatch.setenv("CA_CERTIFICATE_IDS", ",".join(sizes))
    return sizes


@dataclass
class Pages:
    """The ListCertificatesByCA requests made, as (CA, marker), and how long each takes."""

    latency_s: float = PAGE_S
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    def of(self, ca: str) -> list[str | None]:
        return [marker for requested, marker in self.requests if requested == ca]


@pytest.fixture
def pages(virtual_time) -> Pages:
    """Every ListCertificatesByCA request takes `latency_s` on the virtual clock, and is recorded."""
    recorded = Pages()

    def slow(request):
        recorded.requests.append((ca_of(request), marker_of(request)))
        virtual_time.advance(recorded.latency_s, None)

    iot, _ = handler.clients()
    inject_faults(iot, "ListCertificatesByCA", slow)
    return recorded


@pytest.fixture
def machine(aws, monkeypatch, virtual_time):
    return install(monkeypatch, virtual_time, max_continuations=20)


def finding_ids(report: dict) -> set[str]:
    return {finding["findingId"] for finding in report["findings"]}


def archived(uri: str) -> dict:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return json.loads(
        gzip.decompress(boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)["Body"].read())
    )


def parts_left() -> list[str]:
    listing = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET)
    return [item["Key"] for item in listing.get("Contents", []) if item["Key"].startswith("parts/")]


def test_a_fleet_five_times_one_invocation_is_audited_completely_in_one_run(
    cas, machine, alerts, context, pages, capsys
):
    # Given what a run with all the time it needs finds (pages without latency) ...
    pages.latency_s = 0
    reference = archived(handler.lambda_handler({}, context)["reportUri"])
    # ... and what one direct invocation scans of the slow fleet before its deadline
    pages.latency_s = PAGE_S
    one = handler.lambda_handler({}, type(context)(aws_request_id="one", clock=context.clock))
    assert {ca["error"]["code"] for ca in one["cas"] if ca["error"]} == {"ScanIncomplete"}
    assert sum(cas.values()) >= 5 * one["summary"]["certificatesScanned"]
    pages.requests.clear()
    published_before = len(alerts.published())
    capsys.readouterr()

    # When the schedule starts the state machine
    execution = machine.run({})

    # Then the run succeeded over several invocations, each continuing where the last stopped
    assert execution["status"] == "SUCCEEDED", execution
    # (an invocation that may hand over scans until 2 minutes before its end, not 5:50 as a direct one)
    assert machine.tasks >= 4
    assert not [answer for answer in machine.answers if "errorType" in answer]
    outcome = execution["output"]["outcome"]
    summary = outcome["summary"]
    assert summary["continuations"] == machine.tasks - 1
    # every CA complete, each page requested once: ceil(N/250) per CA
    assert summary["casFailed"] == 0 and summary["certificatesScanned"] == sum(cas.values())
    for ca, size in cas.items():
        assert len(pages.of(ca)) == math.ceil(size / 250)
        assert len(set(pages.of(ca))) == len(pages.of(ca))
    # one report, with the same findings and counts as the unbounded run, and one notification
    report = archived(outcome["reportUri"])
    assert report["auditId"] == machine.request_ids[0]
    assert finding_ids(report) == finding_ids(reference)
    assert report["summary"]["byStatus"] == reference["summary"]["byStatus"]
    assert [ca["byStatus"] for ca in report["cas"]] == [ca["byStatus"] for ca in reference["cas"]]
    assert len(alerts.published()) == published_before + 1
    # one set of run metrics, from the last invocation, which says how many continuations it took
    points = metric_points(capsys.readouterr().out)
    assert points[("AuditRuns", (("service", "iot-cert-audit"),))] == 1
    assert points[("Continuations", (("service", "iot-cert-audit"),))] == machine.tasks - 1
    # the parts are gone, and nothing large travelled between the states
    assert parts_left() == []
    assert max(len(json.dumps(event)) for event in machine.events) < 10_000


# --- Smaller fleets: PAGE_SIZE=10, one CA at a time, 14 s a page: an invocation that may hand over
# reads about 55 pages (780 s), so two CAs of 600 certificates (60 pages each) take three invocations.

SMALL = 600


@pytest.fixture
def pair(backend, bucket, monkeypatch) -> tuple[str, str]:
    first, second = seed_ca(backend, "first"), seed_ca(backend, "second")
    for ca in (first, second):
        seed_certificates(backend, ca, fleet_of(SMALL))
    monkeypatch.setenv("CA_CERTIFICATE_IDS", f"{first},{second}")
    monkeypatch.setenv("PAGE_SIZE", "10")
    monkeypatch.setenv("SCAN_CONCURRENCY", "1")
    return first, second


@pytest.fixture
def reference(pair, pages, context) -> dict:
    """The report of one invocation with all the time it needs, on the same fleet."""
    pages.latency_s = 0
    report = archived(handler.lambda_handler({}, context)["reportUri"])
    pages.latency_s = 14
    pages.requests.clear()
    return report


def s3_faults(operation: str, rule) -> None:
    inject_faults(handler.client("s3"), operation, rule)


def test_a_run_that_fits_costs_one_task_and_reports_as_a_direct_invocation(pair, reference, machine, pages, alerts):
    # Given pages without latency: the whole fleet fits in one invocation
    pages.latency_s = 0
    published = len(alerts.published())

    # When the state machine runs
    execution = machine.run({})

    # Then one task did it all, wrote no part, and reported as a direct invocation does
    assert execution["status"] == "SUCCEEDED"
    assert machine.tasks == 1
    report = archived(execution["output"]["outcome"]["reportUri"])
    assert report["summary"]["continuations"] == 0 and report["summary"]["restarts"] == 0
    assert finding_ids(report) == finding_ids(reference)
    ours = {k: v for k, v in report["summary"].items() if k not in ("continuations", "restarts")}
    assert ours == reference["summary"]  # the inventory's coverage (issue 13) included
    assert [ca["pages"] for ca in report["cas"]] == [SMALL // 10] * 2
    assert parts_left() == [] and len(alerts.published()) == published + 1


def test_a_refused_marker_restarts_that_ca_from_its_first_page_and_keeps_the_totals_exact(
    pair, reference, machine, pages, alerts
):
    # Given IoT refuses the marker the second invocation resumes the first CA with (an expired one, say)
    first, _ = pair
    iot, _ = handler.clients()
    refused = []

    def refuse_resumed_marker(request):
        if machine.tasks == 2 and not refused and ca_of(request) == first and marker_of(request):
            refused.append(marker_of(request))
            return ("InvalidRequestException", "The marker is not valid")
        return None

    inject_faults(iot, "ListCertificatesByCA", refuse_resumed_marker)

    # When the state machine runs
    execution = machine.run({})

    # Then the first CA was read again from its first page: every page of it once after the restart
    assert execution["status"] == "SUCCEEDED"
    report = archived(execution["output"]["outcome"]["reportUri"])
    line = report["cas"][0]
    assert (line["restarts"], report["summary"]["restarts"]) == (1, 1)
    read_before = machine.events[1]["checkpoint"]["inProgress"][0]["pages"]
    assert refused == [machine.events[1]["checkpoint"]["inProgress"][0]["nextMarker"]]
    assert len(pages.of(first)) == read_before + 1 + SMALL // 10  # + the refused request
    assert line["pages"] == SMALL // 10
    # and the totals and findings are exactly those of the unbounded run
    assert report["summary"]["byStatus"] == reference["summary"]["byStatus"]
    assert [ca["byStatus"] for ca in report["cas"]] == [ca["byStatus"] for ca in reference["cas"]]
    assert finding_ids(report) == finding_ids(reference)
    assert report["summary"]["findings"] == reference["summary"]["findings"]


@pytest.mark.parametrize("maximum", [1, 0])
def test_past_the_maximum_of_continuations_the_rest_is_reported_scan_incomplete(
    pair, reference, aws, monkeypatch, virtual_time, pages, alerts, maximum
):
    # Given a state machine that allows one continuation (or none), and a fleet that needs two
    machine = install(monkeypatch, virtual_time, max_continuations=maximum)
    published = len(alerts.published())

    # When it runs
    execution = machine.run({})

    # Then the invocation the maximum allowed last scanned as a direct invocation would and reported
    # what it did not finish ScanIncomplete, once
    assert execution["status"] == "SUCCEEDED" and machine.tasks == 1 + maximum
    report = archived(execution["output"]["outcome"]["reportUri"])
    assert report["summary"]["continuations"] == maximum
    errors = [ca["error"]["code"] for ca in report["cas"] if ca["error"]]
    assert errors and set(errors) == {"ScanIncomplete"}
    assert report["summary"]["certificatesScanned"] < 2 * SMALL
    assert finding_ids(report) < finding_ids(reference)
    assert len(alerts.published()) == published + 1 and parts_left() == []


def test_a_part_refused_once_is_written_by_the_retried_task_and_nothing_is_lost(
    pair, reference, machine, pages, alerts
):
    # Given S3 refuses the first attempt to write a part
    refusals = []

    def refuse_once(request):
        if "/parts/" in request.url and not refusals:
            refusals.append(request.url)
            return ("AccessDenied", "Access Denied")
        return None

    s3_faults("PutObject", refuse_once)

    # When the state machine runs
    execution = machine.run({})

    # Then the task failed, was retried after a back-off from the same checkpoint, and the run is exact
    assert execution["status"] == "SUCCEEDED" and len(refusals) == 1
    assert [answer["errorType"] for answer in machine.answers if "errorType" in answer] == ["PartError"]
    assert machine.events[1] == machine.events[0] and machine.retry_waits
    report = archived(execution["output"]["outcome"]["reportUri"])
    assert report["summary"]["byStatus"] == reference["summary"]["byStatus"]
    assert finding_ids(report) == finding_ids(reference)
    assert parts_left() == []


def hang(virtual_time):
    """An S3 request that hangs until its read timeout (15 s), then fails as botocore reports it."""

    def fault(request):
        virtual_time.advance(15, None)
        return ReadTimeoutError(endpoint_url=request.url)

    return fault


@pytest.mark.parametrize("fault", ["AccessDenied", "SlowDown", hang])
def test_parts_that_cannot_be_written_end_the_run_reported_with_what_it_has(
    pair, reference, machine, pages, alerts, virtual_time, fault
):
    # Given S3 refuses (or keeps throttling, or hangs on) every write of the second part
    answer = fault(virtual_time) if callable(fault) else fault
    s3_faults(
        "PutObject",
        lambda request: (answer(request) if callable(answer) else answer) if "/00002." in request.url else None,
    )
    published = len(alerts.published())

    # When the state machine runs
    execution = machine.run({})

    # Then the second invocation was tried three times, then the run was reported with what it had,
    # and the execution failed (the alarm on failed executions sees it)
    assert execution["status"] == "FAILED" and execution["error"] == "AuditTaskFailed"
    errors = [answer["errorType"] for answer in machine.answers if "errorType" in answer]
    assert errors == ["PartError"] * 3
    assert "failure" in machine.events[-1]
    [message] = alerts.published()[published:]
    report = json.loads(message["Message"]["default"])
    assert [e["source"] for e in report["errors"]] == ["stateMachine"]
    assert "PartError" in report["errors"][0]["code"] or report["errors"][0]["code"] == "PartError"
    assert {ca["error"]["code"] for ca in report["cas"] if ca["error"]} == {"ScanIncomplete"}
    # the first part's findings are in it
    assert 0 < report["summary"]["findings"] < reference["summary"]["findings"]


def test_a_part_refused_at_the_merge_is_read_by_the_retried_task(pair, reference, machine, pages, alerts):
    # Given S3 refuses the first read of a part
    refusals = []
    s3_faults(
        "GetObject",
        lambda request: None if refusals or "/parts/" not in request.url else refusals.append(1) or "AccessDenied",
    )
    published = len(alerts.published())

    # When the state machine runs
    execution = machine.run({})

    # Then the last task was retried and the one report is exact
    assert execution["status"] == "SUCCEEDED" and refusals == [1]
    report = archived(execution["output"]["outcome"]["reportUri"])
    assert report["summary"]["byStatus"] == reference["summary"]["byStatus"]
    assert finding_ids(report) == finding_ids(reference)
    assert len(alerts.published()) == published + 1


def test_an_unreadable_part_is_reported_and_the_execution_fails(pair, reference, machine, pages, alerts):
    # Given the parts come back as something that is not a part (truncated, overwritten by hand)
    from botocore.awsrequest import AWSResponse  # noqa: PLC0415

    GARBAGE = b"\x1f\x8b not really gzip"  # noqa: N806

    class Body(io.BytesIO):
        def stream(self, **_):
            yield self.getvalue()

    s3_faults(
        "GetObject",
        lambda request: (
            AWSResponse(request.url, 200, {"Content-Length": str(len(GARBAGE))}, Body(GARBAGE))
            if "/parts/" in request.url
            else None
        ),
    )
    published = len(alerts.published())

    # When the state machine runs
    execution = machine.run({})

    # Then the run is reported without that part, saying so, and the execution fails
    assert execution["status"] == "FAILED"
    [message] = alerts.published()[published:]
    report = json.loads(message["Message"]["default"])
    codes = {error["code"] for error in report["errors"]}
    assert "PartNotRead" in codes
    assert any("MalformedResponse" in error["message"] for error in report["errors"])


def test_parts_not_deleted_are_left_to_the_lifecycle_and_the_run_succeeds(pair, reference, machine, pages, alerts):
    # Given S3 refuses to delete the parts
    s3_faults("DeleteObjects", lambda request: "AccessDenied")

    # When the state machine runs
    execution = machine.run({})

    # Then the run succeeded and reported once; the parts stay for the bucket's lifecycle rule
    assert execution["status"] == "SUCCEEDED"
    assert len(parts_left()) == machine.tasks - 1 >= 2, parts_left()


def test_on_demand_executions_audit_the_requested_cas_and_a_bad_request_is_not_retried(
    pair, reference, machine, pages, alerts
):
    # Given an operator starts an execution for the second CA only
    _, second = pair
    pages.latency_s = 0
    execution = machine.run({"caCertificateIds": [second.upper()], "notify": "always"})

    # Then only that CA was audited
    assert execution["status"] == "SUCCEEDED"
    report = archived(execution["output"]["outcome"]["reportUri"])
    assert [ca["caCertificateId"] for ca in report["cas"]] == [second]

    # And a request the function refuses fails the execution at once, without retries
    tasks = machine.tasks
    execution = machine.run({"caCertificateIds": "not-a-list"})
    assert (execution["status"], execution["error"]) == ("FAILED", "BadRequest")
    assert machine.tasks == tasks + 1 and machine.answers[-1]["errorType"] == "ConfigError"


def test_a_run_holds_the_run_lock_across_its_invocations_and_another_run_is_skipped(
    pair, reference, machine, pages, alerts, monkeypatch, capsys
):
    # Given the run lock table
    dynamodb = create_table("locks", "lockId")
    monkeypatch.setenv("RUN_LOCK_TABLE_NAME", "locks")
    owners = []
    iot, _ = handler.clients()

    def note_owner(request):
        item = dynamodb.get_item(TableName="locks", Key={"lockId": {"S": "audit-run"}}).get("Item")
        owners.append(item and item["owner"]["S"])

    inject_faults(iot, "DescribeCACertificate", note_owner)

    # When a run continues over several invocations
    execution = machine.run({})

    # Then every invocation scanned holding the lock as the run (its audit ID), and released it at the end
    assert execution["status"] == "SUCCEEDED" and machine.tasks >= 3
    assert set(owners) == {machine.request_ids[0]}
    assert "Item" not in dynamodb.get_item(TableName="locks", Key={"lockId": {"S": "audit-run"}})

    # And when another run holds the lock, an execution waits, then ends without scanning
    dynamodb.put_item(
        TableName="locks",
        Item={"lockId": {"S": "audit-run"}, "owner": {"S": "other-run"}, "expiresAt": {"N": "9999999999"}},
    )
    capsys.readouterr()
    execution = machine.run({})
    assert execution["status"] == "SUCCEEDED" and execution["output"]["outcome"]["skipped"] is True
    assert metric_points(capsys.readouterr().out)[("SkippedRuns", (("service", "iot-cert-audit"),))] == 1


def test_a_checkpoint_too_large_for_the_state_machine_goes_through_the_bucket(
    pair, reference, machine, pages, alerts, monkeypatch
):
    # Given checkpoints larger than the state machine may carry (here: any; an account of thousands of
    # CAs not started yet in production), and S3 refusing the first read of one
    monkeypatch.setattr(continuation, "CHECKPOINT_INLINE_MAX", 100)
    refusals = []
    s3_faults(
        "GetObject",
        lambda request: None if refusals or "/checkpoint-" not in request.url else refusals.append(1) or "SlowDown",
    )

    # When the state machine runs
    execution = machine.run({})

    # Then every hand-over carried only the checkpoint's key, the run is exact, and nothing is left behind
    assert execution["status"] == "SUCCEEDED" and machine.tasks >= 3 and refusals == [1]
    handed = [event["checkpoint"] for event in machine.events[1:]]
    assert all(set(checkpoint) == {"version", "auditId", "stored"} for checkpoint in handed)
    assert max(len(json.dumps(event)) for event in machine.events) < 400
    report = archived(execution["output"]["outcome"]["reportUri"])
    assert report["summary"]["byStatus"] == reference["summary"]["byStatus"]
    assert finding_ids(report) == finding_ids(reference)
    assert parts_left() == []


def test_a_thousand_cas_found_by_discovery_are_each_audited_once_over_several_invocations(
    backend, bucket, machine, pages, alerts, monkeypatch
):
    # Given every CA of the account audited (none configured), a thousand of them, and pages of 1 s:
    # the first invocation reaches a few hundred CAs, the rest go on in the next ones
    monkeypatch.delenv("CA_CERTIFICATE_IDS", raising=False)
    cas = [seed_ca(backend, f"ca-{number}") for number in range(1000)]
    for ca in cas:
        seed_certificates(backend, ca, ["ACTIVE", "REVOKED"])
    pages.latency_s = 1

    # When the state machine runs
    execution = machine.run({})

    # Then every CA was audited once, in one report, with one page each
    assert execution["status"] == "SUCCEEDED" and machine.tasks >= 2
    report = archived(execution["output"]["outcome"]["reportUri"])
    assert sorted(ca["caCertificateId"] for ca in report["cas"]) == sorted(cas)
    assert report["summary"]["casFailed"] == 0 and report["summary"]["findings"] == 1000
    assert sorted(ca for ca, _ in pages.requests) == sorted(cas)
    assert all(len(json.dumps(event)) < 256 * 1024 for event in machine.events)
