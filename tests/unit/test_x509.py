"""Real X.509 device certificates (made with `cryptography` by the emulator) read by cert_audit.x509."""

from __future__ import annotations

import importlib.metadata
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from cert_audit.emulator import device_certificate_pem
from cert_audit.x509 import UnreadablePem, parse_pem

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.mark.parametrize(
    "key_type, key_size, signature_hash",
    [
        ("RSA", 1024, "SHA256"),
        ("RSA", 2048, "SHA256"),
        ("RSA", 2048, "SHA1"),
        ("EC", 256, "SHA256"),
        ("EC", 384, "SHA256"),
    ],
)
def test_key_and_signature_are_read_from_the_certificate(key_type, key_size, signature_hash):
    # Given a real certificate with that key and signature hash
    pem = device_certificate_pem(
        NOW + timedelta(days=10), key_type=key_type, key_size=key_size, signature_hash=signature_hash
    )

    # When it is parsed
    details = parse_pem(pem)

    # Then the key type, its size and the signature's hash are the certificate's
    assert (details.key_type, details.key_size, details.signature_hash) == (key_type, key_size, signature_hash)


def test_validity_and_issuer_are_the_certificates():
    # Given a certificate valid from two days ago until yesterday, issued by "Fleet CA 2"
    not_before, not_after = NOW - timedelta(days=2), NOW - timedelta(days=1)
    pem = device_certificate_pem(not_after, not_before=not_before, issuer="Fleet CA 2")

    # When it is parsed
    details = parse_pem(pem)

    # Then its validity (epoch seconds) and issuer are what it says
    assert details.not_before == int(not_before.timestamp())
    assert details.not_after == int(not_after.timestamp())
    assert details.issuer == "CN=Fleet CA 2"


@pytest.mark.parametrize(
    "pem",
    ["", "-----DEVICE abc 1-----", "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", None],
)
def test_what_is_not_a_certificate_is_unreadable_not_a_crash(pem):
    # Given a PEM that is not an X.509 certificate, When it is parsed, Then UnreadablePem says so
    with pytest.raises(UnreadablePem):
        parse_pem(pem)


def test_sha1_certificate_is_a_valid_signature_not_just_a_label():
    # Given a SHA-1 certificate made by the emulator
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    certificate = x509.load_pem_x509_certificate(
        device_certificate_pem(NOW + timedelta(days=1), key_type="RSA", key_size=2048, signature_hash="SHA1").encode()
    )

    # When its signature is checked with its own (self-made) key, Then it verifies under SHA-1
    certificate.public_key().verify(
        certificate.signature, certificate.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA1()
    )


def test_the_pinned_cryptography_is_the_one_the_powertools_layer_ships():
    # Given the function reads PEMs with cryptography from the public Powertools layer, which is
    # built from aws-lambda-powertools[all] (layer_v3: include_extras=True) at the pinned version
    [line] = [line for line in Path("requirements.txt").read_text().splitlines() if line.startswith("cryptography==")]
    pinned = Requirement(line).specifier
    # When the layer's requirement on cryptography is read from Powertools' own metadata
    [layer_requirement] = [
        Requirement(r)
        for r in importlib.metadata.requires("aws-lambda-powertools")
        if r.startswith("cryptography") and 'extra == "all"' in r.replace("'", '"')
    ]
    # Then the version the tests run is one the layer can hold
    [version] = [spec.version for spec in pinned]
    assert layer_requirement.specifier.contains(version)
