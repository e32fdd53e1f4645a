"""The ASFF documents (asff.py): every one valid for BatchImportFindings by botocore's model and by
the ASFF documentation's required attributes and limits, with the fields the issue asks for."""

from __future__ import annotations

import pytest

from cert_audit import asff
from cert_audit.findings import FINDING_TYPES
from cert_audit.message import CA_FINDING_TYPES
from tests.integration.securityhub_stand_in import asff_problems

ACCOUNT, REGION = "123456789012", "eu-west-1"
CA = "c" * 64


def finding(kind: str, number: int = 1, **fields) -> dict:
    certificate = CA if kind in CA_FINDING_TYPES else f"{number:064x}"
    resource = "cacert" if kind in CA_FINDING_TYPES else "cert"
    return {
        "type": kind,
        "caCertificateId": CA,
        "certificateId": certificate,
        "certificateArn": f"arn:aws:iot:{REGION}:{ACCOUNT}:{resource}/{certificate}",
        "status": "REVOKED",
        "certificateMode": "DEFAULT",
        "creationDate": "2020-01-01T00:00:00Z",
        "severity": "LOW",
        "reason": "Certificate is REVOKED and can no longer connect; delete it to keep the registry clean.",
        "findingId": f"{number:032x}",
        "firstSeen": "2026-11-01T08:00:00Z",
        "isNew": False,
        **fields,
    }


def report_of(findings=(), suppressed=(), resolved=()) -> dict:
    return {
        "auditId": "audit-1",
        "accountId": ACCOUNT,
        "region": REGION,
        "startedAt": "2026-11-30T08:00:00Z",
        "finishedAt": "2026-11-30T08:01:00Z",
        "findings": list(findings),
        "suppressedFindings": list(suppressed),
        "resolvedFindings": list(resolved),
    }


EVERY_KIND = report_of(
    findings=[finding(kind, number) for number, kind in enumerate(FINDING_TYPES, 1)]
    + [finding("A_TYPE_THIS_VERSION_DOES_NOT_KNOW", 99, severity="SEVERE", certificateArn=None)],
    suppressed=[
        finding("CERTIFICATE_STATUS", 200, suppression={"reason": "Lab bench", "expires": "2027-01-01T00:00:00Z"})
    ],
    resolved=[finding("CERTIFICATE_STATUS", 300, resolvedAt="2026-11-30T08:01:00Z")],
)


def test_every_document_is_valid_for_botocore_and_the_asff_documentation():
    # When every kind of finding, suppressed and resolved ones too, is written as ASFF
    documents = list(asff.documents(EVERY_KIND, updated_at="2026-11-30T08:01:02.345Z"))

    # Then each passes botocore's model for BatchImportFindings and the documented requirements
    assert len(documents) == len(FINDING_TYPES) + 3
    assert [(d["Id"], asff_problems(d, ACCOUNT, REGION)) for d in documents if asff_problems(d, ACCOUNT, REGION)] == []
    assert [d["Id"] for d in documents] == [
        f["findingId"] for key in ("findings", "suppressedFindings", "resolvedFindings") for f in EVERY_KIND[key]
    ]


def test_an_open_finding_is_failed_active_and_carries_what_the_issue_names():
    # Given an INACTIVE certificate's finding
    inactive = finding("CERTIFICATE_STATUS", status="INACTIVE", severity="HIGH", reason="Certificate is INACTIVE.")

    # When written as ASFF
    [document] = asff.documents(report_of([inactive]), updated_at="2026-11-30T08:01:02.345Z")

    # Then it names the finding, the product, the generator and the resource as the issue asks
    assert document["Id"] == inactive["findingId"]
    assert document["ProductArn"] == f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
    assert document["GeneratorId"] == "iot-cert-audit/CERTIFICATE_STATUS"
    assert document["FindingProviderFields"] == {
        "Severity": {"Label": "HIGH", "Original": "HIGH"},
        "Types": ["Software and Configuration Checks/AWS Security Best Practices/CERTIFICATE_STATUS"],
    }
    assert "Severity" not in document and "Types" not in document  # the provider's place only
    [resource] = document["Resources"]
    assert resource["Type"] == "Other" and resource["Id"] == inactive["certificateArn"]
    assert (resource["Partition"], resource["Region"]) == ("aws", REGION)
    assert resource["Details"]["Other"]["status"] == "INACTIVE"
    assert resource["Details"]["Other"]["caCertificateId"] == CA
    assert document["Remediation"]["Recommendation"] == {
        "Text": "Certificate is INACTIVE.",
        "Url": "https://docs.aws.amazon.com/iot/latest/developerguide/manage-device-cert.html",
    }
    assert (document["Compliance"], document["RecordState"]) == ({"Status": "FAILED"}, "ACTIVE")
    assert document["FirstObservedAt"] == document["CreatedAt"] == asff.in_ms(inactive["firstSeen"])
    assert (document["UpdatedAt"], document["LastObservedAt"]) == ("2026-11-30T08:01:02.345Z", "2026-11-30T08:01:00Z")
    assert "Workflow" not in document and "Note" not in document  # Security Hub's NEW
    assert document["SourceUrl"].endswith(f"#/certificate/{inactive['certificateId']}")


def test_a_new_findings_updated_at_is_its_created_at():
    # The format asks both to be equal when a finding is created
    new = finding("CERTIFICATE_STATUS", isNew=True, firstSeen="2026-11-30T08:00:00Z")
    [document] = asff.documents(report_of([new]), updated_at="2026-11-30T08:01:02.345Z")
    assert document["CreatedAt"] == document["UpdatedAt"] == "2026-11-30T08:00:00.000Z"


