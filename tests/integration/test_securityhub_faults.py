"""Security Hub under fault (issue 11): BatchImportFindings and BatchUpdateFindings throttled, refused,
hanging, answering with FailedFindings or something malformed, and the lastImported marks not written.
Whatever fails, nothing is dropped silently: the findings are counted (summary securityHubFailed,
metric SecurityHubFailedFindings) and told (a run error with source securityHub), the report, the
state, the events and the archive still do their part, the run ends before its deadline, and the
next run imports what this one could not.

Faults go through botocore's before-send hook (test_memory_faults.inject_faults, registered first, so
before the stand-in, which then leaves the refused call alone); errors carry the HTTP status Security
Hub's model gives them."""

# ruff: noqa: F811 - the fixtures of test_memory and test_securityhub, imported, are parameters here
from __future__ import annotations

import json

import pytest
from botocore.awsrequest import AWSResponse

from cert_audit import handler, securityhub
from cert_audit.calls import RETRY_ATTEMPTS
from tests.integration.conftest import metric_points
from tests.integration.securityhub_stand_in import answer, error
from tests.integration.test_memory import fleet, memory, published_reports, run  # noqa: F401 - fixtures
from tests.integration.test_memory_faults import (
    change_the_fleet,
    errors_of,
    hang,
    inject_faults,
    json_error,
    short_context,
)
from tests.integration.test_securityhub import SERVICE, hub, state_records, suppress  # noqa: F401 - fixtures


def security_hub():
    return handler.client("securityhub")


def marked() -> set[str]:
    return {finding_id for finding_id, record in state_records().items() if "lastImported" in record}


def test_throttled_imports_are_ridden_out(fleet, hub, alerts, virtual_time):
    # Given Security Hub throttles the first three attempts
    attempts = []
    inject_faults(
        security_hub(),
        "BatchImportFindings",
        lambda request: attempts.append(1) or (error("LimitExceededException") if len(attempts) <= 3 else None),
    )

    # When the audit runs
    result = run(virtual_time)

    # Then the fourth attempt imported every finding, with no run error
    assert len(attempts) == 4 and hub.calls["BatchImportFindings"] == 1
    assert (result["summary"]["securityHubImported"], result["summary"]["securityHubFailed"]) == (10, 0)
    assert result["errors"] == [] and len(marked()) == 10


@pytest.mark.parametrize(
    ("fault", "code", "attempts"),
    [
        pytest.param(error("AccessDeniedException"), "AccessDeniedException", 1, id="access denied"),
        pytest.param(error("InvalidAccessException"), "InvalidAccessException", 1, id="not subscribed"),
        pytest.param(error("InternalException"), "InternalException", RETRY_ATTEMPTS, id="server error"),
        pytest.param(error("LimitExceededException"), "LimitExceededException", RETRY_ATTEMPTS, id="throttled"),
    ],
)
def test_imports_refused_are_counted_told_and_imported_by_the_next_run(
    fleet, hub, alerts, virtual_time, capsys, fault, code, attempts
):
    # Given every BatchImportFindings answers with the fault
    tries = []
    remove = inject_faults(security_hub(), "BatchImportFindings", lambda request: tries.append(1) or fault)

    # When the audit runs for the first time
    result = run(virtual_time)

    # Then the call was retried only where a retry can help (as often as the attempts or the step's
    # minute allow), and every finding is counted and told
    assert len(tries) == 1 if attempts == 1 else 1 < len(tries) <= attempts
    assert (result["summary"]["securityHubImported"], result["summary"]["securityHubFailed"]) == (0, 10)
    [told] = errors_of(result, "securityHub")
    assert told["code"] == code or f"while retrying {code}" in told["message"]
    assert "10 of 10 findings were not imported" in told["message"]
    assert metric_points(capsys.readouterr().out)[("SecurityHubFailedFindings", SERVICE)] == 10
    # And the rest of the run did its part: published, recorded (unmarked), announced, archived
    assert published_reports(alerts)[-1]["summary"]["securityHubFailed"] == 10
    assert len(state_records()) == 10 and marked() == set()
    assert result["summary"]["eventsSent"] == 10 and result["reportUri"]

    # And when Security Hub answers again, the next run imports them all (never given) and marks them
    remove()
    second = run(virtual_time)
    assert second["summary"]["securityHubImported"] == 10 and len(hub.active()) == 10
    assert errors_of(second, "securityHub") == [] and len(marked()) == 10


