"""OCSF Compliance Findings (cert_audit.ocsf): one per finding, valid for the OCSF model package,
each finding's identity, severity and lifecycle mapped as OCSF defines them."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import py_ocsf_models
import pytest
from py_ocsf_models.events.findings.activity_id import ActivityID
from py_ocsf_models.events.findings.compliance_finding_type_id import ComplianceFindingTypeID
from py_ocsf_models.events.findings.severity_id import SeverityID

from cert_audit import ocsf
from cert_audit.findings import age_finding, ca_findings, finding_for, finding_id
from tests.schemas import validate_ocsf

ACCOUNT, REGION = "123456789012", "eu-west-1"
CA = "a" * 64
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def certificate(status: str, number: int = 0) -> dict:
    cid = f"{number:064x}"
    return {
        "certificateArn": f"arn:aws:iot:{REGION}:{ACCOUNT}:cert/{cid}",
        "certificateId": cid,
        "status": status,
        "certificateMode": "DEFAULT",
        "creationDate": datetime(2020, 1, 1, tzinfo=UTC),
    }


def with_id(finding: dict, **fields) -> dict:
    return {**finding, "findingId": finding_id(ACCOUNT, REGION, finding), **fields}


def every_kind() -> list[dict]:
    """A finding of every type and severity the engine makes."""
    flagged = frozenset({"INACTIVE", "REVOKED", "REGISTER_INACTIVE", "ACTIVE"})
    status = [finding_for(certificate(s, n), CA, flagged) for n, s in enumerate(sorted(flagged))]
    inactive_ca = {"certificateId": CA, "certificateArn": f"arn:aws:iot:{REGION}:{ACCOUNT}:cacert/{CA}"}
    inactive_ca |= {"status": "INACTIVE", "validity": {"notAfter": NOW + timedelta(days=10)}}
    expired_ca = {**inactive_ca, "certificateId": "b" * 64, "status": "ACTIVE"}
    expired_ca["validity"] = {"notAfter": NOW - timedelta(days=1)}
    ca = ca_findings(inactive_ca, 3, NOW, 90) + ca_findings(expired_ca, 0, NOW, 90)
    expiring_ca = {**expired_ca, "certificateId": "c" * 64, "validity": {"notAfter": NOW + timedelta(days=9)}}
    ca += ca_findings(expiring_ca, 0, NOW, 90)
    age = age_finding({**certificate("ACTIVE", 9), "creationDate": NOW - timedelta(days=400)}, CA, NOW, 365)
    return [with_id(finding) for finding in [*status, *ca, age]]


def report_of(findings: list[dict], account: str | None = ACCOUNT, region: str = REGION) -> dict:
    return {
        "auditId": "audit-1",
        "accountId": account,
        "region": region,
        "startedAt": "2026-11-30T07:59:00Z",
        "finishedAt": "2026-11-30T08:00:00Z",
        "findings": findings,
    }


def test_every_kind_of_finding_is_a_valid_compliance_finding_of_the_named_ocsf_version():
    # Given a finding of every type and severity
    findings = every_kind()

    # When they become OCSF documents
    documents = list(ocsf.documents(report_of(findings)))

    # Then each is valid for the model package of the OCSF version it names, nothing dropped
    assert ocsf.OCSF_VERSION == py_ocsf_models.OCSF_VERSION
    assert len(documents) == len(findings) == 8
    for document in documents:
        validate_ocsf(document)
        assert (document["class_uid"], document["category_uid"]) == (2003, 2)


def test_a_finding_keeps_its_identity_place_and_reason():
    # Given an INACTIVE device certificate's finding, first seen a week ago
    [finding] = [f for f in every_kind() if f["status"] == "INACTIVE" and f["type"] == "CERTIFICATE_STATUS"]
    finding["firstSeen"] = "2026-11-23T08:00:00Z"

    # When it becomes an OCSF document
    [document] = ocsf.documents(report_of([finding]))

    # Then the finding's ID is the OCSF finding's uid, the certificate the resource, the account the cloud's
    info = document["finding_info"]
    assert info["uid"] == finding["findingId"]
    finished = int(NOW.timestamp() * 1000)  # the run's end, in ms since the epoch
    assert (info["first_seen_time"], info["last_seen_time"]) == (finished - 7 * 86_400_000, finished)
    assert document["time"] == finished
    assert info["types"] == ["CERTIFICATE_STATUS"] and info["title"] == "INACTIVE device certificate"
    [resource] = document["resources"]
    assert resource["uid"] == finding["certificateArn"] and resource["name"] == finding["certificateId"]
    assert resource["type"] == "AWS::IoT::Certificate"
    assert (resource["region"], resource["cloud_partition"]) == (REGION, "aws")
    assert resource["data"]["caCertificateId"] == CA and resource["data"]["status"] == "INACTIVE"
    account = {"uid": ACCOUNT, "type_id": 10, "type": "AWS Account"}
    assert document["cloud"] == {"provider": "AWS", "region": REGION, "account": account}
    assert document["message"] == document["remediation"]["desc"] == finding["reason"]
    assert document["compliance"]["status_id"] == 3 and document["compliance"]["control"] == "CERTIFICATE_STATUS"
    assert document["metadata"]["correlation_uid"] == "audit-1"


@pytest.mark.parametrize(
    "severity, expected",
    [("CRITICAL", SeverityID.Critical), ("HIGH", SeverityID.High), ("MEDIUM", SeverityID.Medium),
     ("LOW", SeverityID.Low), ("INFO", SeverityID.Informational)],
)  # fmt: skip
def test_severities_map_to_ocsfs_scale(severity, expected):
    [finding] = [f for f in every_kind() if f["severity"] == severity][:1]
    [document] = ocsf.documents(report_of([finding]))
    assert (document["severity_id"], document["severity"]) == (expected, expected.name)


def test_a_severity_ocsf_has_no_name_for_is_other_with_ours_as_caption():
    finding = {**every_kind()[0], "severity": "SEVERE"}
    [document] = ocsf.documents(report_of([finding]))
    assert (document["severity_id"], document["severity"]) == (SeverityID.Other, "SEVERE")
    validate_ocsf(document)


@pytest.mark.parametrize(
    "is_new, activity",
    [(True, ActivityID.Create), (None, ActivityID.Create), ("absent", ActivityID.Create), (False, ActivityID.Update)],
)
def test_a_finding_seen_before_is_an_update_any_other_a_create(is_new, activity):
    # Given a finding new this run, of unknown history, without memory, or seen before
    finding = every_kind()[0]
    if is_new != "absent":
        finding["isNew"] = is_new

    # Then its activity, and the type_uid OCSF derives from it
    [document] = ocsf.documents(report_of([finding]))
    assert document["activity_id"] == activity
    assert document["type_uid"] == ComplianceFindingTypeID(2003 * 100 + activity)
    assert "first_seen_time" not in document["finding_info"]  # no firstSeen: not claimed


def test_a_ca_finding_names_the_ca_and_its_documentation():
    [finding] = [f for f in every_kind() if f["type"] == "CA_CERTIFICATE_EXPIRED"]
    [document] = ocsf.documents(report_of([finding]))
    assert document["resources"][0]["type"] == "AWS::IoT::CACertificate"
    assert document["finding_info"]["src_url"].endswith(f"#/cacertificate/{finding['certificateId']}")
    assert document["remediation"]["references"] == [ocsf.CA_DOCS]
    assert document["resources"][0]["data"]["daysToExpiry"] == -1


def test_unknown_account_and_another_partition():
    # Given a run whose account is unknown (STS failed), in a China region
    [document] = ocsf.documents(report_of(every_kind()[:1], account=None, region="cn-north-1"))

    # Then the cloud names no account, and the resource's partition is aws-cn
    assert document["cloud"] == {"provider": "AWS", "region": "cn-north-1"}
    assert document["resources"][0]["cloud_partition"] == "aws-cn"
    validate_ocsf(document)


@pytest.mark.parametrize("count", [0, 1, ocsf.CHUNK - 1, ocsf.CHUNK, ocsf.CHUNK + 1, 2 * ocsf.CHUNK + 3])
def test_the_json_is_every_document_a_line_at_every_chunk_boundary(count):
    # Given a report of `count` findings
    template = every_kind()[0]
    findings = [{**template, "findingId": f"{n:032x}"} for n in range(count)]

    # When the documents are written as JSON
    text = io.StringIO()
    ocsf.write_json(report_of(findings), text)

    # Then it reads back as the documents in order, one a line between the brackets
    assert json.loads(text.getvalue()) == list(ocsf.documents(report_of(findings)))
    lines = text.getvalue().splitlines()
    assert (lines[0], lines[-1], len(lines)) == ("[", "]", count + 2)
    assert ocsf.render(report_of(findings)) == text.getvalue()


def test_the_documents_are_written_a_chunk_at_a_time_never_as_one_string():
    # Given a report of three chunks of findings, and a stream that records each write
    template = every_kind()[0]
    findings = [{**template, "findingId": f"{n:032x}"} for n in range(3 * ocsf.CHUNK)]
    writes: list[int] = []

    class Recording(io.StringIO):
        def write(self, text: str) -> int:
            writes.append(len(text))
            return super().write(text)

    # When they are written
    ocsf.write_json(report_of(findings), Recording())

    # Then no write holds more than one chunk of documents: the archive's memory stays bounded
    one_document = len(json.dumps(next(ocsf.documents(report_of(findings))), separators=(",", ":")))
    assert len(writes) >= 3
    assert max(writes) < (ocsf.CHUNK + 1) * (one_document + 2)
    assert sum(writes) > 3 * ocsf.CHUNK * one_document
