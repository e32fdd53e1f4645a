"""Security Hub (issue 11) on moto, with the documented Security Hub a stand-in (securityhub_stand_in.py):
one finding per problem however often it is imported, resolved findings archived PASSED, a failed CA's
findings left ACTIVE, suppressed ones SUPPRESSED with their reason, and only the changes imported."""

# ruff: noqa: F811 - the fixtures of test_memory, imported, are parameters here
from __future__ import annotations

import copy
import json

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from cert_audit import asff, handler, securityhub
from cert_audit.emulator import inject_faults
from tests.integration.conftest import ACCOUNT, REGION, metric_points
from tests.integration.securityhub_stand_in import SecurityHub
from tests.integration.test_memory import fleet, memory, published_reports, run  # noqa: F401 - fixtures
from tests.integration.test_memory_faults import change_the_fleet

SERVICE = (("service", "iot-cert-audit"),)


@pytest.fixture
def hub(memory, monkeypatch) -> SecurityHub:
    """SECURITY_HUB=true, and the function's Security Hub client answered by the stand-in."""
    monkeypatch.setenv("SECURITY_HUB", "true")
    stand_in = SecurityHub(ACCOUNT, REGION)
    stand_in.install(handler.client("securityhub"))
    return stand_in


def state_records(table: str = "state") -> dict[str, dict]:
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=table)["Items"]
    return {item["findingId"]["S"]: item for item in items}


def suppress(monkeypatch, entries: list[dict]) -> None:
    """Suppressions in their SSM parameter, as the stack keeps them (read fresh by the next run)."""
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/iot-cert-audit/suppressions", Value=json.dumps(entries), Type="String", Overwrite=True
    )
    monkeypatch.setenv("SUPPRESSIONS_PARAMETER", "/iot-cert-audit/suppressions")
    parameters.clear_caches()


def test_the_first_run_imports_every_finding_once_valid_and_active(fleet, hub, alerts, virtual_time, capsys):
    # When the audit runs for the first time with Security Hub on
    result = run(virtual_time)

    # Then each finding is one Security Hub finding, by its findingId, in one call of 10
    [report] = published_reports(alerts)
    ids = {finding["findingId"] for finding in report["findings"]}
    assert set(hub.active()) == ids and len(hub.findings) == 10
    assert hub.calls["BatchImportFindings"] == 1 and hub.invalid == []
    # And each is the account's default product's, FAILED, NEW, with our severity and type
    for finding in report["findings"]:
        imported = hub.finding(finding["findingId"])
        assert imported["ProductArn"] == f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
        assert (imported["Compliance"], imported["Workflow"]) == ({"Status": "FAILED"}, {"Status": "NEW"})
        assert imported["Severity"]["Label"] == imported["FindingProviderFields"]["Severity"]["Label"]
        assert imported["Severity"]["Label"] == finding["severity"]
        assert imported["Types"] == [f"{asff.TYPE_PREFIX}/{finding['type']}"]
        assert imported["GeneratorId"] == f"iot-cert-audit/{finding['type']}"
        assert imported["Resources"][0]["Id"] == finding["certificateArn"]
        first_seen = asff.in_ms(finding["firstSeen"])
        assert imported["CreatedAt"] == imported["UpdatedAt"] == imported["FirstObservedAt"] == first_seen
    # And the run counts them, marks them as given in the state, and reports no failure
    assert (result["summary"]["securityHubImported"], result["summary"]["securityHubFailed"]) == (10, 0)
    assert all("lastImported" in record for record in state_records().values())
    assert result["errors"] == []
    assert metric_points(capsys.readouterr().out)[("SecurityHubFailedFindings", SERVICE)] == 0


def test_an_unchanged_run_imports_nothing(fleet, hub, alerts, virtual_time):
    # Given a first run
    run(virtual_time)
    before = copy.deepcopy(hub.findings)

    # When the audit runs again and nothing changed
    result = run(virtual_time)

    # Then Security Hub is not called at all, and its findings are as they were
    assert hub.calls["BatchImportFindings"] == 1
    assert result["summary"]["securityHubImported"] == 0
    assert hub.findings == before


def test_two_identical_imports_leave_one_finding_per_problem_updated_not_duplicated(
    fleet, hub, alerts, virtual_time, monkeypatch
):
    # Given a first run, and the refresh due at once (as 60 days later)
    run(virtual_time)
    first = copy.deepcopy(hub.findings)
    monkeypatch.setattr(securityhub, "REFRESH_AFTER_DAYS", 0)

    # When the audit runs again over the same fleet
    result = run(virtual_time)

    # Then every finding was imported again, and Security Hub still has one per problem, updated
    assert sorted(hub.imported_ids()) == sorted(2 * [key[1] for key in first])
    assert hub.findings.keys() == first.keys()
    for key, finding in hub.findings.items():
        assert finding["UpdatedAt"] > first[key]["UpdatedAt"]
        assert finding["CreatedAt"] == first[key]["CreatedAt"]
        assert finding["RecordState"] == "ACTIVE"
    assert result["summary"]["securityHubImported"] == 10
    assert hub.invalid == []


