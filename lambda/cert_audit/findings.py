"""The rule that turns a certificate into a finding: which statuses, how severe, and why.

Severities (worst first) and the reasoning behind the defaults:
- INACTIVE: HIGH. A dormant credential: one `UpdateCertificate` call makes it valid again,
  while the device key it belongs to may be anywhere by now.
- REGISTER_INACTIVE: MEDIUM. Also re-activatable, and in a status AWS has deprecated, so
  tooling that only knows current statuses may mishandle it.
- PENDING_TRANSFER: MEDIUM. A transfer to another account that nobody completed.
- REVOKED: LOW. It can never connect or be re-activated; it is registry hygiene (and a
  trace of a past compromise that is already contained): delete it.
- PENDING_ACTIVATION: LOW. Waiting for a first activation that may never come.
- ACTIVE: INFO. Only a finding if someone flags it on purpose.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

SEVERITY_ORDER = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO")  # worst first
SEVERITY_BY_STATUS = {
    "INACTIVE": "HIGH",
    "REGISTER_INACTIVE": "MEDIUM",
    "PENDING_TRANSFER": "MEDIUM",
    "REVOKED": "LOW",
    "PENDING_ACTIVATION": "LOW",
    "ACTIVE": "INFO",
}
REASON_BY_STATUS = {
    "INACTIVE": "Certificate is INACTIVE: a dormant credential that one UpdateCertificate call re-activates. "
    "Revoke or delete it if the device is retired.",
    "REGISTER_INACTIVE": "Certificate is REGISTER_INACTIVE, a status AWS has deprecated and says should not "
    "be used: activate it if the device is in service, otherwise revoke or delete it.",
    "PENDING_TRANSFER": "Certificate is PENDING_TRANSFER: a transfer to another account was started and "
    "never accepted. Cancel or complete the transfer.",
    "REVOKED": "Certificate is REVOKED and can no longer connect; delete it to keep the registry clean.",
    "PENDING_ACTIVATION": "Certificate is PENDING_ACTIVATION and has never been activated.",
    "ACTIVE": "Certificate is ACTIVE (flagged by configuration).",
}


def severity_rank(severity: str) -> int:
    """0 for the worst severity; unknown severities sort last."""
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def iso_utc(value: datetime | str | None) -> str | None:
    """ISO-8601 in UTC with a Z, as the report's dates are written."""
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def finding_for(certificate: dict[str, Any], ca_certificate_id: str, flagged: frozenset[str]) -> dict | None:
    """The finding for one certificate of a ListCertificatesByCA page, or None if its status is fine."""
    status = certificate.get("status")
    if status not in flagged:
        return None
    return {
        "caCertificateId": ca_certificate_id,
        "certificateId": certificate.get("certificateId"),
        "certificateArn": certificate.get("certificateArn"),
        "status": status,
        "certificateMode": certificate.get("certificateMode"),
        "creationDate": iso_utc(certificate.get("creationDate")),
        "severity": SEVERITY_BY_STATUS.get(status, "MEDIUM"),
        "reason": REASON_BY_STATUS.get(status, f"Certificate status is {status}."),
    }


def worst_first(findings: list[dict]) -> list[dict]:
    """Findings ordered for a reader: worst severity first, then oldest certificate first."""
    return sorted(
        findings,
        key=lambda f: (severity_rank(f["severity"]), f["creationDate"] or "", f["certificateId"] or ""),
    )
