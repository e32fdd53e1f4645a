"""What a run gives Security Hub (securityhub.plan) and the SECURITY_HUB setting, without AWS."""

from __future__ import annotations

import pytest

from cert_audit import asff, securityhub
from cert_audit.changes import Changes, Scope, compare, record_of
from cert_audit.config import ConfigError, load_config

OK_CA, FAILED_CA = "a" * 64, "b" * 64


def finding(number: int, ca: str = OK_CA, **fields) -> dict:
    return {
        "type": "CERTIFICATE_STATUS",
        "caCertificateId": ca,
        "certificateId": f"{number:064x}",
        "status": "REVOKED",
        "severity": "LOW",
        "findingId": f"{number:032x}",
        "firstSeen": "2026-01-01T00:00:00Z",
        **fields,
    }


def report_of(findings=(), suppressed=()) -> dict:
    return {
        "cas": [
            {"caCertificateId": OK_CA, "error": None},
            {"caCertificateId": FAILED_CA, "error": {"code": "AccessDeniedException", "message": "no"}},
        ],
        "findings": list(findings),
        "suppressedFindings": list(suppressed),
    }


def ids(items) -> list[str]:
    return [item.finding_id for item in items]


def test_changes_go_first_then_the_resolved_then_the_due_oldest_first_up_to_the_cap(monkeypatch):
    # Given a new finding, a changed one, a resolved one and three due, the cap at two
    monkeypatch.setattr(securityhub, "REFRESH_MAX", 2)
    new, changed, due_old, due_never, due_recent = (finding(n) for n in range(1, 6))
    resolved = finding(9)
    changes = Changes(
        new=[new],
        resolved=[resolved],
        writes=[record_of(new, False), record_of(changed, False)],
        stale=[("2026-03-01T00:00:00Z", due_recent["findingId"]), ("2026-02-01T00:00:00Z", due_old["findingId"])]
        + [("", due_never["findingId"])],
    )

    # When the run plans
    items = securityhub.plan(report_of([new, changed, due_old, due_never, due_recent]), changes)

    # Then the new and changed come first, the resolved (to archive) next, then the two most overdue
    assert ids(items) == [new["findingId"], changed["findingId"], resolved["findingId"]] + [
        due_never["findingId"],
        due_old["findingId"],
    ]
    assert [item.state for item in items] == [asff.OPEN, asff.OPEN, asff.RESOLVED, asff.OPEN, asff.OPEN]
    assert [item.due for item in items] == [False, False, False, True, True]


def test_a_failed_cas_findings_are_left_alone_but_its_new_ones_imported():
    # Given a failed CA with a new finding, a changed one and a due one
    new, changed, due = (finding(n, FAILED_CA) for n in (1, 2, 3))
    changes = Changes(
        new=[new], writes=[record_of(new, False), record_of(changed, False)], stale=[("", due["findingId"])]
    )

    # When the run plans, then only the new one goes
    assert ids(securityhub.plan(report_of([new, changed, due]), changes)) == [new["findingId"]]


def test_suppressed_findings_get_their_workflow_and_unrecorded_ones_no_mark():
    # Given a suppressed finding, one whose suppression ended, and a new one whose state write failed
    quiet = finding(1, suppression={"reason": "Accepted"})
    reopened, unrecorded = finding(2), finding(3)
    changes = Changes(
        new=[unrecorded],
        writes=[record_of(quiet, True), record_of(reopened, False), record_of(unrecorded, False)],
        unsuppressed=[reopened["findingId"]],
    )

    # When the run plans
    items = {
        item.finding_id: item
        for item in securityhub.plan(report_of([reopened, unrecorded], [quiet]), changes, {unrecorded["findingId"]})
    }

    # Then the suppressed one is set SUPPRESSED, the reopened one NEW, and the unrecorded one not marked
    assert (items[quiet["findingId"]].state, items[quiet["findingId"]].workflow) == (asff.SUPPRESSED, "SUPPRESSED")
    assert items[reopened["findingId"]].workflow == "NEW"
    assert (items[unrecorded["findingId"]].workflow, items[unrecorded["findingId"]].mark) == (None, False)
    assert items[quiet["findingId"]].mark and items[reopened["findingId"]].mark


def test_compare_lists_only_unchanged_records_never_or_long_ago_imported_as_stale():
    # Given three open findings whose records are unchanged: never imported, imported long ago, lately
    findings = [finding(n) for n in (1, 2, 3)]
    records = [
        {**record_of(f, False), "lastImported": last}
        for f, last in zip(findings, (None, "2026-01-01T00:00:00.000Z", "2026-11-01T00:00:00.000Z"), strict=True)
    ]
    scope = Scope(frozenset({OK_CA}), frozenset({OK_CA}), frozenset({OK_CA}), False)

    # When compared with a refresh due for imports before October
    changes = compare(findings, [], records, scope, "2026-11-30T00:00:00Z", "2026-10-01T00:00:00Z")

    # Then the first two are stale, with their lastImported to sort by; nothing is written
    assert changes.stale == [("", findings[0]["findingId"]), ("2026-01-01T00:00:00.000Z", findings[1]["findingId"])]
    assert changes.writes == []
    # And without Security Hub (no refresh_before) nothing is collected
    assert compare(findings, [], records, scope, "2026-11-30T00:00:00Z").stale == []


def test_refresh_is_due_sixty_days_after_the_last_import():
    assert securityhub.REFRESH_AFTER_DAYS == 60
    assert securityhub.refresh_before("2026-11-30T08:00:00Z") == "2026-10-01T08:00:00Z"


@pytest.mark.parametrize(("value", "on"), [("true", True), ("TRUE ", True), ("false", False), ("", False)])
def test_security_hub_setting(value, on):
    config = load_config({"SECURITY_HUB": value, "STATE_TABLE_NAME": "state"}, require_topic=False)
    assert config.security_hub is on
    assert load_config({}, require_topic=False).security_hub is False


def test_a_bad_security_hub_setting_is_refused_with_the_fix():
    with pytest.raises(ConfigError, match=r"SECURITY_HUB: 'yes' is not allowed; choose true or false"):
        load_config({"SECURITY_HUB": "yes"}, require_topic=False)
    with pytest.raises(ConfigError, match=r"SECURITY_HUB: true needs STATE_TABLE_NAME"):
        load_config({"SECURITY_HUB": "true"}, require_topic=False)


def test_the_archive_keeps_its_time_by_the_size_of_the_report():
    # The bench's archive of a million findings (JSON, CSV, OCSF) took about 110 s of CPU
    assert securityhub.archive_room_s(report_of()) == 30
    million = {"findings": range(999_000), "suppressedFindings": range(1_000)}
    assert securityhub.archive_room_s(million) == pytest.approx(140)
