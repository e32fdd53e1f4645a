"""The report's findings in the AWS Security Finding Format (ASFF), the documents Security Hub
imports (securityhub.py) and `--format asff` prints. Pure: no AWS calls.

How each field is chosen (Security Hub user guide: required attributes, BatchImportFindings
for finding providers, the Types taxonomy):
- `Id` is the finding's stable `findingId`, so importing the same problem again updates its
  finding instead of adding one; `ProductArn` is the account's default product for the region
  (`product/<account>/default`, the one a custom integration uses).
- Severity and types go in `FindingProviderFields` only, the providers' place for them: Security
  Hub copies them to the top level until someone changes those with BatchUpdateFindings, which a
  later import then leaves alone.
- `Resources` name the certificate (or the CA) by its ARN; ASFF has no IoT certificate type, so
  the type is `Other` and the finding's own fields go in `Details.Other`.
- An open finding is FAILED and ACTIVE; a resolved one PASSED and ARCHIVED. A suppressed one
  carries `Workflow.Status` SUPPRESSED and a `Note` with the suppression's reason: Security Hub
  takes those from BatchImportFindings only when it creates the finding (for one that exists,
  securityhub.py sets them with BatchUpdateFindings).
- `CreatedAt` and `FirstObservedAt` are `firstSeen`; a new finding's `UpdatedAt` equals its
  `CreatedAt`, as the format asks on creation, and any later import's `UpdatedAt` is that run's time
  (Security Hub ignores an import whose `UpdatedAt` is not after the one it has).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from cert_audit.config import partition_of
from cert_audit.findings import (
    CA_EXPIRED,
    CA_EXPIRING,
    CA_NOT_ACTIVE,
    CERTIFICATE_STATUS,
    DEVICE_CERTIFICATE_AGE,
)
from cert_audit.message import CA_FINDING_TYPES, console_url

SCHEMA_VERSION = "2018-10-08"  # the only published ASFF version
PRODUCT_NAME = "IoT Certificate Audit"
GENERATOR_PREFIX = "iot-cert-audit"
NOTE_AUTHOR = "iot-cert-audit"
# ASFF's Severity.Label names (ours, but INFO is INFORMATIONAL).
SEVERITY_LABELS = {"CRITICAL": "CRITICAL", "HIGH": "HIGH", "MEDIUM": "MEDIUM", "LOW": "LOW", "INFO": "INFORMATIONAL"}
# The taxonomy's namespace and category for configuration findings; the classifier is our type.
TYPE_PREFIX = "Software and Configuration Checks/AWS Security Best Practices"
# Length limits of the ASFF documentation (characters).
TITLE_MAX = 256
DESCRIPTION_MAX = 1024
TEXT_MAX = 512  # Remediation.Recommendation.Text and Note.Text
OTHER_VALUE_MAX = 1023  # Details.Other values: fewer than 1,024 characters

IOT_GUIDE = "https://docs.aws.amazon.com/iot/latest/developerguide"
DEFENDER_GUIDE = "https://docs.aws.amazon.com/iot-device-defender/latest/devguide"
DOCUMENTATION = {
    CERTIFICATE_STATUS: f"{IOT_GUIDE}/manage-device-cert.html",
    DEVICE_CERTIFICATE_AGE: f"{DEFENDER_GUIDE}/device-certificate-age-check.html",
    CA_NOT_ACTIVE: f"{DEFENDER_GUIDE}/audit-chk-revoked-ca-cert.html",
    CA_EXPIRING: f"{DEFENDER_GUIDE}/audit-chk-ca-cert-approaching-expiration.html",
    CA_EXPIRED: f"{DEFENDER_GUIDE}/audit-chk-ca-cert-approaching-expiration.html",
    "DEVICE_CERTIFICATE_EXPIRING": f"{DEFENDER_GUIDE}/audit-chk-device-cert-approaching-expiration.html",
    "DEVICE_CERTIFICATE_EXPIRED": f"{DEFENDER_GUIDE}/audit-chk-device-cert-approaching-expiration.html",
    "WEAK_KEY": f"{DEFENDER_GUIDE}/audit-chk-device-cert-key-quality.html",
}
TITLES = {
    CA_NOT_ACTIVE: "IoT CA is not ACTIVE while device certificates it signed are",
    CA_EXPIRING: "IoT CA certificate expires soon",
    CA_EXPIRED: "IoT CA certificate has expired",
    DEVICE_CERTIFICATE_AGE: "ACTIVE IoT device certificate past the age limit",
}
# The state of a finding in Security Hub's lifecycle.
OPEN, SUPPRESSED, RESOLVED = "open", "suppressed", "resolved"


def now_ms() -> str:
    """This instant as ASFF writes times, to the millisecond: two runs in the same second still
    give the later import the later UpdatedAt."""
    return in_ms(datetime.now(UTC))


def in_ms(value: datetime | str) -> str:
    """A time (a datetime, or the report's ISO text, to the second) as ASFF writes times here, always
    to the millisecond: times of one format compare as text, so UpdatedAt is never taken for
    older than a CreatedAt of the same second (".5Z" sorts before "Z")."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def product_arn(partition: str, region: str, account: str) -> str:
    """The account's default product: where a custom integration's findings go."""
    return f"arn:{partition}:securityhub:{region}:{account}:product/{account}/default"


def documents(report: dict, partition: str | None = None, updated_at: str | None = None) -> Iterator[dict]:
    """The ASFF document of every finding of the report: its findings (open), its suppressed
    findings (Workflow SUPPRESSED), then its resolved findings (PASSED, ARCHIVED), in that order.
    `partition` defaults to the region's; `updated_at` (ASFF time) to now. Raises ValueError for a
    report without an account or region, which every ASFF document must name."""
    updated_at = updated_at or now_ms()
    for state, key in ((OPEN, "findings"), (SUPPRESSED, "suppressedFindings"), (RESOLVED, "resolvedFindings")):
        for finding in report.get(key) or ():
            yield document(report, finding, state, partition, updated_at)


def document(report: dict, finding: dict, state: str, partition: str | None, updated_at: str) -> dict:
    """One finding's ASFF document in the given state (OPEN, SUPPRESSED or RESOLVED)."""
    account, region = report.get("accountId"), report.get("region")
    if not account or not region:
        raise ValueError(
            "ASFF needs the report's account and region (AwsAccountId, ProductArn); this report has "
            f"accountId {account!r} and region {region!r}"
        )
    partition = partition or partition_of(region)
    kind = finding["type"]
    created = in_ms(finding.get("firstSeen") or report.get("startedAt") or updated_at)
    updated_at = in_ms(updated_at)
    # On creation UpdatedAt must equal CreatedAt; after that it must only grow.
    updated = created if finding.get("isNew") else max(updated_at, created)
    reason = finding.get("reason") or f"{kind} finding"
    doc = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": finding["findingId"],
        "ProductArn": product_arn(partition, region, account),
        "ProductName": PRODUCT_NAME,
        "GeneratorId": f"{GENERATOR_PREFIX}/{kind}",
        "AwsAccountId": account,
        "FindingProviderFields": {
            "Severity": {
                "Label": SEVERITY_LABELS.get(finding.get("severity"), "INFORMATIONAL"),
                "Original": finding.get("severity") or "UNKNOWN",
            },
            "Types": [f"{TYPE_PREFIX}/{kind}"],
        },
        "Title": _title(finding)[:TITLE_MAX],
        "Description": reason[:DESCRIPTION_MAX],
        "Remediation": {"Recommendation": {"Text": reason[:TEXT_MAX], "Url": DOCUMENTATION.get(kind, _GENERAL)}},
        "SourceUrl": console_url(finding, region),
        "ProductFields": _product_fields(report, finding),
        "Resources": [_resource(finding, partition, region, account)],
        "Compliance": {"Status": "PASSED" if state == RESOLVED else "FAILED"},
        "RecordState": "ARCHIVED" if state == RESOLVED else "ACTIVE",
        "FirstObservedAt": created,
        "CreatedAt": created,
        "UpdatedAt": updated,
    }
    if state != RESOLVED and report.get("finishedAt"):
        doc["LastObservedAt"] = report["finishedAt"]  # this run saw it
    if state == SUPPRESSED:
        doc["Workflow"] = {"Status": "SUPPRESSED"}
        doc["Note"] = {"Text": suppression_note(finding), "UpdatedBy": NOTE_AUTHOR, "UpdatedAt": updated}
    return doc


