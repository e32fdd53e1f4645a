"""The report's findings as OCSF Compliance Findings (class 2003), one document per finding:
what Amazon Security Lake and OCSF-reading SIEMs ingest. The archive keeps them beside each
report (`<auditId>.ocsf.json.gz`) and `cert-audit scan --format ocsf` prints them.

The documents are plain dicts built here, not objects of an OCSF model package: the function
takes no run-time dependency beyond boto3 and the Powertools layer (a pydantic-based package
would need pydantic-core's compiled wheel bundled for Lambda's platform). The tests validate
every document with a maintained model package (py-ocsf-models) for the version named in
`metadata.version`.

A document per open finding of the report: `finding_info.uid` is the finding's stable
`findingId`, so an OCSF store sees the same problem under the same ID run after run;
`activity_id` is Update for a finding seen before (isNew false), else Create.
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import TextIO

from cert_audit.config import partition_of
from cert_audit.findings import CA_EXPIRED, CA_EXPIRING, CA_NOT_ACTIVE, CERTIFICATE_STATUS, DEVICE_CERTIFICATE_AGE
from cert_audit.message import CA_FINDING_TYPES, console_url

OCSF_VERSION = "1.5.0"
CATEGORY_UID, CATEGORY_NAME = 2, "Findings"
CLASS_UID, CLASS_NAME = 2003, "Compliance Finding"
ACTIVITIES = {1: "Create", 2: "Update"}
# Our severities as OCSF's severity_id (OCSF's own scale has the same five steps).
SEVERITY_IDS = {"INFO": 1, "LOW": 2, "MEDIUM": 3, "HIGH": 4, "CRITICAL": 5}
SEVERITY_NAMES = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
OTHER = 99  # OCSF's id for a value it has no name for; the caption then carries ours
COMPLIANCE_FAIL = (3, "Fail")  # compliance.status_id: every finding is a failed check
FINDING_NEW = (1, "New")  # the finding's status_id: not yet reviewed (OCSF's triage status)
AWS_ACCOUNT = (10, "AWS Account")  # account.type_id
PRODUCT = {"name": "IoT Certificate Audit", "vendor_name": "iot-certificate-audit"}
STANDARD = "IoT Certificate Audit checks"
DEVICE_DOCS = "https://docs.aws.amazon.com/iot/latest/developerguide/x509-client-certs.html"
CA_DOCS = "https://docs.aws.amazon.com/iot/latest/developerguide/manage-your-CA-certs.html"
CHECKS = {
    CERTIFICATE_STATUS: "Device certificates are not left in a flagged status (REVOKED, INACTIVE, ...)",
    DEVICE_CERTIFICATE_AGE: "ACTIVE device certificates are younger than the age limit",
    CA_NOT_ACTIVE: "A CA that is not ACTIVE has no ACTIVE device certificates",
    CA_EXPIRING: "An ACTIVE CA certificate does not expire within the warning period",
    CA_EXPIRED: "An ACTIVE CA certificate has not expired",
}
# The finding's fields that have their own place in the document; the others go to the resource's data.
MAPPED = frozenset(("type", "certificateId", "certificateArn", "severity", "reason", "findingId", "firstSeen", "isNew"))
# Documents encoded at a time (json.dumps runs in C; see archive.CHUNK).
CHUNK = 1000


@functools.lru_cache(maxsize=4096)  # a million findings share a few first-seen dates
def epoch_ms(timestamp: str) -> int:
    """OCSF's timestamp_t (milliseconds since the epoch) of one of the report's ISO-8601 dates."""
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1000)


def title(finding: dict) -> str:
    kind = finding["type"]
    if kind == CERTIFICATE_STATUS:
        return f"{finding['status']} device certificate"
    if kind == CA_NOT_ACTIVE:
        return f"{finding['status']} CA with ACTIVE device certificates"
    return {
        DEVICE_CERTIFICATE_AGE: "Device certificate past the age limit",
        CA_EXPIRING: "CA certificate expiring",
        CA_EXPIRED: "CA certificate expired",
    }.get(kind, kind)


def documents(report: dict) -> Iterator[dict]:
    """The OCSF Compliance Finding of every finding of the report, in the report's order."""
    context = _context(report)
    for finding in report["findings"]:
        yield document(finding, context)


