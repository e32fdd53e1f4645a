"""The inventory's checks (issue 13): expiry, weak key and weak signature of a device certificate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cert_audit.findings import (
    DEVICE_EXPIRED,
    DEVICE_EXPIRING,
    FINDING_TYPES,
    WEAK_KEY,
    WEAK_SIGNATURE,
    Thresholds,
    certificate_findings,
    finding_id,
)
from cert_audit.x509 import Details

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CA = "a" * 64


def details(*, days_left: float = 400, key_type="EC", key_size=256, signature_hash="SHA256") -> Details:
    not_after = int((NOW + timedelta(days=days_left)).timestamp())
    return Details(key_type, key_size, signature_hash, not_after - 10**7, not_after, "CN=CA")


def certificate(status="ACTIVE") -> dict:
    return {
        "certificateId": "c" * 64,
        "certificateArn": "arn:aws:iot:us-east-1:123456789012:cert/" + "c" * 64,
        "status": status,
        "certificateMode": "DEFAULT",
        "creationDate": NOW - timedelta(days=100),
    }


def kinds(found: list[dict]) -> list[str]:
    return [finding["type"] for finding in found]


def test_the_new_types_are_finding_types():
    # Given the inventory's four types, Then each is a finding type (byType, metrics, suppressions list them)
    assert {DEVICE_EXPIRED, DEVICE_EXPIRING, WEAK_KEY, WEAK_SIGNATURE} <= set(FINDING_TYPES)


@pytest.mark.parametrize(
    "days_left, status, expected",
    [
        (10, "ACTIVE", [DEVICE_EXPIRING]),
        (30.5, "ACTIVE", [DEVICE_EXPIRING]),  # 30 whole days left: at the warning, included
        (31.5, "ACTIVE", []),
        (10, "PENDING_TRANSFER", [DEVICE_EXPIRING]),
        (-1, "ACTIVE", [DEVICE_EXPIRED]),
        (-1, "PENDING_TRANSFER", []),  # it never connected: not "can no longer"
        (10, "REVOKED", []),
        (-1, "INACTIVE", []),
    ],
)
def test_expiry_by_days_left_and_status(days_left, status, expected):
    # Given a certificate with that many days left, in that status
    # When it is checked with the default 30-day warning
    found = certificate_findings(certificate(status), CA, details(days_left=days_left), NOW, Thresholds())
    # Then it is expiring, expired or fine
    assert kinds(found) == expected


def test_expired_is_high_and_says_what_to_do():
    # Given an ACTIVE certificate that expired yesterday
    [finding] = certificate_findings(certificate(), CA, details(days_left=-1), NOW, Thresholds())
    # Then the finding is HIGH, dated, and carries a reason and a remediation line
    assert finding["severity"] == "HIGH"
    assert finding["notAfter"] == "2026-11-29T12:00:00Z"
    assert finding["daysToExpiry"] == -1
    assert "can no longer connect" in finding["reason"]
    assert finding["remediation"].startswith("Issue the device a new certificate")


@pytest.mark.parametrize(
    "key_type, key_size, thresholds, weak",
    [
        ("RSA", 1024, Thresholds(), True),
        ("RSA", 2048, Thresholds(), False),
        ("RSA", 2048, Thresholds(min_rsa_bits=3072), True),
        ("EC", 256, Thresholds(), False),
        ("EC", 256, Thresholds(min_ec_bits=384), True),
        ("EC", 224, Thresholds(), True),
        ("ED25519", 256, Thresholds(min_ec_bits=384), False),  # no configurable size: never "weak" here
    ],
)
def test_weak_keys_by_configurable_thresholds(key_type, key_size, thresholds, weak):
    found = certificate_findings(certificate(), CA, details(key_type=key_type, key_size=key_size), NOW, thresholds)
    assert kinds(found) == ([WEAK_KEY] if weak else [])
    if weak:
        assert found[0]["severity"] == "HIGH"
        assert f"{key_type} key of {key_size} bits" in found[0]["reason"]


@pytest.mark.parametrize(
    "signature_hash, thresholds, weak",
    [
        ("SHA1", Thresholds(), True),
        ("MD5", Thresholds(), True),
        ("SHA256", Thresholds(), False),
        ("SHA1", Thresholds(weak_hashes=frozenset()), False),
        ("SHA256", Thresholds(weak_hashes=frozenset({"SHA256"})), True),
    ],
)
def test_weak_signatures_by_configurable_hashes(signature_hash, thresholds, weak):
    found = certificate_findings(certificate(), CA, details(signature_hash=signature_hash), NOW, thresholds)
    assert kinds(found) == ([WEAK_SIGNATURE] if weak else [])


def test_one_certificate_can_have_every_problem_each_with_its_own_identity():
    # Given an ACTIVE RSA-1024 SHA-1 certificate expiring in 10 days
    found = certificate_findings(
        certificate(),
        CA,
        details(days_left=10, key_type="RSA", key_size=1024, signature_hash="SHA1"),
        NOW,
        Thresholds(),
    )
    # Then three findings, each with its own findingId (type is part of the identity)
    assert kinds(found) == [DEVICE_EXPIRING, WEAK_KEY, WEAK_SIGNATURE]
    assert len({finding_id("123456789012", "us-east-1", f) for f in found}) == 3
    assert all(f["caCertificateId"] == CA and f["certificateId"] == "c" * 64 for f in found)


@pytest.mark.parametrize(
    "entry, suppressed",
    [
        ({"type": WEAK_KEY, "certificateId": "c" * 64}, [WEAK_KEY]),
        ({"type": WEAK_SIGNATURE, "caCertificateId": CA}, [WEAK_SIGNATURE]),
        ({"caCertificateId": CA}, [DEVICE_EXPIRING, WEAK_KEY, WEAK_SIGNATURE]),
        ({"certificateId": "c" * 64, "type": DEVICE_EXPIRED}, []),
    ],
)
def test_suppressions_by_type_ca_and_certificate_take_the_new_types(entry, suppressed):
    # Given the three findings of one certificate and a suppression naming a new type, a CA or the certificate
    from cert_audit.suppressions import apply_suppressions, parse_suppressions

    found = certificate_findings(
        certificate(),
        CA,
        details(days_left=10, key_type="RSA", key_size=1024, signature_hash="SHA1"),
        NOW,
        Thresholds(),
    )
    # When it is parsed (a type it did not know would be refused) and applied
    kept, quiet = apply_suppressions(found, parse_suppressions([{**entry, "reason": "accepted (SEC-1)"}]), NOW)
    # Then exactly the findings it names are suppressed
    assert kinds(quiet) == suppressed
    assert len(kept) + len(quiet) == 3
