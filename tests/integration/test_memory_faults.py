"""The memory under fault (issue 10): every AWS call it adds (DynamoDB Scan and BatchWriteItem,
S3 PutObject, EventBridge PutEvents) throttled, timed out, hanging, refused, or answering
something malformed or looping. Whatever fails, one failure costs no other result, the report
is published, the run returns before its deadline, nothing is lost without a count and a run
error, and no change is announced twice.

Faults go through botocore's before-send hook (emulator.inject_faults); a malformed answer is
a crafted AWSResponse, so botocore's own parsing runs on it.
"""

# ruff: noqa: F811 - the fixtures of test_memory, imported, are parameters here
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

from cert_audit import emulator, handler
from cert_audit.calls import ATTEMPT_MAX_S, RETRY_ATTEMPTS
from cert_audit.emulator import seed_ca, seed_certificates
from tests.integration.conftest import REGION, metric_points
from tests.integration.test_memory import fleet, memory, published_reports, run  # noqa: F401 - fixtures

SERVICE = (("service", "iot-cert-audit"),)
# A function timeout that leaves the scan two minutes: the memory's hanging calls then meet its deadline.
SHORT_TIMEOUT_MS = handler.TIME_RESERVE_MS + handler.MEMORY_RESERVE_MS + 120_000


def inject_faults(client, operation: str, rule) -> Callable[[], None]:
    """As emulator.inject_faults (botocore's before-send hook, registered first), for rules that
    answer with a crafted AWSResponse, an exception to raise, or None to let the call through.
    (emulator.inject_faults turns a rule's answer into an error code, so it cannot pass a
    crafted answer through.)"""
    event = f"before-send.{client.meta.service_model.service_id.hyphenize()}.{operation}"

    def hook(request, **_):
        fault = rule(request)
        if isinstance(fault, Exception):
            raise fault
        if fault is not None:
            # moto's stub answers every before-send too, and would carry the request out: send
            # it where moto does not look, so a refused write is not made after all
            request.url = "http://fault.invalid/"
        return fault

    client.meta.events.register_first(event, hook)
    return lambda: client.meta.events.unregister(event, hook)


def answer(client, body: dict, status: int = 200) -> AWSResponse:
    """A crafted answer of a JSON-protocol service (DynamoDB, EventBridge), parsed by botocore."""
    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "crafted"}
    return AWSResponse(client.meta.endpoint_url, status, headers, emulator._Body(json.dumps(body).encode()))


def json_error(client, code: str) -> AWSResponse:
    """An error as a JSON-protocol service (DynamoDB, EventBridge) sends it: its code in `__type`.
    (emulator.error_response writes the rest-json header, which botocore's JSON parser ignores.)"""
    status = 500 if code in ("InternalServerError", "InternalFailure", "ServiceUnavailable") else 400
    body = {"__type": f"com.amazonaws.service#{code}", "message": f"Injected {code}"}
    return answer(client, body, status)


def refuse(service: str, code: str):
    """A rule answering every call of the service's client with the error `code`."""
    return lambda request: json_error(handler.client(service), code)


def throttled(client) -> AWSResponse:
    code = (
        "ProvisionedThroughputExceededException"
        if client.meta.service_model.service_name == "dynamodb"
        else "ThrottlingException"
    )
    return json_error(client, code)


def s3_error(client, code: str, status: int) -> AWSResponse:
    """S3's own XML error body (S3 speaks rest-xml, which emulator.error_response does not)."""
    body = f"<Error><Code>{code}</Code><Message>Injected {code}</Message><RequestId>fault</RequestId></Error>"
    headers = {"Content-Type": "application/xml", "x-amz-request-id": "fault"}
    return AWSResponse(client.meta.endpoint_url, status, headers, emulator._Body(body.encode()))


def real_scan(request) -> dict:
    """What the table really answers to this Scan request (a client without our hooks)."""
    page = boto3.client("dynamodb", region_name=REGION).scan(**json.loads(request.body))
    page.pop("ResponseMetadata")
    return page


def hang(virtual_time):
    """A rule for a call that hangs until botocore's read timeout gives up on it."""

    def rule(request):
        virtual_time.advance(ATTEMPT_MAX_S, None)
        return ReadTimeoutError(endpoint_url=request.url)

    return rule