def test_a_resolved_finding_is_archived_with_passed_and_a_new_one_added(fleet, hub, alerts, backend, virtual_time):
    # Given a first run, then one certificate revoked and a revoked one deleted
    run(virtual_time)
    first = copy.deepcopy(hub.findings)
    revoked_now, deleted = change_the_fleet(fleet, backend)

    # When the audit runs again
    result = run(virtual_time)

    # Then just the two changes were imported: the deleted one's finding archived with PASSED,
    # the new one ACTIVE, every other finding as it was
    [resolved] = result["resolvedFindings"]
    assert resolved["certificateId"] == deleted
    archived = hub.finding(resolved["findingId"])
    assert (archived["RecordState"], archived["Compliance"]["Status"]) == ("ARCHIVED", "PASSED")
    assert archived["UpdatedAt"] > first[hub.product, resolved["findingId"]]["UpdatedAt"]
    [new] = [f for f in published_reports(alerts)[-1]["findings"] if f["isNew"]]
    assert new["certificateId"] == revoked_now and hub.finding(new["findingId"])["RecordState"] == "ACTIVE"
    assert sorted(hub.batches[-1]) == sorted([resolved["findingId"], new["findingId"]])
    assert len(hub.findings) == 11 and len(hub.active()) == 10
    unchanged = first.keys() - {(hub.product, resolved["findingId"])}
    assert all(hub.findings[key] == first[key] for key in unchanged)
    assert resolved["findingId"] not in state_records()


def test_a_failed_cas_findings_stay_active_and_untouched(fleet, hub, alerts, backend, virtual_time):
    # Given a first run, then one CA's certificate deleted and the CA unreadable in the next run
    run(virtual_time)
    first = copy.deepcopy(hub.findings)
    failing = next(iter(fleet))
    del backend.certificates[fleet[failing][20]]  # a REVOKED one: its finding would be resolved
    iot, _ = handler.clients()
    inject_faults(
        iot, "ListCertificatesByCA", lambda request: "AccessDeniedException" if failing in request.url else None
    )

    # When the audit runs
    result = run(virtual_time)

    # Then nothing is resolved, Security Hub is not called, and every finding of the CA is ACTIVE as it was
    assert result["changes"]["resolved"] == 0
    assert hub.calls["BatchImportFindings"] == 1
    assert hub.findings == first
    assert all(finding["RecordState"] == "ACTIVE" for finding in hub.findings.values())


def test_a_severity_change_is_imported_in_the_provider_fields(fleet, hub, alerts, backend, virtual_time):
    # Given a first run, then an INACTIVE certificate (HIGH) revoked (LOW): the same finding
    run(virtual_time)
    ca = next(iter(fleet))
    inactive = fleet[ca][23]
    backend.certificates[inactive].status = "REVOKED"
    [finding_id] = [f["findingId"] for f in published_reports(alerts)[0]["findings"] if f["certificateId"] == inactive]
    assert hub.finding(finding_id)["Severity"]["Label"] == "HIGH"

    # When the audit runs again
    run(virtual_time)

    # Then only that finding was imported, with its new severity, provider field and top level alike
    assert hub.batches[-1] == [finding_id]
    imported = hub.finding(finding_id)
    assert imported["FindingProviderFields"]["Severity"] == {"Label": "LOW", "Original": "LOW"}
    assert imported["Severity"]["Label"] == "LOW"
    assert imported["ProductFields"]["iot-cert-audit/status"] == "REVOKED"


def test_a_finding_suppressed_from_the_start_is_created_suppressed_with_its_reason(
    fleet, hub, alerts, virtual_time, monkeypatch
):
    # Given one CA's findings are accepted
    accepted = next(iter(fleet))
    suppress(monkeypatch, [{"caCertificateId": accepted, "reason": "Lab CA, decommissioned in CHG-1234"}])

    # When the audit runs for the first time
    result = run(virtual_time)

    # Then its five findings are in Security Hub, ACTIVE but SUPPRESSED, the reason as the note
    suppressed = {f["findingId"] for f in published_reports(alerts)[0]["suppressedFindings"]}
    assert len(suppressed) == 5
    for finding_id in suppressed:
        finding = hub.finding(finding_id)
        assert (finding["RecordState"], finding["Workflow"]["Status"]) == ("ACTIVE", "SUPPRESSED")
        assert finding["Note"]["Text"] == "Suppressed by the audit's suppressions: Lab CA, decommissioned in CHG-1234"
    # And the other CA's are NEW
    assert {f["Workflow"]["Status"] for i, f in hub.active().items() if i not in suppressed} == {"NEW"}
    assert result["summary"]["securityHubFailed"] == 0 and hub.invalid == []