def test_a_suppressed_finding_is_suppressed_with_its_reason_and_a_resolved_one_passed_and_archived():
    [suppressed, resolved] = asff.documents(
        report_of(suppressed=EVERY_KIND["suppressedFindings"], resolved=EVERY_KIND["resolvedFindings"]),
        updated_at="2026-11-30T08:01:02.345Z",
    )
    assert suppressed["Workflow"] == {"Status": "SUPPRESSED"}
    assert suppressed["Note"] == {
        "Text": "Suppressed by the audit's suppressions: Lab bench (until 2027-01-01T00:00:00Z)",
        "UpdatedBy": "iot-cert-audit",
        "UpdatedAt": "2026-11-30T08:01:02.345Z",
    }
    assert (suppressed["Compliance"]["Status"], suppressed["RecordState"]) == ("FAILED", "ACTIVE")
    assert (resolved["Compliance"]["Status"], resolved["RecordState"]) == ("PASSED", "ARCHIVED")
    assert "LastObservedAt" not in resolved and "Workflow" not in resolved


def test_severities_map_to_asff_labels():
    labels = {
        severity: next(asff.documents(report_of([finding("CERTIFICATE_STATUS", severity=severity)])))[
            "FindingProviderFields"
        ]["Severity"]
        for severity in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO", "SEVERE")
    }
    assert {severity: label["Label"] for severity, label in labels.items()} == {
        "CRITICAL": "CRITICAL",
        "HIGH": "HIGH",
        "MEDIUM": "MEDIUM",
        "LOW": "LOW",
        "INFO": "INFORMATIONAL",
        "SEVERE": "INFORMATIONAL",  # unknown to this version: kept as Original
    }
    assert labels["SEVERE"]["Original"] == "SEVERE"


def test_a_ca_finding_names_the_ca_and_a_missing_arn_is_built():
    ca_finding = finding("CA_NOT_ACTIVE_WITH_ACTIVE_DEVICE_CERTIFICATES", certificateArn=None, status="INACTIVE")
    [document] = asff.documents(report_of([ca_finding]))
    assert document["Resources"][0]["Id"] == f"arn:aws:iot:{REGION}:{ACCOUNT}:cacert/{CA}"
    assert document["Title"] == f"IoT CA is not ACTIVE while device certificates it signed are: CA {CA}"


def test_long_text_is_cut_to_the_documented_limits_and_still_valid():
    reason = "ä" * 3000
    long = finding("CERTIFICATE_STATUS", reason=reason, suppression={"reason": "x" * 3000})
    documents = list(asff.documents(report_of([long], suppressed=[long])))
    assert all(asff_problems(d, ACCOUNT, REGION) == [] for d in documents)
    assert (
        len(documents[0]["Description"]) == 1024 and len(documents[0]["Remediation"]["Recommendation"]["Text"]) == 512
    )
    assert len(documents[1]["Note"]["Text"]) == 512


def test_partition_follows_the_region():
    report = {**report_of([finding("CERTIFICATE_STATUS", certificateArn=None)]), "region": "cn-north-1"}
    [document] = asff.documents(report)
    assert document["ProductArn"].startswith("arn:aws-cn:securityhub:cn-north-1:")
    assert document["Resources"][0]["Partition"] == "aws-cn"


@pytest.mark.parametrize("missing", ["accountId", "region"])
def test_a_report_without_account_or_region_cannot_be_asff(missing):
    with pytest.raises(ValueError, match="ASFF needs the report's account and region"):
        list(asff.documents({**report_of([finding("CERTIFICATE_STATUS")]), missing: None}))


def test_updated_at_defaults_to_now_to_the_millisecond():
    [document] = asff.documents(report_of([finding("CERTIFICATE_STATUS")]))
    assert document["UpdatedAt"] > "2026-11-01" and len(document["UpdatedAt"]) == len("2026-11-30T08:01:02.345Z")


def test_a_finding_rebuilt_from_a_damaged_record_is_still_a_valid_document():
    # Given a resolved finding whose stored copy was lost: only the record's own fields are known
    damaged = {
        **dict.fromkeys(("certificateId", "certificateArn", "status", "severity", "reason", "creationDate")),
        "type": "CERTIFICATE_STATUS",
        "caCertificateId": CA,
        "findingId": "f" * 32,
        "firstSeen": "2026-11-01T08:00:00Z",
        "resolvedAt": "2026-11-30T08:01:00Z",
    }

    # When written as ASFF, then Security Hub would take it, naming what is known
    [document] = asff.documents(report_of(resolved=[damaged]))
    assert asff_problems(document, ACCOUNT, REGION) == []
    assert document["Resources"][0]["Id"] == f"arn:aws:iot:{REGION}:{ACCOUNT}:cert/{CA}"
    assert document["Description"] == "CERTIFICATE_STATUS finding"


def test_an_import_in_the_same_second_as_the_finding_was_first_seen_is_still_newer():
    # Given a finding first seen at 08:00:00 (the report's times are to the second), imported again
    # half a second later (a run right after the first, an on-demand one say)
    seen = finding("CERTIFICATE_STATUS", firstSeen="2026-11-30T08:00:00Z")

    # When its document is made
    [doc] = asff.documents(report_of([seen]), updated_at="2026-11-30T08:00:00.500Z")

    # Then every time is to the millisecond and UpdatedAt is the later one, so Security Hub takes
    # the update (it ignores one whose UpdatedAt is not after the one it has)
    assert doc["CreatedAt"] == doc["FirstObservedAt"] == "2026-11-30T08:00:00.000Z"
    assert doc["UpdatedAt"] == "2026-11-30T08:00:00.500Z"
