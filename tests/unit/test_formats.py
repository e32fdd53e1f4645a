"""The output formats (cert_audit.formats): the registry's names and files, JUnit XML for CI
dashboards and Markdown for a pull-request comment, from reports the engine builds."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime

import pytest

from cert_audit import formats
from cert_audit.findings import FINDING_TYPES, finding_for, finding_id
from cert_audit.report import add_error, build_report
from cert_audit.scan import CaScan
from tests.integration.securityhub_stand_in import asff_problems

ACCOUNT, REGION = "123456789012", "eu-west-1"
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
FLAGGED = frozenset({"REVOKED", "INACTIVE"})
DIRTY, CLEAN, FAILED = "a" * 64, "b" * 64, "c" * 64


def finding(ca: str, status: str, number: int) -> dict:
    cid = f"{number:064x}"
    certificate = {
        "certificateArn": f"arn:aws:iot:{REGION}:{ACCOUNT}:cert/{cid}",
        "certificateId": cid,
        "status": status,
        "certificateMode": "DEFAULT",
        "creationDate": datetime(2024, 5, 1, 12, number % 60, tzinfo=UTC),
    }
    found = finding_for(certificate, ca, FLAGGED)
    return {**found, "findingId": finding_id(ACCOUNT, REGION, found)}


def report_of(dirty_findings: int = 3, errors: list[dict] = ()) -> dict:
    """Three CAs: one with REVOKED and INACTIVE findings, one clean, one that failed part-way."""
    dirty = CaScan(DIRTY, {"status": "ACTIVE"}, certificates_scanned=500, duration_ms=1234)
    dirty.findings = [finding(DIRTY, "REVOKED" if n % 3 else "INACTIVE", n) for n in range(dirty_findings)]
    dirty.by_status = Counter(ACTIVE=500 - dirty_findings, REVOKED=dirty_findings)
    clean = CaScan(CLEAN, {"status": "ACTIVE"}, certificates_scanned=40, by_status=Counter(ACTIVE=40))
    failed = CaScan(FAILED, certificates_scanned=250, error={"code": "ScanIncomplete", "message": "Stopped <early>"})
    failed.findings = [finding(FAILED, "REVOKED", 10_000)]
    report = build_report(
        [dirty, clean, failed],
        flagged=FLAGGED,
        audit_id="audit-1",
        account_id=ACCOUNT,
        region=REGION,
        started_at="2026-06-15T12:00:00Z",
        finished_at="2026-06-15T12:01:00Z",
        now=NOW,
    )
    for error in errors:
        add_error(report, **error)
    return report


def suites_of(xml: str) -> dict[str, ET.Element]:
    root = ET.fromstring(xml)  # well-formed, or this raises
    assert root.tag == "testsuites"
    return {suite.get("name"): suite for suite in root.findall("testsuite")}


def test_junit_has_a_suite_per_ca_and_a_failing_case_per_finding_type_with_its_findings():
    # Given a CA with REVOKED and INACTIVE findings (both CERTIFICATE_STATUS), a clean CA and a failed one
    report = report_of(dirty_findings=5)

    # When it is written as JUnit XML
    suites = suites_of(formats.as_junit(report))

    # Then each CA is a suite with a scan case and a case per finding type
    assert list(suites) == [f"CA {DIRTY}", f"CA {CLEAN}", f"CA {FAILED}"]
    dirty = suites[f"CA {DIRTY}"]
    assert [case.get("name") for case in dirty.findall("testcase")] == ["scan", *FINDING_TYPES]
    assert dirty.get("time") == "1.234"
    # and the dirty CA fails once, on CERTIFICATE_STATUS, listing each of its findings by ID
    [failing] = [case for case in dirty.findall("testcase") if case.find("failure") is not None]
    failure = failing.find("failure")
    assert failing.get("name") == "CERTIFICATE_STATUS" and failure.get("type") == "CERTIFICATE_STATUS"
    assert failure.get("message") == "5 findings, worst HIGH"
    listed = re.findall(r"\(finding ([0-9a-f]{32})\)", failure.text)
    assert listed == [f["findingId"] for f in report["findings"] if f["caCertificateId"] == DIRTY]
    assert (dirty.get("tests"), dirty.get("failures"), dirty.get("errors"), dirty.get("skipped")) == (
        str(1 + len(FINDING_TYPES)), "1", "0", "0",
    )  # fmt: skip


def test_junit_a_clean_ca_passes_every_case():
    suite = suites_of(formats.as_junit(report_of()))[f"CA {CLEAN}"]
    cases = suite.findall("testcase")
    assert len(cases) == 1 + len(FINDING_TYPES)
    assert all(len(case) == 0 for case in cases)  # no failure, error or skipped child: passed
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("0", "0", "0")


def test_junit_a_scan_error_is_an_error_and_the_unchecked_types_are_skipped():
    # Given a CA stopped part-way (ScanIncomplete) that had found one REVOKED certificate
    suite = suites_of(formats.as_junit(report_of()))[f"CA {FAILED}"]
    cases = {case.get("name"): case for case in suite.findall("testcase")}

    # Then its scan case is an error naming the code and message, what it found still fails,
    # and the types it found nothing of are skipped, not passed: not every certificate was checked
    error = cases["scan"].find("error")
    assert (error.get("type"), error.get("message")) == ("ScanIncomplete", "Stopped <early>")
    assert cases["CERTIFICATE_STATUS"].find("failure") is not None
    others = [cases[kind] for kind in FINDING_TYPES if kind != "CERTIFICATE_STATUS"]
    assert all(case.find("skipped") is not None for case in others)
    assert (suite.get("errors"), suite.get("failures"), suite.get("skipped")) == ("1", "1", str(len(others)))


def test_junit_totals_add_up_and_run_errors_are_a_suite_of_errors():
    # Given a run-level error besides the CAs
    report = report_of(errors=[{"source": "state", "code": "AccessDeniedException", "message": "denied"}])

    # When written as JUnit
    root = ET.fromstring(formats.as_junit(report))

    # Then the run's errors are a suite of their own, and the root's totals are the suites' sums
    run = root.find("testsuite[@name='run']")
    assert run.find("testcase/error").get("type") == "AccessDeniedException"
    for key in ("tests", "failures", "errors", "skipped"):
        assert int(root.get(key)) == sum(int(suite.get(key)) for suite in root.findall("testsuite"))
    assert int(root.get("tests")) == sum(len(suite.findall("testcase")) for suite in root.findall("testsuite"))


def test_junit_stays_well_formed_whatever_a_message_holds():
    # Given an error message with XML's special and forbidden characters
    message = 'a <b> & "c"\x00\x1b[31m'
    report = report_of(errors=[{"source": "archive", "code": "Weird", "message": message}])

    # Then the XML parses and carries the text, the forbidden characters replaced
    case = ET.fromstring(formats.as_junit(report)).find("testsuite[@name='run']/testcase/error")
    assert case.get("message") == 'a <b> & "c"\ufffd\ufffd[31m'


def cells(row: str) -> list[str]:
    """A Markdown table row's cells, split where GFM splits them (at pipes not escaped)."""
    return re.split(r"(?<!\\)\|", row.strip())[1:-1]