def short_context(virtual_time, request_id: str) -> emulator.LambdaContext:
    return emulator.LambdaContext(aws_request_id=request_id, timeout_ms=SHORT_TIMEOUT_MS, clock=virtual_time.monotonic)


def announced(events: list[dict]) -> Counter:
    return Counter((e["detail"]["change"], e["detail"]["finding"]["findingId"]) for e in events)


def errors_of(report: dict, source: str) -> list[dict]:
    return [error for error in report["errors"] if error["source"] == source]


def change_the_fleet(fleet, backend) -> tuple[str, str]:
    """One certificate revoked (a new finding) and one revoked one deleted (a resolved one)."""
    ca = next(iter(fleet))
    revoked_now, deleted = fleet[ca][0], fleet[ca][20]
    backend.certificates[revoked_now].status = "REVOKED"
    del backend.certificates[deleted]
    return revoked_now, deleted


# --- DynamoDB Scan: reading the state ---------------------------------------------------------


def test_a_throttled_state_read_is_ridden_out(fleet, memory, alerts, virtual_time):
    # Given a first run, and DynamoDB throttling the next run's first three Scans
    run(virtual_time)
    memory.events()
    dynamodb = handler.client("dynamodb")
    scans = []
    inject_faults(
        dynamodb,
        "Scan",
        lambda request: scans.append(1) or (throttled(dynamodb) if len(scans) <= 3 else None),
    )

    # When the audit runs again
    result = run(virtual_time)

    # Then the retries read the state: nothing changed, no run error
    assert result["changes"] == {"new": 0, "resolved": 0, "ongoing": 10}
    assert result["errors"] == [] and memory.events() == []


@pytest.mark.parametrize(
    "fault",
    ["AccessDeniedException", "ProvisionedThroughputExceededException", "InternalServerError"],
)
def test_a_state_that_cannot_be_read_records_nothing_and_the_next_run_reports_the_change_once(
    fleet, memory, alerts, backend, virtual_time, fault
):
    # Given a first run, a change in the fleet, and a state table that answers every Scan with the fault
    run(virtual_time)
    memory.events()
    open_before = memory.open_ids()
    revoked_now, deleted = change_the_fleet(fleet, backend)
    remove = inject_faults(handler.client("dynamodb"), "Scan", refuse("dynamodb", fault))

    # When the audit runs
    second = run(virtual_time)

    # Then the failure is a state error, the report is still published (a run error is always told),
    # what changed is unknown rather than guessed, and nothing was recorded or announced
    [error] = errors_of(second, "state")
    assert error["code"] == fault and "nothing was recorded" in error["message"]
    assert second["changes"] is None
    assert published_reports(alerts)[-1]["auditId"] == second["auditId"]
    assert second["reportUri"]  # the archive still ran
    assert memory.open_ids() == open_before
    assert memory.events() == []

    # And when the table answers again, the next run reports the change, once
    remove()
    third = run(virtual_time)
    assert third["changes"] == {"new": 1, "resolved": 1, "ongoing": 9}
    assert announced(memory.events()) == Counter(
        {("NEW", f["findingId"]): 1 for f in published_reports(alerts)[-1]["findings"] if f["isNew"]}
        | {("RESOLVED", f["findingId"]): 1 for f in third["resolvedFindings"]}
    )


def test_a_scan_whose_last_evaluated_key_repeats_is_a_state_error_not_a_loop(
    fleet, memory, alerts, backend, virtual_time
):
    # Given a first run, a certificate deleted, and a Scan that answers the same page with the
    # same LastEvaluatedKey over and over (stopping after 50 repeats, so a test of a loop ends)
    run(virtual_time)
    memory.events()
    _, deleted = change_the_fleet(fleet, backend)
    scans = []

    def loop(request):
        scans.append(1)
        page = real_scan(request)
        if len(scans) <= 50:
            page["LastEvaluatedKey"] = {"findingId": {"S": "same"}}
        return answer(handler.client("dynamodb"), page)

    inject_faults(handler.client("dynamodb"), "Scan", loop)

    # When the audit runs
    result = run(virtual_time)

    # Then the loop is caught at its first repeat, as a state error; nothing resolved twice or at all
    assert len(scans) == 2
    [error] = errors_of(result, "state")
    assert error["code"] == "PagingLoop"
    assert result["changes"] is None
    assert memory.events() == []
    assert published_reports(alerts)[-1]["auditId"] == result["auditId"]


