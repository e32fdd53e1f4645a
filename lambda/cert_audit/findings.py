"""The rules that turn certificates and CAs into findings: which, how severe, and why.

Finding types: CERTIFICATE_STATUS (a device certificate in a flagged status),
DEVICE_CERTIFICATE_AGE (an ACTIVE device certificate at or past the age limit),
CA_NOT_ACTIVE_WITH_ACTIVE_DEVICE_CERTIFICATES, CA_CERTIFICATE_EXPIRING, CA_CERTIFICATE_EXPIRED.

Severities of CERTIFICATE_STATUS findings (worst first) and the reasoning behind the defaults:
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
The other types: a CA that is not ACTIVE while device certificates it signed still are is
CRITICAL (the owner disabled the CA, often after a compromise, and the follow-up is not done);
an expired CA is HIGH, an expiring one MEDIUM (as Device Defender's CA_CERTIFICATE_EXPIRING_CHECK);
certificate age is LOW (as Device Defender's DEVICE_CERTIFICATE_AGE_CHECK).
From the certificate itself (the inventory, issue 13; ACTIVE and PENDING_TRANSFER certificates,
the ones that connect or are about to): an expired one is HIGH (the device can no longer
connect), one expiring within the warning is MEDIUM (as Device Defender's
DEVICE_CERTIFICATE_EXPIRING_CHECK), a weak key HIGH (RSA under 2048 bits is below every current
baseline: NIST SP 800-131A, BSI TR-02102), a weak signature hash (SHA-1, MD5) MEDIUM (collisions
are practical; what it puts at risk is the issuer's signature, and auditors flag it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

CERTIFICATE_STATUS = "CERTIFICATE_STATUS"
DEVICE_CERTIFICATE_AGE = "DEVICE_CERTIFICATE_AGE"
CA_NOT_ACTIVE = "CA_NOT_ACTIVE_WITH_ACTIVE_DEVICE_CERTIFICATES"
CA_EXPIRING = "CA_CERTIFICATE_EXPIRING"
CA_EXPIRED = "CA_CERTIFICATE_EXPIRED"
DEVICE_EXPIRING = "DEVICE_CERTIFICATE_EXPIRING"
DEVICE_EXPIRED = "DEVICE_CERTIFICATE_EXPIRED"
WEAK_KEY = "WEAK_KEY"
WEAK_SIGNATURE = "WEAK_SIGNATURE"
FINDING_TYPES = (
    CERTIFICATE_STATUS,
    CA_NOT_ACTIVE,
    CA_EXPIRED,
    CA_EXPIRING,
    DEVICE_CERTIFICATE_AGE,
    DEVICE_EXPIRED,
    DEVICE_EXPIRING,
    WEAK_KEY,
    WEAK_SIGNATURE,
)

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
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _finding(kind: str, ca_certificate_id: str, certificate: dict[str, Any], severity: str, reason: str) -> dict:
    return {
        "type": kind,
        "caCertificateId": ca_certificate_id,
        "certificateId": certificate.get("certificateId"),
        "certificateArn": certificate.get("certificateArn"),
        "status": certificate.get("status"),
        "certificateMode": certificate.get("certificateMode"),
        "creationDate": iso_utc(certificate.get("creationDate")),
        "severity": severity,
        "reason": reason,
    }


def finding_for(certificate: dict[str, Any], ca_certificate_id: str, flagged: frozenset[str]) -> dict | None:
    """The finding for one certificate of a ListCertificatesByCA page, or None if its status is fine."""
    status = certificate.get("status")
    if status not in flagged:
        return None
    return _finding(
        CERTIFICATE_STATUS,
        ca_certificate_id,
        certificate,
        SEVERITY_BY_STATUS.get(status, "MEDIUM"),
        REASON_BY_STATUS.get(status, f"Certificate status is {status}."),
    )


def age_finding(certificate: dict[str, Any], ca_certificate_id: str, now: datetime, max_age_days: int) -> dict:
    age = (now - certificate["creationDate"]).days
    finding = _finding(
        DEVICE_CERTIFICATE_AGE,
        ca_certificate_id,
        certificate,
        "LOW",
        f"ACTIVE certificate is {age} days old, at or past the {max_age_days}-day limit: rotate it.",
    )
    finding["ageDays"] = age
    return finding


def age_cutoff(now: datetime, max_age_days: int | None) -> datetime | None:
    """Certificates created at or before this instant are too old (None: the check is off)."""
    return now - timedelta(days=max_age_days) if max_age_days else None


def days_to_expiry(ca: dict[str, Any] | None, now: datetime) -> int | None:
    not_after = ((ca or {}).get("validity") or {}).get("notAfter")
    return (not_after - now).days if not_after else None


def _expiry_finding(ca: dict[str, Any], now: datetime, warning_days: int) -> dict | None:
    days_left = days_to_expiry(ca, now)
    # Expiry matters only while the CA is trusted: a deactivated CA's date would alert forever.
    if days_left is None or ca.get("status") != "ACTIVE":
        return None
    not_after = ca["validity"]["notAfter"]
    if not_after <= now:
        kind, severity = CA_EXPIRED, "HIGH"
        reason = f"CA certificate expired on {iso_utc(not_after)}: register its successor and move devices to it."
    elif days_left <= warning_days:
        kind, severity = CA_EXPIRING, "MEDIUM"
        reason = (
            f"CA certificate expires on {iso_utc(not_after)}, in {days_left} days "
            f"(warning at {warning_days}): register its successor now."
        )
    else:
        return None
    finding = _finding(kind, ca["certificateId"], ca, severity, reason)
    finding.update(notAfter=iso_utc(not_after), daysToExpiry=days_left)
    return finding


def ca_findings(ca: dict[str, Any], active_device_certificates: int, now: datetime, warning_days: int) -> list[dict]:
    """Findings about the CA itself, from its DescribeCACertificate description."""
    findings = []
    if ca.get("status") != "ACTIVE" and active_device_certificates:
        finding = _finding(
            CA_NOT_ACTIVE,
            ca["certificateId"],
            ca,
            "CRITICAL",
            f"CA is {ca.get('status')} but {active_device_certificates:,} device certificates it signed are "
            "still ACTIVE: review them and deactivate or revoke the ones the CA's owner no longer trusts.",
        )
        finding["activeDeviceCertificates"] = active_device_certificates
        findings.append(finding)
    expiry = _expiry_finding(ca, now, warning_days)
    return findings + [expiry] if expiry else findings


def finding_id(account_id: str | None, region: str | None, finding: dict) -> str:
    """The finding's stable identity: the same problem (account, region, finding type, CA and
    certificate) gets the same ID in every run, and nothing else does. Its status, severity
    and dates are not part of it: a certificate that goes from INACTIVE to REVOKED is still
    the same open finding. 32 hex characters (128 bits of SHA-256)."""
    key = "|".join(
        (account_id or "", region or "", finding["type"], finding["caCertificateId"], finding["certificateId"] or "")
    )
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def worst_first(findings: list[dict]) -> list[dict]:
    """Findings ordered for a reader: worst severity first, then oldest certificate first."""
    return sorted(
        findings,
        key=lambda f: (severity_rank(f["severity"]), f["creationDate"] or "", f["certificateId"] or ""),
    )


# The inventory's checks (issue 13) look at certificates that connect or are about to: an
# expired REVOKED certificate is no news, and an INACTIVE one is a finding of its own already.
CONNECTING_STATUSES = frozenset({"ACTIVE", "PENDING_TRANSFER"})
REMEDIATION = {
    DEVICE_EXPIRED: "Issue the device a new certificate (or revoke and delete this one if the device is retired).",
    DEVICE_EXPIRING: "Issue and deliver the successor certificate before it expires; devices that cannot "
    "renew in the field need it most.",
    WEAK_KEY: "Rotate the device to a new key pair (RSA 2048+ or EC P-256+) and revoke this certificate.",
    WEAK_SIGNATURE: "Re-issue the certificate signed with SHA-256 or stronger and revoke this one.",
}


@dataclass(frozen=True)
class Thresholds:
    """What the certificate checks treat as expiring or weak (AuditConfig holds them)."""

    expiry_warning_days: int = 30  # Device Defender's default for DEVICE_CERTIFICATE_EXPIRING_CHECK
    min_rsa_bits: int = 2048
    min_ec_bits: int = 256
    weak_hashes: frozenset[str] = frozenset({"SHA1", "MD5"})


def certificate_findings(
    certificate: dict[str, Any], ca_certificate_id: str, details, now: datetime, thresholds: Thresholds
) -> list[dict]:
    """Findings from what a certificate's PEM says (an x509.Details), for a certificate of a listing page."""
    if certificate.get("status") not in CONNECTING_STATUSES:
        return []
    found = []
    not_after = datetime.fromtimestamp(details.not_after, UTC)
    days_left = (not_after - now).days
    if not_after <= now:
        if certificate["status"] == "ACTIVE":  # a pending transfer cannot connect yet: not "can no longer"
            found.append(
                (
                    DEVICE_EXPIRED,
                    "HIGH",
                    f"ACTIVE certificate expired on {iso_utc(not_after)}: the device can no longer connect.",
                )
            )
    elif days_left <= thresholds.expiry_warning_days:
        found.append(
            (
                DEVICE_EXPIRING,
                "MEDIUM",
                f"Certificate expires on {iso_utc(not_after)}, in {days_left} days (warning at "
                f"{thresholds.expiry_warning_days}): after that the device cannot connect.",
            )
        )
    minimum = {"RSA": thresholds.min_rsa_bits, "EC": thresholds.min_ec_bits, "DSA": thresholds.min_rsa_bits}
    if details.key_type in minimum and details.key_size < minimum[details.key_type]:
        found.append(
            (
                WEAK_KEY,
                "HIGH",
                f"{details.key_type} key of {details.key_size} bits, under the {minimum[details.key_type]}-bit "
                "minimum: it may be broken within the device's lifetime.",
            )
        )
    if details.signature_hash in thresholds.weak_hashes:
        found.append(
            (
                WEAK_SIGNATURE,
                "MEDIUM",
                f"Certificate is signed with {details.signature_hash}, a hash with practical collisions.",
            )
        )
    findings = []
    for kind, severity, reason in found:
        finding = _finding(kind, ca_certificate_id, certificate, severity, reason)
        finding.update(
            notAfter=iso_utc(not_after),
            daysToExpiry=days_left,
            keyType=details.key_type,
            keySize=details.key_size,
            signatureHash=details.signature_hash,
            remediation=REMEDIATION[kind],
        )
        findings.append(finding)
    return findings
