"""The report's run-level errors and its CSV form, as subscribers and spreadsheets read them
(issue 9, mutation run)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from cert_audit.findings import finding_for
from cert_audit.report import add_error, build_report, write_csv
from cert_audit.scan import CaScan

CA = "a" * 64
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def report_of(scans: list[CaScan], errors: list[dict] = ()) -> dict:
    return build_report(
        scans,
        flagged=frozenset({"REVOKED"}),
        audit_id="id",
        account_id="123456789012",
        region="eu-west-1",
        started_at="s",
        finished_at="f",
        now=NOW,
        errors=list(errors),
    )


def test_a_run_level_error_is_listed_and_counted():
    # Given a report that already carries the suppressions' error
    report = report_of([CaScan(CA)], [{"source": "suppressions", "code": "InvalidSuppressions", "message": "m"}])

    # When a later step (the state table, the archive) records its own problem
    add_error(report, "state", "AccessDeniedException", "State table iot-audit-state: denied")

    # Then both are listed, in order, and the summary counts both
    assert report["errors"][1] == {
        "source": "state",
        "code": "AccessDeniedException",
        "message": "State table iot-audit-state: denied",
    }
    assert report["summary"]["errors"] == 2


def test_findings_as_csv_have_a_header_and_unix_line_ends():
    # Given one REVOKED finding
    certificate = {
        "certificateArn": f"arn:aws:iot:eu-west-1:123456789012:cert/{'c' * 64}",
        "certificateId": "c" * 64,
        "status": "REVOKED",
        "certificateMode": "DEFAULT",
        "creationDate": datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    }
    finding = finding_for(certificate, CA, frozenset({"REVOKED"}))

    # When it is written as CSV
    stream = io.StringIO()
    write_csv([finding], stream)

    # Then there is a header line and one line per finding, each ending in \n alone
    text = stream.getvalue()
    assert "\r" not in text and text.endswith("\n")
    header, line = text.splitlines()
    assert header.split(",")[:3] == ["type", "caCertificateId", "certificateId"]
    assert line.startswith(f"CERTIFICATE_STATUS,{CA},{'c' * 64},")


def test_each_ca_line_of_the_report_carries_its_description_and_scan():
    # Given a CA described by IoT and scanned in three pages, one certificate malformed
    scan = CaScan(
        CA,
        ca={"certificateId": CA, "status": "ACTIVE", "certificateMode": "SNI_ONLY", "autoRegistrationStatus": "ENABLE"},
        certificates_scanned=7,
        pages=3,
        malformed=1,
        malformed_example={"certificate": {"certificateId": "x"}, "problem": "status missing or not a string"},
        suppressed=[{"type": "CERTIFICATE_STATUS", "severity": "LOW", "creationDate": None, "certificateId": "c" * 64}],
        duration_ms=1234,
    )

    # When the report is built
    report = report_of([scan])

    # Then the CA's line has the contract's fields (README, Report), each from its source
    [line] = report["cas"]
    assert (line["status"], line["certificateMode"], line["autoRegistrationStatus"]) == ("ACTIVE", "SNI_ONLY", "ENABLE")
    assert (line["pages"], line["durationMs"], line["suppressedFindings"]) == (3, 1234, 1)
    assert line["malformedExample"] == {
        "certificate": {"certificateId": "x"},
        "problem": "status missing or not a string",
    }
    assert report["schemaVersion"] == 1


def test_the_fields_the_memory_and_the_archive_fill_in_are_there_and_null_before():
    # Given a run without a memory of the last run and without an archive (the CLI's default)
    report = report_of([CaScan(CA)])

    # Then every field of the schema that they would fill in is still there, null or empty,
    # so a subscriber can read report["reportUri"] whatever the deployment
    assert {
        name: report[name]
        for name in ("changes", "oldestOpenSince", "resolvedFindings", "reportUri", "reportConsoleUrl")
    } == {
        "changes": None,
        "oldestOpenSince": None,
        "resolvedFindings": [],
        "reportUri": None,
        "reportConsoleUrl": None,
    }


def test_csv_columns_are_the_finding_fields_then_the_added_ones_in_order_of_appearance():
    # Given a REVOKED finding with the run's own fields, then a CA finding with its notAfter
    certificate = {"certificateId": "c" * 64, "status": "REVOKED", "creationDate": NOW}
    revoked = {
        **finding_for(certificate, CA, frozenset({"REVOKED"})),
        "findingId": "f1",
        "isNew": True,
    }
    ca_finding = {**revoked, "type": "CA_CERTIFICATE_EXPIRING", "notAfter": "2026-07-01T00:00:00Z", "findingId": "f2"}

    # When they are written as CSV
    stream = io.StringIO()
    write_csv([revoked, ca_finding], stream)

    # Then the header is the engine's fields in its order, then each added field once, as first seen
    header = stream.getvalue().splitlines()[0]
    assert header == (
        "type,caCertificateId,certificateId,certificateArn,status,certificateMode,creationDate,severity,reason,"
        "findingId,isNew,notAfter"
    )
    # And each line has its own values under them (an added field a finding lacks is empty)
    lines = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert [(line["findingId"], line["isNew"], line["notAfter"]) for line in lines] == [
        ("f1", "True", ""),
        ("f2", "True", "2026-07-01T00:00:00Z"),
    ]