def _context(report: dict) -> dict:
    """What every document of the report shares, worked out once."""
    region, account = report["region"], report["accountId"]
    cloud: dict = {"provider": "AWS", "region": region}
    if account:
        cloud["account"] = {"uid": account, "type_id": AWS_ACCOUNT[0], "type": AWS_ACCOUNT[1]}
    return {
        "time": epoch_ms(report["finishedAt"]),
        "auditId": report["auditId"],
        "region": region,
        "partition": partition_of(region or ""),
        "cloud": cloud,
    }


def document(finding: dict, context: dict) -> dict:
    """One finding as an OCSF 1.5.0 Compliance Finding."""
    kind = finding["type"]
    activity = 2 if finding.get("isNew") is False else 1
    severity_id = SEVERITY_IDS.get(finding["severity"], OTHER)
    is_ca = kind in CA_FINDING_TYPES
    info = {
        "uid": finding["findingId"],
        "title": title(finding),  # the reason is the document's message (and remediation): not a third time
        "types": [kind],
        "src_url": console_url(finding, context["region"]),
        "last_seen_time": context["time"],
    }
    if finding.get("firstSeen"):
        info["first_seen_time"] = epoch_ms(finding["firstSeen"])
    data = {key: value for key, value in finding.items() if key not in MAPPED}
    return {
        "activity_id": activity,
        "activity_name": ACTIVITIES[activity],
        "category_uid": CATEGORY_UID,
        "category_name": CATEGORY_NAME,
        "class_uid": CLASS_UID,
        "class_name": CLASS_NAME,
        "type_uid": CLASS_UID * 100 + activity,
        "type_name": f"{CLASS_NAME}: {ACTIVITIES[activity]}",
        "time": context["time"],
        "timezone_offset": 0,
        "severity_id": severity_id,
        "severity": SEVERITY_NAMES.get(severity_id, finding["severity"]),
        "status_id": FINDING_NEW[0],
        "status": FINDING_NEW[1],
        "message": finding["reason"],
        "metadata": {
            "version": OCSF_VERSION,
            "product": PRODUCT,
            "profiles": ["cloud"],
            "uid": f"{context['auditId']}/{finding['findingId']}",
            "correlation_uid": context["auditId"],  # every document of one run
        },
        "cloud": context["cloud"],
        "finding_info": info,
        "compliance": {
            "control": kind,
            "desc": CHECKS.get(kind, kind),
            "standards": [STANDARD],
            "status_id": COMPLIANCE_FAIL[0],
            "status": COMPLIANCE_FAIL[1],
        },
        "remediation": {"desc": finding["reason"], "references": [CA_DOCS if is_ca else DEVICE_DOCS]},
        "resources": [
            {
                "uid": finding["certificateArn"] or finding["certificateId"],
                "name": finding["certificateId"],
                "type": "AWS::IoT::CACertificate" if is_ca else "AWS::IoT::Certificate",
                "region": context["region"],
                "cloud_partition": context["partition"],
                "data": data,
            }
        ],
    }


def write_json(report: dict, text: TextIO) -> None:
    """The documents as one JSON array, a document a line, encoded a chunk at a time: a million
    findings are never one string (the archive streams this into gzip)."""
    text.write("[")
    batch: list[str] = []
    written = 0
    for item in documents(report):
        batch.append(json.dumps(item, separators=(",", ":")))
        if len(batch) == CHUNK:
            text.write(("," if written else "") + "\n" + ",\n".join(batch))
            written += len(batch)
            batch = []
    if batch:
        text.write(("," if written else "") + "\n" + ",\n".join(batch))
    text.write("\n]\n")


def render(report: dict) -> str:
    """The documents as the CLI prints them (the archive's file, uncompressed)."""
    buffer = io.StringIO()
    write_json(report, buffer)
    return buffer.getvalue()