def test_failed_findings_are_retried_until_accepted(fleet, hub, alerts, virtual_time):
    # Given Security Hub refuses every finding twice with an internal failure, then takes it
    refusals = {}

    def refuse_twice(document):
        refusals[document["Id"]] = refusals.get(document["Id"], 0) + 1
        return ("InternalFailure", "Injected internal failure") if refusals[document["Id"]] <= 2 else None

    hub.refuse = refuse_twice

    # When the audit runs
    result = run(virtual_time)

    # Then the refused findings were sent again, and each was taken once in the end
    assert hub.calls["BatchImportFindings"] == 3 and set(refusals.values()) == {3}
    assert (result["summary"]["securityHubImported"], result["summary"]["securityHubFailed"]) == (10, 0)
    assert result["errors"] == [] and len(hub.active()) == 10


def test_failed_findings_refused_every_time_are_counted_and_imported_by_the_next_run(
    fleet, hub, alerts, virtual_time, capsys
):
    # Given Security Hub refuses two of the findings every time
    run_report = []
    refused = set()

    def refuse_two(document):
        if len(refused) < 2 or document["Id"] in refused:
            refused.add(document["Id"])
            return "LimitExceeded", "Injected: too many findings"
        return None

    hub.refuse = refuse_two

    # When the audit runs
    result = run(virtual_time)
    run_report.append(result)

    # Then they were sent again as often as the attempts and the step's minute allow, then counted
    # (summary, metric) and told
    assert 2 < hub.calls["BatchImportFindings"] <= RETRY_ATTEMPTS
    assert (result["summary"]["securityHubImported"], result["summary"]["securityHubFailed"]) == (8, 2)
    [told] = errors_of(result, "securityHub")
    assert told["code"] == "LimitExceeded" and told["message"].startswith("2 of 10 findings were not imported")
    assert metric_points(capsys.readouterr().out)[("SecurityHubFailedFindings", SERVICE)] == 2
    assert marked() == set(hub.active())  # the eight it took
    assert refused.isdisjoint(hub.active())

    # And the next run imports just those two
    hub.refuse = None
    second = run(virtual_time)
    assert sorted(hub.batches[-1]) == sorted(refused)
    assert second["summary"]["securityHubImported"] == 2 and len(marked()) == 10


@pytest.mark.parametrize("code", ["InvalidInput", "InvalidAccess"])
def test_a_finding_refused_for_good_is_not_retried(fleet, hub, alerts, virtual_time, code):
    # Given Security Hub refuses one finding with an error no retry can fix
    first = []
    hub.refuse = lambda document: (
        (code, "Injected") if first in ([], [document["Id"]]) and not first.append(document["Id"]) else None
    )

    # When the audit runs
    result = run(virtual_time)

    # Then it was sent once, and counted
    assert hub.calls["BatchImportFindings"] == 1
    assert result["summary"]["securityHubFailed"] == 1
    assert errors_of(result, "securityHub")[0]["code"] == code


def test_security_hub_not_enabled_is_told_for_every_finding(fleet, hub, alerts, virtual_time):
    # Given Security Hub is not enabled in the account and region (every finding fails InvalidAccess)
    hub.enabled = False

    # When the audit runs
    result = run(virtual_time)

    # Then one call, every finding counted, and the error says so
    assert hub.calls["BatchImportFindings"] == 1
    [told] = errors_of(result, "securityHub")
    assert told["code"] == "InvalidAccess" and "not subscribed" in told["message"]
    assert result["summary"]["securityHubFailed"] == 10


def malformed(body) -> callable:
    return lambda request: answer(body)


def not_counting(request) -> AWSResponse:
    sent = json.loads(request.body)["Findings"]
    return answer({"FailedCount": 0, "SuccessCount": len(sent) - 3, "FailedFindings": []})


