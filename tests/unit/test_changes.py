"""What changed since the last run (changes.compare) and the finding's identity (findings.finding_id)."""

from __future__ import annotations

import json

from cert_audit.changes import Scope, changes_of, compare, record_of
from cert_audit.findings import CA_EXPIRING, CA_NOT_ACTIVE, CERTIFICATE_STATUS, finding_id

NOW = "2026-11-30T08:00:00Z"
BEFORE = "2026-03-02T08:00:00Z"
CA_A, CA_B = "a" * 64, "b" * 64


def finding(cert: str, ca: str = CA_A, kind: str = CERTIFICATE_STATUS, status: str = "REVOKED", severity="LOW"):
    found = {"type": kind, "caCertificateId": ca, "certificateId": cert, "status": status, "severity": severity}
    found["creationDate"] = "2025-01-01T00:00:00Z"
    return {**found, "findingId": finding_id("123456789012", "us-east-1", found)}


def stored(found: dict, first_seen: str = BEFORE, suppressed: bool = False, as_text: bool = False) -> dict:
    record = record_of({**found, "firstSeen": first_seen}, suppressed)
    return {**record, "finding": json.dumps(record["finding"])} if as_text else record


def scope(complete=(CA_A, CA_B), described=(CA_A, CA_B), audited=(CA_A, CA_B), every_ca_listed=False) -> Scope:
    return Scope(frozenset(audited), frozenset(complete), frozenset(described), every_ca_listed)


def test_the_id_is_stable_across_runs_and_names_the_problem_not_its_state():
    # Given the same certificate's finding in two runs, once INACTIVE and once REVOKED
    one = finding("c1", status="INACTIVE", severity="HIGH")
    other = finding("c1", status="REVOKED", severity="LOW")

    # Then it is one problem; another certificate, CA, type, account or region is another
    assert one["findingId"] == other["findingId"]
    assert len(one["findingId"]) == 32
    base = {k: v for k, v in one.items() if k != "findingId"}
    others = {
        finding("c2")["findingId"],
        finding("c1", ca=CA_B)["findingId"],
        finding("c1", kind="DEVICE_CERTIFICATE_AGE")["findingId"],
        finding_id("999999999999", "us-east-1", base),
        finding_id("123456789012", "eu-west-1", base),
    }
    assert one["findingId"] not in others and len(others) == 5


def report_of(findings: list[dict], cas: list[dict] = ()) -> dict:
    return {"findings": findings, "suppressedFindings": [], "cas": list(cas)}


def test_without_memory_everything_is_new():
    findings = [finding("c1"), finding("c2")]
    changes = changes_of(report_of(findings), None, True, NOW)
    assert changes.counts() == {"new": 2, "resolved": 0, "ongoing": 0}
    assert all(f["isNew"] and f["firstSeen"] == NOW for f in findings)
    assert {w["findingId"] for w in changes.writes} == {f["findingId"] for f in findings}


def test_an_unchanged_run_writes_nothing_and_keeps_first_seen():
    # Given last run's open findings, seen again unchanged (one stored as JSON text, as DynamoDB keeps it)
    previous = [stored(finding("c1")), stored(finding("c2"), as_text=True)]
    findings = [finding("c1"), finding("c2")]

    changes = compare(findings, [], previous, scope(), NOW)

    assert changes.counts() == {"new": 0, "resolved": 0, "ongoing": 2}
    assert changes.writes == [] and changes.deletes == []
    assert all(f["firstSeen"] == BEFORE and f["isNew"] is False for f in findings)
    assert changes.oldest == BEFORE


def test_a_new_and_a_gone_finding():
    # Given c1 was open and c2 is new; c3 was open and is gone from a CA scanned to the end
    previous = [stored(finding("c1")), stored(finding("c3"), first_seen="2026-01-01T00:00:00Z", as_text=True)]
    findings = [finding("c1"), finding("c2")]

    changes = compare(findings, [], previous, scope(), NOW)

    assert [f["certificateId"] for f in changes.new] == ["c2"]
    [resolved] = changes.resolved
    assert (resolved["certificateId"], resolved["resolvedAt"], resolved["firstSeen"]) == (
        "c3",
        NOW,
        "2026-01-01T00:00:00Z",
    )
    assert changes.deletes == [finding("c3")["findingId"]]
    assert [w["findingId"] for w in changes.writes] == [finding("c2")["findingId"]]
    assert changes.counts() == {"new": 1, "resolved": 1, "ongoing": 1}