def test_markdown_has_the_totals_and_every_finding_when_they_fit():
    report = report_of()
    text = formats.as_markdown(report)
    assert text.startswith("### IoT certificate audit: 4 findings in 2 of 3 CAs, 1 failed (eu-west-1)\n")
    assert "| 790 | 3 | 1 | 4 | HIGH | 0 |" in text
    assert f"- CA `{FAILED}`: **ScanIncomplete**: Stopped \\<early\\>" in text
    for found in report["findings"]:
        assert f"`{found['findingId']}`" in text
    assert "more findings" not in text


def test_markdown_caps_the_findings_and_counts_the_rest():
    # Given more findings than a comment should list
    report = report_of(dirty_findings=formats.MARKDOWN_FINDINGS_MAX + 20)

    # Then the table lists the first ones, worst first, and says how many more there are
    text = formats.as_markdown(report)
    rows = [line for line in text.splitlines() if line.startswith("| ") and re.search(r"`[0-9a-f]{32}`", line)]
    assert len(rows) == formats.MARKDOWN_FINDINGS_MAX
    assert f"… and {len(report['findings']) - formats.MARKDOWN_FINDINGS_MAX} more findings: see " in text


def test_markdown_escapes_what_would_break_the_table_or_inject_markup():
    # Given a finding whose status (from AWS) and a run error hold pipes, markup and a newline
    report = report_of(errors=[{"source": "suppressions", "code": "Bad", "message": "x | <img src=y> *z*\nnext"}])
    report["findings"][0]["status"] = "NEW|STATUS`"

    # Then the finding's row keeps its six cells, and the error stays one escaped line
    text = formats.as_markdown(report)
    header = next(line for line in text.splitlines() if line.startswith("| Severity | Finding"))
    row = next(line for line in text.splitlines() if "NEW" in line)
    assert len(cells(row)) == len(cells(header)) == 6
    assert "`NEW\\|STATUS'`" in row
    assert "- suppressions: **Bad**: x \\| \\<img src=y\\> \\*z\\* next" in text