_GENERAL = f"{IOT_GUIDE}/manage-device-cert.html"


def suppression_note(finding: dict) -> str:
    """The note a suppressed finding carries in Security Hub: the suppression's reason."""
    suppression = finding.get("suppression") or {}
    text = f"Suppressed by the audit's suppressions: {suppression.get('reason') or 'no reason given'}"
    if suppression.get("expires"):
        text += f" (until {suppression['expires']})"
    return text[:TEXT_MAX]


def _subject_id(finding: dict) -> str:
    """The certificate's (or CA's) ID; a finding rebuilt from a damaged state record may lack it."""
    return finding.get("certificateId") or finding.get("caCertificateId") or finding["findingId"]


def _title(finding: dict) -> str:
    kind = finding["type"]
    if kind == CERTIFICATE_STATUS:
        return f"IoT device certificate left {finding.get('status')}: {_subject_id(finding)}"
    subject = "CA" if kind in CA_FINDING_TYPES else "certificate"
    return f"{TITLES.get(kind, kind.replace('_', ' ').capitalize())}: {subject} {_subject_id(finding)}"


def _product_fields(report: dict, finding: dict) -> dict[str, str]:
    fields = {
        "iot-cert-audit/findingType": finding["type"],
        "iot-cert-audit/caCertificateId": finding.get("caCertificateId"),
        "iot-cert-audit/certificateId": finding.get("certificateId"),
        "iot-cert-audit/status": finding.get("status"),
        "iot-cert-audit/severity": finding.get("severity"),
        "iot-cert-audit/auditId": report.get("auditId"),
    }
    return {key: str(value) for key, value in fields.items() if value is not None}


def _resource(finding: dict, partition: str, region: str, account: str) -> dict:
    kind = "cacert" if finding["type"] in CA_FINDING_TYPES else "cert"
    arn = finding.get("certificateArn") or f"arn:{partition}:iot:{region}:{account}:{kind}/{_subject_id(finding)}"
    # Every field the finding has (numbers and dates as text), but the prose and the run's own marks.
    skip = {"reason", "isNew", "suppression", "certificateArn"}
    details = {
        key: str(value)[:OTHER_VALUE_MAX]
        for key, value in finding.items()
        if key not in skip and value is not None and not isinstance(value, dict | list)
    }
    return {"Type": "Other", "Id": arn, "Partition": partition, "Region": region, "Details": {"Other": details}}