def test_a_ca_that_failed_resolves_nothing_and_its_findings_are_not_new_again():
    # Given CA B's scan failed: its open finding was not seen this time
    previous = [stored(finding("b1", ca=CA_B)), stored(finding("a1"))]

    changes = compare([finding("a1")], [], previous, scope(complete=(CA_A,)), NOW)

    assert changes.resolved == [] and changes.deletes == []
    assert changes.counts() == {"new": 0, "resolved": 0, "ongoing": 2}


def test_ca_level_findings_need_the_ca_described_or_fully_scanned():
    expiring = finding(CA_B, ca=CA_B, kind=CA_EXPIRING, status="ACTIVE", severity="MEDIUM")
    not_active = finding(CA_B, ca=CA_B, kind=CA_NOT_ACTIVE, status="INACTIVE", severity="CRITICAL")
    previous = [stored(expiring), stored(not_active)]

    # Given CA B was described but its listing failed: the expiry is seen gone, the other is not
    changes = compare([], [], previous, scope(complete=(CA_A,), described=(CA_A, CA_B)), NOW)
    assert [f["type"] for f in changes.resolved] == [CA_EXPIRING]

    # And if it was not even described, neither is
    changes = compare([], [], previous, scope(complete=(CA_A,), described=(CA_A,)), NOW)
    assert changes.resolved == []


def test_a_ca_no_longer_registered_resolves_only_when_every_ca_was_listed():
    previous = [stored(finding("z1", ca="c" * 64))]
    assert compare([], [], previous, scope(every_ca_listed=False), NOW).resolved == []
    assert len(compare([], [], previous, scope(every_ca_listed=True), NOW).resolved) == 1


def test_suppressed_findings_are_neither_new_nor_resolved_and_return_with_their_first_seen():
    # Given a suppressed finding seen first now
    quiet = finding("c1")
    changes = compare([], [quiet], [], scope(), NOW)
    assert changes.counts() == {"new": 0, "resolved": 0, "ongoing": 0}
    assert changes.writes[0]["suppressed"] is True and quiet["isNew"] is False

    # When its suppression lapses a month later, it comes back as open, not new, with its firstSeen
    back = finding("c1")
    changes = compare([back], [], [stored(quiet, first_seen=BEFORE, suppressed=True)], scope(), NOW)
    assert (back["isNew"], back["firstSeen"]) == (False, BEFORE)
    assert changes.counts() == {"new": 0, "resolved": 0, "ongoing": 1}
    assert changes.writes[0]["suppressed"] is False  # the flag is rewritten once

    # And a suppressed finding that disappears is forgotten without a RESOLVED
    changes = compare([], [], [stored(quiet, suppressed=True)], scope(), NOW)
    assert changes.resolved == [] and changes.deletes == [quiet["findingId"]]


def test_a_changed_status_is_written_once_and_stays_the_same_finding():
    # Given c1 was INACTIVE and is now REVOKED
    previous = [stored(finding("c1", status="INACTIVE", severity="HIGH"))]
    now_revoked = finding("c1")

    changes = compare([now_revoked], [], previous, scope(), NOW)

    assert changes.counts() == {"new": 0, "resolved": 0, "ongoing": 1}
    [write] = changes.writes
    assert (write["status"], write["firstSeen"]) == ("REVOKED", BEFORE)


def test_new_and_resolved_are_worst_first():
    findings = [finding("low"), finding("high", status="INACTIVE", severity="HIGH")]
    changes = changes_of(report_of(findings), None, True, NOW)
    assert [f["certificateId"] for f in changes.new] == ["high", "low"]


def test_the_scope_comes_from_the_report_cas():
    # Given CA A scanned, CA B described but failed, and discovery that did not finish
    cas = [
        {"caCertificateId": "*", "status": None, "error": {"code": "PagingLoop"}},
        {"caCertificateId": CA_A, "status": "ACTIVE", "error": None},
        {"caCertificateId": CA_B, "status": "ACTIVE", "error": {"code": "ThrottlingException"}},
    ]
    gone_ca = stored(finding("z1", ca="c" * 64))
    previous = [stored(finding("a1")), stored(finding("b1", ca=CA_B)), gone_ca]

    changes = changes_of(report_of([], cas), previous, True, NOW)

    # Then only CA A's finding is resolved: B failed, and an unlisted CA may still exist
    assert [f["certificateId"] for f in changes.resolved] == ["a1"]
    assert changes.counts() == {"new": 0, "resolved": 1, "ongoing": 2}
