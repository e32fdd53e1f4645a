"""`cert-audit scan --baseline previous.json` and `--fail-on new`: the function's memory from a
laptop or a CI pipeline, against a report of an earlier run instead of the state table."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from pathlib import Path

import pytest

from cert_audit import cli, formats, report
from cert_audit.emulator import seed_ca, seed_certificates
from tests.cli.conftest import ACCOUNT

FLEET_A = ["ACTIVE"] * 20 + ["REVOKED"] * 3 + ["INACTIVE"] * 2  # 5 findings
FLEET_B = ["ACTIVE"] * 10 + ["REVOKED"]  # 1 finding
FINDINGS = 6
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class Fleet:
    """Two CAs in the emulator, and what a test may do to them between runs."""

    def __init__(self, backend):
        self.backend = backend
        self.ca_a, self.ca_b = seed_ca(backend, "a"), seed_ca(backend, "b")
        self.certificates = {
            self.ca_a: dict(zip(seed_certificates(backend, self.ca_a, FLEET_A), FLEET_A, strict=True)),
            self.ca_b: dict(zip(seed_certificates(backend, self.ca_b, FLEET_B), FLEET_B, strict=True)),
        }

    def first(self, ca: str, status: str) -> str:
        return next(c for c, s in self.certificates[ca].items() if s == status)

    def revoke_one(self) -> str:
        """An ACTIVE certificate of CA a revoked; its ID."""
        certificate = self.first(self.ca_a, "ACTIVE")
        self.backend.certificates[certificate].status = "REVOKED"
        return certificate

    def delete_a_revoked_one(self) -> str:
        """A REVOKED certificate of CA a deleted; its ID."""
        certificate = self.first(self.ca_a, "REVOKED")
        del self.backend.certificates[certificate]
        return certificate


@pytest.fixture
def fleet(backend) -> Fleet:
    return Fleet(backend)


@pytest.fixture
def baseline(fleet, run, tmp_path) -> Path:
    """The JSON report of a first run over the fleet, as a CI job keeps it."""
    target = tmp_path / "baseline.json"
    code, _, err = run("--format", "json", "--fail-on", "never", "--output", str(target))
    assert (code, err) == (0, "")
    return target


def compared(run, baseline: Path, *argv: str) -> tuple[int, dict, str]:
    """A run with --baseline, as JSON: (exit code, report, stderr)."""
    code, out, err = run("--baseline", str(baseline), "--format", "json", *argv)
    return code, json.loads(out), err


# What the baseline marks


def test_a_revoked_certificate_is_new_and_a_deleted_one_resolved(fleet, baseline, run):
    # Given a baseline, then a certificate revoked and a revoked one deleted
    before = json.loads(baseline.read_text())
    revoked, deleted = fleet.revoke_one(), fleet.delete_a_revoked_one()

    # When the CLI runs against the baseline
    code, after, _ = compared(run, baseline, "--fail-on", "never")

    # Then exactly the revoked certificate is new, the deleted one resolved, the rest ongoing
    assert code == 0
    assert after["changes"] == {"new": 1, "resolved": 1, "ongoing": FINDINGS - 1}
    assert [f["certificateId"] for f in after["findings"] if f["isNew"]] == [revoked]
    [resolved] = after["resolvedFindings"]
    assert resolved["certificateId"] == deleted and resolved["resolvedAt"] >= before["finishedAt"]
    # and the rest were first seen when the baseline ran (it had no memory: its start)
    assert {f["certificateId"]: f["firstSeen"] for f in after["findings"] if not f["isNew"]} == {
        f["certificateId"]: before["startedAt"] for f in before["findings"] if f["certificateId"] != deleted
    }
    assert after["oldestOpenSince"] == before["startedAt"]


def test_first_seen_is_carried_from_baseline_to_baseline(fleet, baseline, run, tmp_path):
    # Given a second report made against the first (a rolling baseline), then a new finding
    second = tmp_path / "second.json"
    run("--baseline", str(baseline), "--format", "json", "--fail-on", "never", "--output", str(second))
    started = json.loads(baseline.read_text())["startedAt"]
    fleet.revoke_one()

    # When a third run compares with the second
    _, third, _ = compared(run, second, "--fail-on", "never")

    # Then the old findings keep the first run's firstSeen, and only the revoked one is new
    assert {f["firstSeen"] for f in third["findings"] if not f["isNew"]} == {started}
    assert third["changes"]["new"] == 1


def test_the_archived_gzip_report_is_a_baseline(fleet, baseline, run, tmp_path):
    # Given the baseline as the function archives it (compact JSON, gzip-compressed, .json.gz)
    archived = tmp_path / "3f1c8e2a.json.gz"
    archived.write_bytes(gzip.compress(json.dumps(json.loads(baseline.read_text()), separators=(",", ":")).encode()))

    # When nothing changed and the CLI compares with it
    code, after, _ = compared(run, archived, "--fail-on", "new")

    # Then nothing is new or resolved, and the gate passes
    assert code == 0
    assert after["changes"] == {"new": 0, "resolved": 0, "ongoing": FINDINGS}
    assert not any(f["isNew"] for f in after["findings"])


def test_a_report_from_before_finding_ids_gets_the_engines_ids(fleet, baseline, run, tmp_path):
    # Given a baseline written before findings had findingId, firstSeen or isNew
    old = json.loads(baseline.read_text())
    for finding in old["findings"]:
        for field in ("findingId", "firstSeen", "isNew"):
            finding.pop(field, None)
    for field in ("changes", "oldestOpenSince", "resolvedFindings"):
        old.pop(field, None)
    older = tmp_path / "older.json"
    older.write_text(json.dumps(old))

    # When nothing changed and the CLI compares with it
    _, after, _ = compared(run, older, "--fail-on", "never")

    # Then its findings are recognised (IDs from its account and region): none new, none resolved
    assert after["changes"] == {"new": 0, "resolved": 0, "ongoing": FINDINGS}


def test_a_lapsed_suppression_brings_findings_back_not_new(fleet, run, tmp_path):
    # Given a baseline in which CA a's findings were suppressed
    accepted = tmp_path / "suppressions.json"
    accepted.write_text(json.dumps([{"caCertificateId": fleet.ca_a, "reason": "accepted for now"}]))
    baseline = tmp_path / "baseline.json"
    run("--suppressions", str(accepted), "--format", "json", "--fail-on", "never", "--output", str(baseline))
    started = json.loads(baseline.read_text())["startedAt"]

    # When the CLI runs without the suppression
    code, after, _ = compared(run, baseline, "--fail-on", "new")

    # Then CA a's findings are back, not new, with the baseline's firstSeen; the gate passes
    assert code == 0
    back = [f for f in after["findings"] if f["caCertificateId"] == fleet.ca_a]
    assert len(back) == 5 and not any(f["isNew"] for f in back)
    assert {f["firstSeen"] for f in back} == {started}
    assert after["changes"]["new"] == 0


# Scope: only what this run could see gone is resolved


def test_a_failed_ca_resolves_nothing_and_fails_the_gate_with_2(fleet, baseline, run, failing_cas):
    # Given a baseline, then CA a's certificates deleted and CA a unreadable
    for certificate in fleet.certificates[fleet.ca_a]:
        del fleet.backend.certificates[certificate]
    failing_cas.add(fleet.ca_a)

    # When the CLI compares
    code, after, _ = compared(run, baseline, "--fail-on", "new")

    # Then none of CA a's findings is resolved: they stay open; the gate reports a scan error
    assert code == 2
    assert after["changes"] == {"new": 0, "resolved": 0, "ongoing": FINDINGS}
    assert after["resolvedFindings"] == []


def test_a_ca_not_asked_for_resolves_nothing(fleet, baseline, run):
    # When the CLI audits only CA b against a baseline of both
    _, after, _ = compared(run, baseline, "--ca", fleet.ca_b, "--fail-on", "never")

    # Then CA a's findings are not resolved (this run did not look at them)
    assert after["changes"] == {"new": 0, "resolved": 0, "ongoing": FINDINGS}


def test_a_ca_gone_from_the_account_resolves_its_findings(fleet, baseline, run):
    # Given CA a removed from the account after the baseline
    del fleet.backend.ca_certificates[fleet.ca_a]

    # When the CLI audits every CA (discovery lists them all)
    _, after, _ = compared(run, baseline, "--fail-on", "never")

    # Then CA a's findings are resolved
    assert after["changes"] == {"new": 0, "resolved": 5, "ongoing": 1}
    assert {f["caCertificateId"] for f in after["resolvedFindings"]} == {fleet.ca_a}


# --fail-on new


@pytest.mark.parametrize(
    "change, fail_on, expected",
    [
        ("none", "new", 0),  # an accepted backlog passes
        ("revoked", "new", 1),  # something new fails
        ("deleted", "new", 0),  # something resolved is no failure
        ("none", "findings", 1),  # the findings gate still fails on the backlog
        ("revoked", "errors", 0),
    ],
)
def test_fail_on_new(fleet, baseline, run, change, fail_on, expected):
    if change == "revoked":
        fleet.revoke_one()
    if change == "deleted":
        fleet.delete_a_revoked_one()
    code, _, _ = compared(run, baseline, "--fail-on", fail_on)
    assert code == expected


def test_fail_on_new_without_a_baseline_is_bad_usage(fleet, run):
    # When the gate asks for new findings with nothing to compare with
    code, out, err = run("--fail-on", "new")

    # Then it says what is missing, in one line, before any scan
    assert (code, out) == (2, "")
    assert err.startswith("cert-audit: error: --fail-on new: needs --baseline FILE")
    assert err.count("\n") == 1


def test_help_documents_fail_on_new(capsys):
    assert cli.main(["scan", "--help"]) == 0
    text = capsys.readouterr().out
    assert "  new       2 if any CA failed, else 1 if any finding is new" in text
    assert "cert-audit scan --baseline accepted.json --fail-on new" in text
    assert "--baseline FILE" in text


# Bad baselines


BAD_BASELINES = {
    "missing": (None, "cannot read"),
    "not JSON": (b"IoT certificate audit: 6 findings", "is not JSON (Expecting value, line 1)"),
    "broken gzip": (b"\x1f\x8b\x08\x00broken", "is not readable gzip"),
    "not UTF-8": (b"\xff\xfe{}", "is not UTF-8 text"),
    "not a report": (b'{"default": "{}", "email": "..."}', "is not an audit report (no schemaVersion)"),
    "a list": (b"[]", "is not an audit report (no schemaVersion)"),
    "another schema": (b'{"schemaVersion": 2, "findings": []}', "is a report of schema version 2"),
    "invocation result": (lambda r: {k: v for k, v in r.items() if k != "findings"}, "has no findings list"),
    "cut for SNS": (lambda r: {**r, "findingsTruncated": True, "findingsOmitted": 3}, "is a report cut to fit"),
    "bad finding": (lambda r: {**r, "findings": [{"severity": "LOW"}]}, "has a finding without its type"),
    "another account": (lambda r: {**r, "accountId": "210987654321"}, "is a report of account 210987654321"),
    "another region": (lambda r: {**r, "region": "eu-west-1"}, "region eu-west-1, and this run audits account"),
}


@pytest.mark.parametrize("case", sorted(BAD_BASELINES))
def test_a_bad_baseline_is_one_line_naming_problem_and_fix(fleet, baseline, run, tmp_path, case):
    # Given a baseline that cannot serve
    content, problem = BAD_BASELINES[case]
    target = tmp_path / "bad.json"
    if callable(content):
        target.write_text(json.dumps(content(json.loads(baseline.read_text()))))
    elif content is not None:
        target.write_bytes(content)

    # When the CLI runs with it, then one line names it, the problem and the fix; nothing is scanned
    code, out, err = run("--baseline", str(target), "--fail-on", "new")
    assert (code, out) == (2, "")
    assert err.startswith("cert-audit: error: --baseline: ") and repr(str(target)) in err
    assert problem in err, err
    assert "same account and region" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_baseline_cannot_be_matched_when_the_account_is_unknown(fleet, baseline, run, monkeypatch):
    # Given STS does not answer (the account of this run unknown) and a baseline of a known account
    monkeypatch.setattr(cli, "account_id", lambda session: None)

    # When the CLI compares, then it says why it cannot and what to do
    code, out, err = run("--baseline", str(baseline))
    assert (code, out) == (2, "")
    assert f"is a report of account {ACCOUNT}, and this run's account is unknown" in err
    assert err.count("\n") == 1


# What the outputs show


def test_table_shows_the_changes_a_new_column_and_what_was_resolved(fleet, baseline, run):
    # Given a baseline, then a certificate revoked and a revoked one deleted
    revoked, deleted = fleet.revoke_one(), fleet.delete_a_revoked_one()

    # When the CLI prints its table against the baseline
    _, out, _ = run("--baseline", str(baseline), "--fail-on", "never")

    # Then the changes line comes above the findings, which lead with the new one, marked in a New column
    lines = out.splitlines()
    [changes] = [line for line in lines if line.startswith("Since the baseline: ")]
    assert re.fullmatch(
        r"Since the baseline: 1 new, 1 resolved, 5 still open \(oldest since \d{4}-\d\d-\d\d\)", changes
    )
    heading = lines.index(f"Findings (new first, then worst first): {FINDINGS}")
    assert lines.index(changes) < heading
    assert lines[heading + 1].split() == ["New", "Severity", "Finding", "Certificate", "ID", "CA", "Created"]
    rows = lines[heading + 3 : heading + 3 + FINDINGS]
    assert rows[0].split()[:4] == ["yes", "LOW", "REVOKED", revoked]
    assert not any(row.startswith("yes") for row in rows[1:])
    # and the resolved finding is listed after them, with the day it was first seen
    resolved = lines.index("Resolved since the baseline (open then, gone now): 1")
    assert resolved > heading
    row = lines[resolved + 3].split()
    assert row[:3] == ["LOW", "REVOKED", deleted] and DAY.fullmatch(row[-1])


def test_table_without_a_baseline_has_no_new_column(fleet, run):
    _, out, _ = run("--fail-on", "never")
    assert "Since the baseline" not in out and "Resolved since" not in out
    assert "Findings (worst first): 6" in out
    assert not any(line.startswith("New ") for line in out.splitlines())


def test_csv_is_the_archives_csv_with_is_new(fleet, baseline, run, monkeypatch):
    # Given a baseline and a newly revoked certificate, and the one CSV writer of the codebase watched
    revoked = fleet.revoke_one()
    written = []
    real_write_csv = report.write_csv

    def write_csv(findings, stream):
        written.append(len(findings))
        real_write_csv(findings, stream)

    monkeypatch.setattr(report, "write_csv", write_csv)
    monkeypatch.setattr(formats, "write_csv", write_csv)  # the CLI's formats (cert_audit.formats)

    # When the CLI writes CSV against the baseline
    _, out, _ = run("--baseline", str(baseline), "--format", "csv", "--fail-on", "never")

    # Then it was written by report.write_csv, the archive's writer, with the memory's columns
    assert written == [FINDINGS + 1]
    rows = list(csv.DictReader(io.StringIO(out)))
    header = out.splitlines()[0].split(",")
    assert header[: len(report.FINDING_FIELDS)] == list(report.FINDING_FIELDS)
    assert {"findingId", "firstSeen", "isNew"} <= set(header)
    assert [row["certificateId"] for row in rows if row["isNew"] == "True"] == [revoked]


def test_publish_sends_the_change_led_email(fleet, baseline, alerts, run):
    # Given a baseline and a newly revoked certificate
    fleet.revoke_one()

    # When the CLI publishes its comparison
    run("--baseline", str(baseline), "--publish", alerts.topic_arn, "--fail-on", "never")

    # Then the email leads with what changed, as the function's does
    [published] = alerts.published()
    email = published["Message"]["email"]
    assert "1 new, 0 resolved, 6 still open (oldest since " in email
    assert email.index("New since the last run") < email.index("Still open")
    assert json.loads(published["Message"]["default"])["changes"] == {"new": 1, "resolved": 0, "ongoing": 6}