def test_an_existing_finding_suppressed_later_is_set_suppressed_and_back_to_new_when_it_ends(
    fleet, hub, alerts, virtual_time, monkeypatch
):
    # Given a first run without suppressions
    run(virtual_time)
    accepted = next(iter(fleet))
    ids = {f["findingId"] for f in published_reports(alerts)[0]["findings"] if f["caCertificateId"] == accepted}

    # When the CA's findings are suppressed and the audit runs
    suppress(monkeypatch, [{"caCertificateId": accepted, "reason": "Accepted until the CA is retired"}])
    run(virtual_time)

    # Then the import alone could not change their workflow (Security Hub keeps it), so
    # BatchUpdateFindings set it: SUPPRESSED, with the reason as the note
    assert hub.calls["BatchUpdateFindings"] == 1
    [update] = hub.updates
    assert {identifier["Id"] for identifier in update["FindingIdentifiers"]} == ids
    for finding_id in ids:
        finding = hub.finding(finding_id)
        assert finding["Workflow"]["Status"] == "SUPPRESSED" and finding["RecordState"] == "ACTIVE"
        assert finding["Note"]["Text"].endswith("Accepted until the CA is retired")

    # And when the suppression is removed, the next run sets them back to NEW
    suppress(monkeypatch, [])
    run(virtual_time)
    assert {hub.finding(finding_id)["Workflow"]["Status"] for finding_id in ids} == {"NEW"}
    assert "ended" in hub.finding(next(iter(ids)))["Note"]["Text"]


def test_security_hub_off_makes_no_call_and_counts_zero(fleet, memory, alerts, virtual_time, capsys):
    # Given SECURITY_HUB unset (the default), and a stand-in that would count any call
    stand_in = SecurityHub(ACCOUNT, REGION)
    stand_in.install(handler.client("securityhub"))

    # When the audit runs
    result = run(virtual_time)

    # Then Security Hub is not called, the counts are 0 and the state has no lastImported
    assert sum(stand_in.calls.values()) == 0
    assert (result["summary"]["securityHubImported"], result["summary"]["securityHubFailed"]) == (0, 0)
    assert not any("lastImported" in record for record in state_records().values())
    # And no SecurityHubFailedFindings metric exists (nor costs anything)
    assert ("SecurityHubFailedFindings", SERVICE) not in metric_points(capsys.readouterr().out)


def test_turning_security_hub_on_later_imports_the_open_findings_once(
    fleet, memory, alerts, virtual_time, monkeypatch, request
):
    # Given two runs without Security Hub (the state holds the open findings, never imported)
    run(virtual_time)
    run(virtual_time)

    # When Security Hub is turned on
    hub = request.getfixturevalue("hub")
    first = run(virtual_time)
    second = run(virtual_time)

    # Then the first run with it imports every open finding (they were never given), the next none
    assert first["summary"]["securityHubImported"] == 10 and len(hub.active()) == 10
    assert second["summary"]["securityHubImported"] == 0 and hub.calls["BatchImportFindings"] == 1
    # With their first sighting, not the day Security Hub was turned on
    first_seen = {f["findingId"]: asff.in_ms(f["firstSeen"]) for f in published_reports(alerts)[0]["findings"]}
    assert {i: f["FirstObservedAt"] for i, f in hub.active().items()} == first_seen


def test_moto_takes_the_documents_and_keeps_one_finding_per_id(fleet, memory, alerts, virtual_time, monkeypatch):
    # Given Security Hub on and moto's own BatchImportFindings answering (no stand-in), with the
    # refresh due at every run so that the second run imports every finding again
    monkeypatch.setenv("SECURITY_HUB", "true")
    monkeypatch.setattr(securityhub, "REFRESH_AFTER_DAYS", 0)

    # When the audit runs twice
    first = run(virtual_time)
    second = run(virtual_time)

    # Then moto took every finding both times and holds one per finding
    assert first["summary"]["securityHubImported"] == second["summary"]["securityHubImported"] == 10
    findings = boto3.client("securityhub", region_name=REGION).get_findings(MaxResults=100)["Findings"]
    assert sorted(f["Id"] for f in findings) == sorted(f["findingId"] for f in published_reports(alerts)[0]["findings"])
