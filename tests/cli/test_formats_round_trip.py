"""Every output format round-trips the demo fleet's findings: the report `cert-audit demo` archives
(its second run: new, ongoing, resolved and suppressed findings, a failed CA), rendered in each
format of the registry, read back, carries the same findings (count and findingIds), and each
output is valid by its own schema: the report's JSON Schema, the OCSF model package, the Security
Hub agent's ASFF checks, well-formed JUnit XML."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET

import pytest

from cert_audit import formats
from tests.integration.securityhub_stand_in import asff_problems
from tests.schemas import validate_ocsf, validate_report

HEX32 = r"[0-9a-f]{32}"


@pytest.fixture(scope="module")
def report(demo_run) -> dict:
    """The demo's archived report (the session's run of `cert-audit demo`, on the tree under test)."""
    process, report_file = demo_run.process, demo_run.report_file
    assert process.returncode == 0, process.stderr[-2000:]
    report = json.loads(report_file.read_text())
    validate_report(report, "the demo's archived report")
    return report


def ids(findings: list[dict]) -> list[str]:
    return [finding["findingId"] for finding in findings]


def from_json(text: str, report: dict) -> list[str]:
    read = json.loads(text)
    validate_report(read, "--format json")
    return ids(read["findings"])


def from_csv(text: str, report: dict) -> list[str]:
    return [row["findingId"] for row in csv.DictReader(io.StringIO(text))]


def from_ocsf(text: str, report: dict) -> list[str]:
    documents = json.loads(text)
    for document in documents:
        validate_ocsf(document)
    return [document["finding_info"]["uid"] for document in documents]


def from_asff(text: str, report: dict) -> list[str]:
    """The open findings' documents (the suppressed and resolved ones follow them, checked apart)."""
    documents = json.loads(text)
    for document in documents:
        assert asff_problems(document, report["accountId"], report["region"]) == []
    every = ids(report["findings"]) + ids(report["suppressedFindings"]) + ids(report["resolvedFindings"])
    assert [document["Id"] for document in documents] == every
    return [document["Id"] for document in documents[: len(report["findings"])]]


def from_junit(text: str, report: dict) -> list[str]:
    root = ET.fromstring(text)  # well-formed
    assert root.tag == "testsuites" and int(root.get("failures")) == len(list(root.iter("failure")))
    found = [re.findall(rf"\(finding ({HEX32})\)", failure.text) for failure in root.iter("failure")]
    failed_cas = [ca for ca in report["cas"] if ca["error"]]
    assert int(root.get("errors")) == len(failed_cas) + len(report["errors"]) > 0
    return [finding_id for listed in found for finding_id in listed]


def from_markdown(text: str, report: dict) -> list[str]:
    rows = [line for line in text.splitlines() if line.startswith("| ") and re.search(rf"`{HEX32}` \|$", line)]
    table = text.index("#### Findings (")
    resolved = text.index("#### Resolved (") if "#### Resolved (" in text else len(text)
    assert f"#### Findings ({len(report['findings'])}," in text
    return [re.search(rf"`({HEX32})` \|$", row).group(1) for row in rows if table < text.index(row) < resolved]


def from_html(text: str, report: dict) -> list[str]:
    rows = re.findall(r'<tr data-severity="[^"]*"[^>]*data-ids="([^"]*)"', text)
    listed = [row.split()[-1] for row in rows if re.fullmatch(HEX32, row.split()[-1])]
    return [finding_id for finding_id in listed if finding_id in set(ids(report["findings"]))]


def from_table(text: str, report: dict) -> list[str]:
    """The table names certificates, not findingIds: each finding by its certificate's row."""
    assert re.search(rf"Findings \([^)]*\): {len(report['findings'])}\b", text)
    by_certificate = {finding["certificateId"]: finding["findingId"] for finding in report["findings"]}
    lines = text.splitlines()
    return [
        finding_id
        for certificate, finding_id in by_certificate.items()
        for line in lines
        if certificate in line and line.split()[0] in ("yes", *(f["severity"] for f in report["findings"]))
    ]


READERS = {
    "json": from_json,
    "csv": from_csv,
    "ocsf": from_ocsf,
    "asff": from_asff,
    "junit": from_junit,
    "markdown": from_markdown,
    "html": from_html,
    "table": from_table,
}


def test_every_format_has_a_reader_here():
    # A format added to the registry is added here too, with how its findings are read back
    assert set(READERS) == set(formats.FORMATS)


@pytest.mark.parametrize("name", list(READERS))
def test_each_format_carries_the_demo_fleets_findings(report, name):
    # Given the demo's report: findings of several types, a new one, a resolved one, suppressed ones, a failed CA
    assert len(report["findings"]) >= 10 and report["resolvedFindings"] and report["suppressedFindings"]
    assert any(ca["error"] for ca in report["cas"])

    # When it is written in the format and read back
    read = READERS[name](formats.FORMATS[name].render(report), report)

    # Then it holds every finding, each once, by its findingId
    assert sorted(read) == sorted(ids(report["findings"])), name