def test_markdown_with_changes_lists_new_first_and_the_resolved():
    # Given a report compared with the last run: the last finding is new, one was resolved
    report = report_of()
    for found in report["findings"]:
        found.update(isNew=found is report["findings"][-1], firstSeen="2026-06-01T00:00:00Z")
    resolved = {**report["findings"][0], "findingId": "f" * 32, "resolvedAt": "2026-06-15T12:00:00Z"}
    report.update(changes={"new": 1, "resolved": 1, "ongoing": 3}, resolvedFindings=[resolved])

    # Then the changes lead, the new finding is the first row, and the resolved one is listed
    text = formats.as_markdown(report)
    assert "**Changes:** 1 new, 1 resolved, 3 still open" in text
    first = next(line for line in text.splitlines() if line.startswith("| new |"))
    assert report["findings"][-1]["findingId"] in first
    assert f"`{'f' * 32}`" in text[text.index("#### Resolved (1)") :]


def test_every_format_renders_a_report_and_has_its_file():
    report = report_of()
    assert {"table", "json", "csv", "ocsf", "asff", "junit", "markdown"} <= set(formats.FORMATS)
    names = {formats.file_name(name) for name in formats.FORMATS}
    assert len(names) == len(formats.FORMATS)  # no two formats write the same file
    assert formats.file_name("ocsf") == "report.ocsf.json" and formats.file_name("junit") == "report.junit.xml"
    for name, form in formats.FORMATS.items():
        assert form.render(report), name


def test_asff_is_the_documents_security_hub_gets_each_valid():
    # Given a report with open findings, a suppressed one and a resolved one
    report = report_of()
    suppressed = {**report["findings"].pop(), "suppression": {"caCertificateId": FAILED, "reason": "accepted"}}
    resolved = {**report["findings"][0], "findingId": "f" * 32, "firstSeen": "2026-06-01T00:00:00Z"}
    resolved["resolvedAt"] = "2026-06-15T12:00:00Z"
    report.update(suppressedFindings=[suppressed], resolvedFindings=[resolved])

    # When it is written as ASFF
    documents = json.loads(formats.as_asff(report))

    # Then there is a document per finding of each list, by findingId, each valid by the Security Hub agent's checks
    expected = [f["findingId"] for key in ("findings", "suppressedFindings", "resolvedFindings") for f in report[key]]
    assert [document["Id"] for document in documents] == expected
    for document in documents:
        assert asff_problems(document, ACCOUNT, REGION) == []


@pytest.mark.parametrize(
    "value, names",
    [("json", ["json"]), ("json,csv,ocsf", ["json", "csv", "ocsf"]), (" JSON , csv,json", ["json", "csv"])],
)
def test_format_names_are_a_comma_list(value, names):
    assert formats.parse_names(value) == names


@pytest.mark.parametrize("value, named", [("json,xml", "'xml'"), ("", "no format"), ("yaml, toml", "'yaml', 'toml'")])
def test_an_unknown_format_is_named_with_the_known_ones(value, named):
    with pytest.raises(formats.FormatError) as raised:
        formats.parse_names(value)
    message = str(raised.value)
    assert message.startswith(f"--format: {named} is not a format; choose from table, json, csv")
    assert "\n" not in message
