"""docs/report.schema.json: a valid JSON Schema (2020-12) that describes the report the engine
builds, field for field, closed where the contract is; and the suite's check of every report."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import jsonschema
import pytest

from cert_audit.findings import FINDING_TYPES, SEVERITY_ORDER, finding_for, finding_id
from cert_audit.message import OMITTED, fit_report
from cert_audit.report import FINDING_FIELDS, build_report, without_findings
from cert_audit.scan import CaScan
from tests.schemas import EDGE, REPORT_SCHEMA, sampled, validate_invocation_result, validate_report

SCHEMA = json.loads(REPORT_SCHEMA.read_text())
DEFS = SCHEMA["$defs"]
ACCOUNT, REGION, CA = "123456789012", "eu-west-1", "a" * 64


def report_of(findings: int = 3) -> dict:
    scan = CaScan(CA, {"status": "ACTIVE"}, certificates_scanned=findings + 10)
    for number in range(findings):
        cid = f"{number:064x}"
        certificate = {
            "certificateArn": f"arn:aws:iot:{REGION}:{ACCOUNT}:cert/{cid}",
            "certificateId": cid,
            "status": "REVOKED",
            "certificateMode": "DEFAULT",
            "creationDate": datetime(2024, 5, 1, tzinfo=UTC),
        }
        found = finding_for(certificate, CA, frozenset({"REVOKED"}))
        scan.findings.append({**found, "findingId": finding_id(ACCOUNT, REGION, found)})
    scan.by_status = Counter(ACTIVE=10, REVOKED=findings)
    return build_report(
        [scan],
        flagged=frozenset({"REVOKED"}),
        audit_id="audit-1",
        account_id=ACCOUNT,
        region=REGION,
        started_at="2026-06-15T12:00:00Z",
        finished_at="2026-06-15T12:01:00Z",
        now=datetime(2026, 6, 15, 12, tzinfo=UTC),
    )


def test_the_schema_is_valid_draft_2020_12():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_the_schema_knows_every_field_type_and_severity_the_engine_has():
    # Then the report's fields, the finding's, the finding types and severities are the code's
    fields = DEFS["reportFields"]
    assert set(report_of()) <= set(fields["properties"])
    assert set(fields["required"]) | {"findings"} <= set(report_of())
    assert set(OMITTED.values()) <= set(fields["properties"])  # what fit_report adds
    assert DEFS["finding"]["required"] == list(FINDING_FIELDS)
    assert DEFS["findingType"]["enum"] == list(FINDING_TYPES)
    assert list(DEFS["summary"]["properties"]["byType"]["properties"]) == list(FINDING_TYPES)
    assert DEFS["severity"]["enum"] == list(SEVERITY_ORDER)
    assert set(report_of()["summary"]) <= set(DEFS["summary"]["properties"])
    assert set(DEFS["ca"]["required"]) <= set(report_of()["cas"][0]) <= set(DEFS["ca"]["properties"])


def test_a_report_its_cut_and_its_invocation_result_validate():
    report = report_of()
    validate_report(report)
    cut = fit_report(report_of(2000))
    assert cut["findingsOmitted"] > 0
    validate_report(cut)
    validate_invocation_result(without_findings(cut))


@pytest.mark.parametrize(
    "change, where",
    [
        (lambda r: r.update(newField=1), "at $"),
        (lambda r: r["summary"].update(newCount=1), "at $.summary"),
        (lambda r: r["findings"][0].update(newField="x"), "at $.findings[0]"),
        (lambda r: r["findings"][0].update(severity="SEVERE"), "at $.findings[0].severity"),
        (lambda r: r["cas"][0].pop("pages"), "at $.cas[0]"),
        (lambda r: r.update(accountId="12345"), "at $.accountId"),
    ],
)
def test_a_field_the_schema_does_not_have_fails_and_is_named(change, where):
    # Given a report with a field added, a value out of its range, or a field missing
    report = report_of()
    change(report)

    # Then validation fails, naming the place and the schema
    with pytest.raises(AssertionError, match="does not match docs/report.schema.json") as failed:
        validate_report(report)
    assert where in str(failed.value)


def test_the_invocation_result_has_no_findings_list():
    with pytest.raises(AssertionError, match=r"\$defs/invocationResult"):
        validate_invocation_result(report_of())
    with pytest.raises(AssertionError, match="'findings' is a required property"):
        validate_report(without_findings(report_of()))


def test_a_long_list_is_checked_at_its_ends_and_once_per_shape():
    # Given a long findings list with one finding of another shape in its middle
    report = report_of(10 * EDGE)
    odd = report["findings"][5 * EDGE]
    odd["unexpected"] = True

    # Then the sample keeps the ends, one item of each shape, and that one
    findings = sampled(report)["findings"]
    assert findings[:EDGE] == report["findings"][:EDGE] and findings[-EDGE:] == report["findings"][-EDGE:]
    assert any(finding is odd for finding in findings) and len(findings) == 2 * EDGE + 2
    with pytest.raises(AssertionError, match="unexpected"):
        validate_report(sampled(report))