def test_a_scan_answering_the_same_records_twice_resolves_and_counts_each_once(
    fleet, memory, alerts, backend, virtual_time
):
    # Given a first run, a certificate deleted, and a Scan that answers its records twice
    # (two pages with the same items, the second with a different LastEvaluatedKey)
    run(virtual_time)
    memory.events()
    _, deleted = change_the_fleet(fleet, backend)
    pages = []

    def twice(request):
        if not pages:
            pages.append(real_scan(request))
            return answer(handler.client("dynamodb"), {**pages[0], "LastEvaluatedKey": {"findingId": {"S": "p2"}}})
        return answer(handler.client("dynamodb"), pages[0])

    inject_faults(handler.client("dynamodb"), "Scan", twice)

    # When the audit runs
    result = run(virtual_time)

    # Then each record counts once: one resolved, one event for it, the state written
    assert result["changes"] == {"new": 1, "resolved": 1, "ongoing": 9}
    assert [f["certificateId"] for f in result["resolvedFindings"]] == [deleted]
    assert sorted(announced(memory.events()).values()) == [1, 1]
    assert errors_of(result, "state") == []
    assert len(memory.open_ids()) == 10


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda item: item.pop("findingId"), id="findingId missing"),
        pytest.param(lambda item: item.update(findingId={"N": "7"}), id="findingId not a string"),
        pytest.param(lambda item: item.pop("firstSeen"), id="firstSeen missing"),
        pytest.param(lambda item: item.pop("caCertificateId"), id="caCertificateId missing"),
        pytest.param(lambda item: item.pop("finding"), id="finding missing"),
    ],
)
def test_a_malformed_state_record_costs_no_other_result_and_is_said(
    fleet, memory, alerts, backend, virtual_time, spoil
):
    # Given a first run, a change in the fleet, and a Scan answer in which one record (of a
    # finding still open) is malformed
    first = run(virtual_time)
    memory.events()
    revoked_now, deleted = change_the_fleet(fleet, backend)
    kept = next(f for f in published_reports(alerts)[0]["findings"] if f["certificateId"] != deleted)

    def malformed(request):
        page = real_scan(request)
        for item in page["Items"]:
            if item["findingId"]["S"] == kept["findingId"]:
                spoil(item)
        return answer(handler.client("dynamodb"), page)

    inject_faults(handler.client("dynamodb"), "Scan", malformed)

    # When the audit runs
    result = run(virtual_time)

    # Then the other records give their changes: the new and the resolved finding are told, once
    assert result["changes"]["new"] >= 1 and result["changes"]["resolved"] == 1
    assert [f["certificateId"] for f in result["resolvedFindings"]] == [deleted]
    events = announced(memory.events())
    assert events[("RESOLVED", result["resolvedFindings"][0]["findingId"])] == 1
    assert revoked_now in {f["certificateId"] for f in published_reports(alerts)[-1]["findings"] if f["isNew"]}
    # And the malformed record is a state error, not silently skipped
    [error] = errors_of(result, "state")
    assert error["code"] == "MalformedResponse" and "1 " in error["message"]
    assert first["auditId"] != result["auditId"]


