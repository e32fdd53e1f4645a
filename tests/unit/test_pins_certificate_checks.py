"""The findings of the certificate checks (issue 13) as a subscriber reads them, every field written
out (issue 9, mutation run): type, severity, reason and remediation of an expired, an expiring, a
weak-key and a weak-signature certificate, with the facts of the PEM they were found from.
"""

from __future__ import annotations

from cert_audit.findings import Thresholds, certificate_findings
from tests.unit.test_certificate_checks import CA, NOW, certificate, details

CERTIFICATE = {
    "caCertificateId": CA,
    "certificateArn": "arn:aws:iot:us-east-1:123456789012:cert/" + "c" * 64,
    "certificateId": "c" * 64,
    "certificateMode": "DEFAULT",
    "creationDate": "2026-08-22T12:00:00Z",
}


def test_an_expired_rsa_1024_sha1_certificate_has_three_findings_in_full():
    # Given an ACTIVE certificate that expired 2 days ago, with a 1024-bit RSA key, signed with SHA-1
    pem = details(days_left=-2, key_type="RSA", key_size=1024, signature_hash="SHA1")

    # When it is checked
    found = certificate_findings(certificate(), CA, pem, NOW, Thresholds())

    # Then it is expired (HIGH), its key is weak (HIGH) and its signature weak (MEDIUM), each with the PEM's facts
    facts = {
        **CERTIFICATE,
        "status": "ACTIVE",
        "notAfter": "2026-11-28T12:00:00Z",
        "daysToExpiry": -2,
        "keyType": "RSA",
        "keySize": 1024,
        "signatureHash": "SHA1",
    }
    assert found == [
        {
            **facts,
            "type": "DEVICE_CERTIFICATE_EXPIRED",
            "severity": "HIGH",
            "reason": "ACTIVE certificate expired on 2026-11-28T12:00:00Z: the device can no longer connect.",
            "remediation": "Issue the device a new certificate "
            "(or revoke and delete this one if the device is retired).",
        },
        {
            **facts,
            "type": "WEAK_KEY",
            "severity": "HIGH",
            "reason": "RSA key of 1024 bits, under the 2048-bit minimum: "
            "it may be broken within the device's lifetime.",
            "remediation": "Rotate the device to a new key pair (RSA 2048+ or EC P-256+) and revoke this certificate.",
        },
        {
            **facts,
            "type": "WEAK_SIGNATURE",
            "severity": "MEDIUM",
            "reason": "Certificate is signed with SHA1, a hash with practical collisions.",
            "remediation": "Re-issue the certificate signed with SHA-256 or stronger and revoke this one.",
        },
    ]


def test_an_expiring_certificate_with_a_dsa_key_is_held_to_the_rsa_minimum():
    # Given a certificate pending transfer that expires in 10 days, with a 1024-bit DSA key
    pem = details(days_left=10.5, key_type="DSA", key_size=1024)

    # When it is checked
    found = certificate_findings(certificate("PENDING_TRANSFER"), CA, pem, NOW, Thresholds())

    # Then it is expiring (MEDIUM) and its key is weak by the RSA minimum (HIGH)
    facts = {
        **CERTIFICATE,
        "status": "PENDING_TRANSFER",
        "notAfter": "2026-12-11T00:00:00Z",
        "daysToExpiry": 10,
        "keyType": "DSA",
        "keySize": 1024,
        "signatureHash": "SHA256",
    }
    assert found == [
        {
            **facts,
            "type": "DEVICE_CERTIFICATE_EXPIRING",
            "severity": "MEDIUM",
            "reason": "Certificate expires on 2026-12-11T00:00:00Z, in 10 days (warning at 30): "
            "after that the device cannot connect.",
            "remediation": "Issue and deliver the successor certificate before it expires; devices that cannot "
            "renew in the field need it most.",
        },
        {
            **facts,
            "type": "WEAK_KEY",
            "severity": "HIGH",
            "reason": "DSA key of 1024 bits, under the 2048-bit minimum: "
            "it may be broken within the device's lifetime.",
            "remediation": "Rotate the device to a new key pair (RSA 2048+ or EC P-256+) and revoke this certificate.",
        },
    ]


def test_a_dsa_key_at_the_rsa_minimum_is_not_weak():
    # Given a 2048-bit DSA key on a certificate far from expiry, When it is checked, Then nothing is found
    pem = details(key_type="DSA", key_size=2048)
    assert certificate_findings(certificate(), CA, pem, NOW, Thresholds()) == []