def naming_another(request) -> AWSResponse:
    return answer({"FailedCount": 1, "SuccessCount": 9, "FailedFindings": [{"Id": "x", "ErrorCode": "E"}]})


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(malformed(b"<html>503</html>"), id="not JSON"),
        pytest.param(malformed({"FailedCount": 0, "SuccessCount": 10, "FailedFindings": "none"}), id="not a list"),
        pytest.param(malformed({"FailedCount": 2, "SuccessCount": 8, "FailedFindings": []}), id="counts disagree"),
        pytest.param(not_counting, id="some findings not accounted for"),
        pytest.param(naming_another, id="a failed finding it was not sent"),
    ],
)
def test_a_malformed_answer_is_counted_and_the_next_run_imports_again(fleet, hub, alerts, virtual_time, fault):
    # Given Security Hub answers the import with something that does not say which findings it took
    remove = inject_faults(security_hub(), "BatchImportFindings", fault)

    # When the audit runs
    result = run(virtual_time)

    # Then no finding is taken as imported: all counted, a MalformedResponse told, none marked
    assert result["summary"]["securityHubFailed"] == 10
    [told] = errors_of(result, "securityHub")
    assert told["code"] == "MalformedResponse"
    assert marked() == set()

    # And the next run imports them all
    remove()
    assert run(virtual_time)["summary"]["securityHubImported"] == 10 and len(marked()) == 10


def test_a_resolved_finding_not_archived_is_told(fleet, hub, alerts, backend, virtual_time):
    # Given a first run, a certificate deleted, and Security Hub refusing the next import
    run(virtual_time)
    _, deleted = change_the_fleet(fleet, backend)
    inject_faults(security_hub(), "BatchImportFindings", lambda request: error("AccessDeniedException"))

    # When the audit runs
    result = run(virtual_time)

    # Then the resolved finding's failure says it stays ACTIVE in Security Hub, and the new one is counted too
    told = {error["message"].split(" (")[0]: error for error in errors_of(result, "securityHub")}
    not_imported, not_archived = (
        "1 of 2 findings were not imported into Security Hub",
        "1 resolved findings were not archived in Security Hub",
    )
    assert set(told) == {not_imported, not_archived}
    assert "stay ACTIVE" in told[not_archived]["message"]
    assert result["summary"]["securityHubFailed"] == 2
    [resolved] = result["resolvedFindings"]
    assert hub.finding(resolved["findingId"])["RecordState"] == "ACTIVE"


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(lambda request: error("AccessDeniedException"), id="access denied"),
        pytest.param(lambda request: error("InternalException"), id="server error"),
        pytest.param(lambda request: answer({"ProcessedFindings": []}), id="malformed"),
        pytest.param(
            lambda request: answer(
                {
                    "ProcessedFindings": [],
                    "UnprocessedFindings": [
                        {"FindingIdentifier": i, "ErrorCode": "InternalFailure", "ErrorMessage": "Injected"}
                        for i in json.loads(request.body)["FindingIdentifiers"]
                    ],
                }
            ),
            id="unprocessed every time",
        ),
    ],
)
def test_a_workflow_not_set_is_counted_and_set_by_the_next_run(fleet, hub, alerts, virtual_time, monkeypatch, fault):
    # Given a first run, then one CA's findings suppressed, and BatchUpdateFindings failing
    run(virtual_time)
    accepted = next(iter(fleet))
    suppress(monkeypatch, [{"caCertificateId": accepted, "reason": "Accepted risk"}])
    remove = inject_faults(security_hub(), "BatchUpdateFindings", fault)

    # When the audit runs
    result = run(virtual_time)

    # Then the five findings are counted, told, and not marked (their import alone left them NEW)
    assert result["summary"]["securityHubFailed"] == 5
    [told] = errors_of(result, "securityHub")
    assert "workflow was not set" in told["message"]
    suppressed = {f["findingId"] for f in published_reports(alerts)[-1]["suppressedFindings"]}
    assert {hub.finding(i)["Workflow"]["Status"] for i in suppressed} == {"NEW"}
    assert marked().isdisjoint(suppressed)

    # And the next run, with BatchUpdateFindings answering, sets them SUPPRESSED
    remove()
    second = run(virtual_time)
    assert {hub.finding(i)["Workflow"]["Status"] for i in suppressed} == {"SUPPRESSED"}
    assert second["summary"]["securityHubFailed"] == 0 and suppressed <= marked()