def test_a_finding_record_that_is_not_json_is_still_resolved_and_frees_the_rest(
    fleet, memory, alerts, backend, virtual_time
):
    # Given a first run, then the stored finding of a certificate that is deleted spoilt (not JSON)
    run(virtual_time)
    memory.events()
    revoked_now, deleted = change_the_fleet(fleet, backend)
    [gone] = [f for f in published_reports(alerts)[0]["findings"] if f["certificateId"] == deleted]
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=memory.table,
        Key={"findingId": {"S": gone["findingId"]}},
        UpdateExpression="SET finding = :spoilt",
        ExpressionAttributeValues={":spoilt": {"S": "{not json"}},
    )

    # When the audit runs, twice
    second = run(virtual_time)
    third = run(virtual_time)

    # Then the run still knows its changes: the spoilt finding is resolved (from the record's own
    # fields), deleted from the state, announced once; and the next run is quiet
    assert second["changes"] == {"new": 1, "resolved": 1, "ongoing": 9}
    [resolved] = second["resolvedFindings"]
    assert (resolved["findingId"], resolved["caCertificateId"], resolved["type"]) == (
        gone["findingId"],
        gone["caCertificateId"],
        gone["type"],
    )
    assert gone["findingId"] not in memory.open_ids()
    assert sorted(announced(memory.events()).values()) == [1, 1]
    assert third["changes"] == {"new": 0, "resolved": 0, "ongoing": 10}
    assert third["errors"] == []


# --- DynamoDB BatchWriteItem: recording the changes -------------------------------------------


def test_throttled_state_writes_are_ridden_out(fleet, memory, alerts, virtual_time):
    # Given DynamoDB throttles the first two BatchWriteItem attempts
    writes = []
    inject_faults(
        handler.client("dynamodb"),
        "BatchWriteItem",
        lambda request: writes.append(1) or (throttled(handler.client("dynamodb")) if len(writes) <= 2 else None),
    )

    # When the audit runs for the first time
    result = run(virtual_time)

    # Then every finding is recorded and announced once, with no run error
    assert result["errors"] == []
    assert len(memory.open_ids()) == 10
    assert sorted(announced(memory.events()).values()) == [1] * 10


def unprocessed_forever(request):
    """BatchWriteItem that processes nothing and hands every item back, every time."""
    return answer(handler.client("dynamodb"), {"UnprocessedItems": json.loads(request.body)["RequestItems"]})


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(lambda request: unprocessed_forever(request), id="same UnprocessedItems forever"),
        pytest.param(refuse("dynamodb", "AccessDeniedException"), id="access denied"),
        pytest.param(refuse("dynamodb", "ValidationException"), id="validation error"),
    ],
)
def test_changes_that_cannot_be_recorded_are_announced_once_the_run_that_records_them(
    fleet, memory, alerts, virtual_time, fault, capsys
):
    # Given a state table whose writes never succeed
    remove = inject_faults(handler.client("dynamodb"), "BatchWriteItem", fault)

    # When the audit runs for the first time
    first = run(virtual_time)

    # Then it ends, the failure is a state error, and the report is published with every finding new
    [error] = errors_of(first, "state")
    assert "again" in error["message"]
    [report] = published_reports(alerts)
    assert report["changes"] == {"new": 10, "resolved": 0, "ongoing": 0}
    assert memory.open_ids() == set()
    # And an event is not sent for a change that was not recorded (it would be sent again next
    # run), but counted as not sent, with the reason
    assert memory.events() == []
    assert (first["summary"]["eventsSent"], first["summary"]["eventsFailed"]) == (0, 10)
    [held] = errors_of(first, "events")
    assert "not recorded" in held["message"]
    assert metric_points(capsys.readouterr().out)[("FailedEvents", SERVICE)] == 10

    # And when the table takes writes again, the next run records and announces each change once
    remove()
    second = run(virtual_time)
    assert second["errors"] == []
    assert len(memory.open_ids()) == 10
    assert sorted(announced(memory.events()).values()) == [1] * 10


def test_one_batch_that_cannot_be_written_holds_back_only_its_own_events(backend, memory, alerts, virtual_time):
    # Given 60 new findings (three batches of writes) and a table that refuses the batch holding one of them
    ca = seed_ca(backend, "big")
    seed_certificates(backend, ca, ["REVOKED"] * 60)
    refused = []

    def refuse_one_batch(request):
        batch = json.loads(request.body)["RequestItems"]["state"]
        ids = [r["PutRequest"]["Item"]["findingId"]["S"] for r in batch]
        if not refused or refused[0] in ids:
            refused[:] = refused or [ids[0]]
            refused.extend(i for i in ids if i not in refused)
            return json_error(handler.client("dynamodb"), "AccessDeniedException")
        return None

    inject_faults(handler.client("dynamodb"), "BatchWriteItem", refuse_one_batch)

    # When the audit runs
    result = run(virtual_time)

    # Then the other batches are recorded and announced; the refused one's changes are neither
    assert len(refused) == 25
    assert memory.open_ids() == {f["findingId"] for f in published_reports(alerts)[0]["findings"]} - set(refused)
    sent = {finding_id for _, finding_id in announced(memory.events())}
    assert sent == memory.open_ids()
    assert (result["summary"]["eventsSent"], result["summary"]["eventsFailed"]) == (35, 25)


