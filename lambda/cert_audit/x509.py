"""What a device certificate's PEM says about itself: key type and size, signature hash, validity, issuer.

Parsed with `cryptography` (never by hand). In the function it comes from the public Powertools
layer, which is built with `aws-lambda-powertools[all]` and so ships `cryptography`; nothing is
bundled into the asset. These facts never change for a certificate, which is why the inventory
(inventory.py) caches them: DescribeCertificate is asked once per certificate, ever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

try:
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
except ImportError as missing:  # a deployment without the layer's [all] extra: the inventory says so
    x509 = None
    MISSING = f"{missing}; the function gets cryptography from the Powertools layer, the CLI with `pip install .`"
else:
    MISSING = None

UNKNOWN = "UNKNOWN"


class UnreadablePem(ValueError):
    """The PEM is not an X.509 certificate `cryptography` can read; the message says why."""


@dataclass(frozen=True)
class Details:
    """The parsed facts of one certificate. Times are epoch seconds (UTC), as the cache stores them."""

    key_type: str  # RSA, EC, ED25519, ED448, DSA, or UNKNOWN
    key_size: int  # bits (an EC key: its curve's size)
    signature_hash: str  # SHA256, SHA1, MD5...; NONE for Ed25519/Ed448 (no separate hash); UNKNOWN
    not_before: int
    not_after: int
    issuer: str  # RFC 4514


def _key(certificate: x509.Certificate) -> tuple[str, int]:
    try:
        key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return UNKNOWN, 0
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ED25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "ED448", 456
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    return UNKNOWN, 0


def _signature_hash(certificate: x509.Certificate) -> str:
    try:
        algorithm = certificate.signature_hash_algorithm
    except UnsupportedAlgorithm:  # a hash cryptography does not know (MD2, say): say so, do not guess
        return UNKNOWN
    return algorithm.name.upper().replace("-", "") if algorithm else "NONE"


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def parse_pem(pem: str) -> Details:
    """The details of the first certificate in `pem`; raises UnreadablePem if there is none."""
    if not isinstance(pem, str) or "-----BEGIN CERTIFICATE-----" not in pem:
        raise UnreadablePem("no PEM certificate block")
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
        key_type, key_size = _key(certificate)
        return Details(
            key_type=key_type,
            key_size=key_size,
            signature_hash=_signature_hash(certificate),
            not_before=_epoch(certificate.not_valid_before_utc),
            not_after=_epoch(certificate.not_valid_after_utc),
            issuer=certificate.issuer.rfc4514_string(),
        )
    except (ValueError, TypeError) as error:
        raise UnreadablePem(f"not a readable X.509 certificate: {error}") from error