def test_marks_not_written_are_told_and_the_next_run_imports_again(fleet, hub, alerts, virtual_time):
    # Given the state refuses the writes that mark findings as given to Security Hub (and only those)
    dynamodb = handler.client("dynamodb")
    remove = inject_faults(
        dynamodb,
        "BatchWriteItem",
        lambda request: json_error(dynamodb, "AccessDeniedException") if b"lastImported" in request.body else None,
    )

    # When the audit runs
    result = run(virtual_time)

    # Then the findings are in Security Hub, and the run says they were not marked
    assert result["summary"]["securityHubImported"] == 10 and len(hub.active()) == 10
    [told] = errors_of(result, "securityHub")
    assert told["code"] == "AccessDeniedException" and "the next run imports them again" in told["message"]
    assert marked() == set() and errors_of(result, "state") == []

    # And the next run imports them again (an update of the same findings, not duplicates), and marks them
    remove()
    second = run(virtual_time)
    assert second["summary"]["securityHubImported"] == 10 and len(hub.findings) == 10 and len(marked()) == 10


def test_security_hub_hanging_ends_before_the_deadline_and_leaves_the_archive_its_time(
    fleet, hub, alerts, virtual_time
):
    # Given every BatchImportFindings hangs until its read timeout, in a function with two minutes for the scan
    inject_faults(security_hub(), "BatchImportFindings", hang(virtual_time))
    context = short_context(virtual_time, "hang-securityhub")

    # When the audit runs
    result = handler.lambda_handler({}, context)

    # Then it returns in time, every finding counted, the report archived and published
    assert context.get_remaining_time_in_millis() > 0
    assert result["summary"]["securityHubFailed"] == 10
    assert errors_of(result, "securityHub") and errors_of(result, "archive") == []
    assert result["reportUri"]
    assert published_reports(alerts)[-1]["auditId"] == "hang-securityhub"


def test_refreshes_the_time_does_not_allow_are_left_to_the_next_run_not_failed(
    fleet, hub, alerts, virtual_time, monkeypatch
):
    # Given a first run, then every finding due for its refresh, sent two a call, each call taking 25 s
    run(virtual_time)
    monkeypatch.setattr(securityhub, "REFRESH_AFTER_DAYS", 0)
    monkeypatch.setattr(securityhub, "BATCH_MAX", 2)
    monkeypatch.setattr(securityhub, "SENDERS", 1)  # one call at a time: how many fit is then certain
    inject_faults(security_hub(), "BatchImportFindings", lambda request: virtual_time.advance(25, None))

    # When the audit runs, with 60 s for the Security Hub step
    second = run(virtual_time)

    # Then the refreshes that did not fit are no failure: no count, no error
    imported = second["summary"]["securityHubImported"]
    assert 0 < imported < 10
    assert second["summary"]["securityHubFailed"] == 0 and errors_of(second, "securityHub") == []

    # And the next run (due again at once, here) refreshes them too
    before = {i: f["UpdatedAt"] for i, f in hub.active().items()}
    third = run(virtual_time)
    assert third["summary"]["securityHubImported"] > 0
    assert any(hub.active()[i]["UpdatedAt"] > updated for i, updated in before.items())


def test_a_state_that_cannot_be_read_sends_nothing_to_security_hub(fleet, hub, alerts, virtual_time):
    # Given the state table refuses every Scan
    dynamodb = handler.client("dynamodb")
    remove = inject_faults(dynamodb, "Scan", lambda request: json_error(dynamodb, "AccessDeniedException"))

    # When the audit runs, then what changed is unknown, and Security Hub is not called
    result = run(virtual_time)
    assert result["changes"] is None and sum(hub.calls.values()) == 0
    assert result["summary"]["securityHubImported"] == 0 and errors_of(result, "securityHub") == []

    # And once the table answers, the findings are imported
    remove()
    assert run(virtual_time)["summary"]["securityHubImported"] == 10 and len(hub.active()) == 10