def test_state_writes_hanging_end_before_the_deadline(fleet, memory, alerts, virtual_time):
    # Given every BatchWriteItem hangs until its read timeout, in a function with two minutes for the scan
    inject_faults(handler.client("dynamodb"), "BatchWriteItem", hang(virtual_time))
    context = short_context(virtual_time, "hang-writes")

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then it returns before the timeout with the report published and the failure told
    assert context.get_remaining_time_in_millis() > 0
    assert errors_of(result, "state")
    assert published_reports(alerts)[-1]["auditId"] == "hang-writes"
    assert result["reportUri"]


# --- EventBridge PutEvents: announcing the changes --------------------------------------------


def test_throttled_events_are_ridden_out(fleet, memory, alerts, virtual_time):
    # Given EventBridge throttles the first three PutEvents calls
    calls = []
    inject_faults(
        handler.client("events"),
        "PutEvents",
        lambda request: calls.append(1) or (throttled(handler.client("events")) if len(calls) <= 3 else None),
    )

    # When the audit runs for the first time
    result = run(virtual_time)

    # Then every change is announced once and counted as sent
    assert sorted(announced(memory.events()).values()) == [1] * 10
    assert (result["summary"]["eventsSent"], result["summary"]["eventsFailed"]) == (10, 0)
    assert result["errors"] == []


def every_entry_refused(request):
    sent = json.loads(request.body)["Entries"]
    body = {
        "FailedEntryCount": len(sent),
        "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "Injected"} for _ in sent],
    }
    return answer(handler.client("events"), body)


def fewer_entries_than_sent(request):
    return answer(handler.client("events"), {"FailedEntryCount": 0, "Entries": []})


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(every_entry_refused, id="every entry has an ErrorCode"),
        pytest.param(fewer_entries_than_sent, id="fewer results than entries"),
        pytest.param(refuse("events", "AccessDeniedException"), id="access denied"),
        pytest.param(refuse("events", "ThrottlingException"), id="throttled forever"),
    ],
)
def test_refused_events_are_counted_and_told_and_the_rest_goes_on(fleet, memory, alerts, virtual_time, fault, capsys):
    # Given EventBridge refuses every event
    inject_faults(handler.client("events"), "PutEvents", fault)

    # When the audit runs for the first time
    result = run(virtual_time)

    # Then every refused event is counted (summary, metric) and an events error says how many
    assert (result["summary"]["eventsSent"], result["summary"]["eventsFailed"]) == (0, 10)
    [error] = errors_of(result, "events")
    assert "10 of 10" in error["message"]
    assert metric_points(capsys.readouterr().out)[("FailedEvents", SERVICE)] == 10
    # And the changes were still recorded, archived and published
    assert len(memory.open_ids()) == 10
    assert json.loads(memory.archived(result["reportUri"]))["summary"]["eventsFailed"] == 10
    assert published_reports(alerts)[0]["summary"]["eventsFailed"] == 10


def test_events_refused_once_are_sent_again_and_delivered_once(fleet, memory, alerts, virtual_time):
    # Given EventBridge refuses every entry of the first call of each batch, then accepts
    seen = set()

    def refuse_first_time(request):
        batch = tuple(json.loads(e["Detail"])["finding"]["findingId"] for e in json.loads(request.body)["Entries"])
        if batch in seen:
            return None
        seen.add(batch)
        return every_entry_refused(request)

    inject_faults(handler.client("events"), "PutEvents", refuse_first_time)

    # When the audit runs
    result = run(virtual_time)

    # Then every event arrives exactly once
    assert sorted(announced(memory.events()).values()) == [1] * 10
    assert (result["summary"]["eventsSent"], result["summary"]["eventsFailed"]) == (10, 0)


def test_hanging_events_end_before_the_deadline_and_are_counted(fleet, memory, alerts, virtual_time):
    # Given every PutEvents hangs until its read timeout, in a function with two minutes for the scan
    inject_faults(handler.client("events"), "PutEvents", hang(virtual_time))
    context = short_context(virtual_time, "hang-events")

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then it returns in time, every event counted as not sent, the report archived and published
    assert context.get_remaining_time_in_millis() > 0
    assert result["summary"]["eventsFailed"] == 10
    assert result["reportUri"]
    assert published_reports(alerts)[-1]["auditId"] == "hang-events"


# --- S3 PutObject: archiving the report -------------------------------------------------------


def test_an_archive_put_that_fails_once_sends_the_whole_body_again(fleet, memory, alerts, virtual_time):
    # Given S3 fails the first attempt of each object with a 500, after botocore read the body
    s3 = handler.client("s3")
    attempts = Counter()

    def fail_first(request):
        attempts[request.url] += 1
        if attempts[request.url] == 1:
            request.body.read()  # the failed attempt used up the stream
            return s3_error(s3, "InternalError", 500)
        return None

    inject_faults(s3, "PutObject", fail_first)

    # When the audit runs
    result = run(virtual_time)

    # Then every object (the JSON, the CSV, the HTML page and any other format) was sent twice, each whole
    assert len(attempts) >= 3 and set(attempts.values()) == {2}
    assert result["errors"] == []
    assert len(json.loads(memory.archived(result["reportUri"]))["findings"]) == 10
    csv_rows = memory.archived(result["reportUri"].replace(".json.gz", ".csv.gz")).decode().splitlines()
    assert len(csv_rows) == 11


@pytest.mark.parametrize(
    ("code", "status"), [("AccessDenied", 403), ("NoSuchBucket", 404), ("SlowDown", 503), ("InternalError", 500)]
)
def test_an_archive_that_cannot_be_written_is_an_archive_error_and_the_report_still_goes_out(
    fleet, memory, alerts, virtual_time, code, status
):
    # Given S3 refuses every put
    s3 = handler.client("s3")
    inject_faults(s3, "PutObject", lambda request: s3_error(s3, code, status))

    # When the audit runs
    result = run(virtual_time)

    # Then the archive error is told, the report is published without a link, and the state
    # and the events did their part
    [error] = errors_of(result, "archive")
    assert error["code"] == code
    assert result["reportUri"] is None
    [report] = published_reports(alerts)
    assert report["errors"] == result["errors"] and report["reportUri"] is None
    assert len(memory.open_ids()) == 10
    assert len(memory.events()) == 10


def test_an_archive_put_hanging_ends_before_the_deadline(fleet, memory, alerts, virtual_time):
    # Given every S3 put hangs until its read timeout, in a function with two minutes for the scan
    inject_faults(handler.client("s3"), "PutObject", hang(virtual_time))
    context = short_context(virtual_time, "hang-s3")

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then it returns in time with the archive error told and the report published
    assert context.get_remaining_time_in_millis() > 0
    assert errors_of(result, "archive")
    assert published_reports(alerts)[-1]["auditId"] == "hang-s3"


# --- Everything at once -----------------------------------------------------------------------


def test_every_memory_call_hanging_still_returns_in_time_with_the_report(fleet, memory, alerts, virtual_time):
    # Given every call of the memory hangs until its read timeout, in a function with two minutes for the scan
    for service, operations in {
        "dynamodb": ["Scan", "BatchWriteItem"],
        "s3": ["PutObject"],
        "events": ["PutEvents"],
    }.items():
        for operation in operations:
            inject_faults(handler.client(service), operation, hang(virtual_time))
    context = short_context(virtual_time, "hang-all")

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then it returns before the timeout, having told each failure, and publishes the report
    assert context.get_remaining_time_in_millis() > 0
    assert {error["source"] for error in result["errors"]} == {"state", "archive"}
    assert published_reports(alerts)[-1]["auditId"] == "hang-all"
    assert memory.events() == []
    assert RETRY_ATTEMPTS > 1
